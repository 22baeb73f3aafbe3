import { expect } from "chai";
import { PhaseStates } from "./phase-state";

describe("phase-state: the daemons' state at each phase end", () => {
  it("takes it at each phase end, in phase order, recording a failure instead of throwing", async () => {
    let n = 0;
    const read = async (): Promise<Record<string, string>> => {
      n++;
      if (n === 2) throw new Error("occtl: socket gone\nmore");
      return { "charon-client": `sas ${n}` };
    };
    const start = Date.now();
    const s = new PhaseStates(read, start);
    s.now("recovery"); // n = 1
    s.now("chaos"); // n = 2: fails
    s.at("baseline", start); // already due
    await new Promise((r) => setTimeout(r, 20));
    const got = await s.all();
    expect(got.map((g) => g.phase)).to.deep.equal(["baseline", "chaos", "recovery"]);
    expect(got[0].state).to.deep.equal({ "charon-client": "sas 3" });
    expect(got[1]).to.include({ error: "occtl: socket gone" });
    expect(got[1].state).to.equal(undefined);
    expect(got[2].state).to.deep.equal({ "charon-client": "sas 1" });
    for (const g of got) expect(g.atMs).to.be.at.least(0);
  });

  it("takes nothing for an implementation without state(), and drops a phase end not reached", async () => {
    const none = new PhaseStates(undefined, Date.now());
    none.now("baseline");
    none.at("chaos", Date.now());
    expect(await none.all()).to.deep.equal([]);
    let calls = 0;
    const s = new PhaseStates(async () => ({ x: String(++calls) }), Date.now());
    s.at("recovery", Date.now() + 60_000); // the scenario ended before
    expect(await s.all()).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).to.equal(0);
  });
});
