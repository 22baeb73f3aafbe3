import { expect } from "chai";
import * as path from "node:path";
import { loadTopology, selectScenarios } from "./load";
import * as fc from "fast-check";
import { describeFilter, filterScenarios, parseShard, shardScenarios } from "./select";

const MATRIX = path.join(__dirname, "..", "..", "..", "topologies", "matrix.yaml");

describe("topology/select: filterScenarios", () => {
  const all = selectScenarios(loadTopology(MATRIX), []);
  const names = (f: Parameters<typeof filterScenarios>[1]) => filterScenarios(all, f).map((s) => s.variant);

  it("an empty filter keeps every scenario, in order", () => {
    expect(names({})).to.deep.equal(all.map((s) => s.variant));
    expect(names({ transports: [], modes: [], impls: [] })).to.deep.equal(all.map((s) => s.variant));
  });

  it("one axis: every match and nothing else", () => {
    const esp = names({ transports: ["esp"] });
    expect(esp).to.have.length(6);
    expect(esp.every((n) => n.startsWith("esp-"))).to.equal(true);
    expect(names({ impls: ["strongswan"] })).to.deep.equal(all.filter((s) => s.vpn.impl === "strongswan").map((s) => s.variant)).and.have.length(6);
  });

  it("values of one axis are a union, axes an intersection", () => {
    const got = filterScenarios(all, { transports: ["natt", "anyconnect"], modes: ["full-proxy"], impls: ["reference"] });
    expect(got.map((s) => s.variant)).to.deep.equal(["natt-proxy-loss", "natt-proxy-noloss", "anyconnect-proxy-loss", "anyconnect-proxy-noloss"]);
    for (const s of got) expect([s.vpn.transport, s.firewall?.mode, s.vpn.impl]).to.satisfy(([t, m, i]: string[]) => ["natt", "anyconnect"].includes(t) && m === "full-proxy" && i === "reference");
  });

  it("the failing cell is the base: ctcp through the full proxy", () => {
    const ctcpProxy = names({ transports: ["ctcp"], modes: ["full-proxy"] });
    expect(ctcpProxy).to.deep.equal(["base", "ctcp-proxy-noloss", "ctcp-proxy-bypass-loss"]);
  });

  it("a selection can match nothing", () => {
    expect(names({ transports: ["esp"], impls: ["ocserv"] })).to.deep.equal([]);
  });

  it("a scenario without a firewall matches no --mode", () => {
    const noFw = { ...all[0], firewall: undefined };
    expect(filterScenarios([noFw], { modes: ["route"] })).to.deep.equal([]);
    expect(filterScenarios([noFw], { transports: ["ctcp"] })).to.have.length(1);
  });

  it("describeFilter names the non-empty axes as options", () => {
    expect(describeFilter({ transports: ["esp"], modes: [], impls: ["ocserv", "strongswan"] })).to.equal("--transport esp --impl ocserv,strongswan");
    expect(describeFilter({})).to.equal("");
  });
});

describe("topology/select: --shard I/N", () => {
  const all = selectScenarios(loadTopology(MATRIX), []);
  const keys = (ss: readonly { name: string; variant: string }[]) => ss.map((s) => `${s.name}/${s.variant}`);

  it("parses I/N and refuses what is not a slice", () => {
    expect(parseShard("1/2")).to.deep.equal({ index: 1, count: 2 });
    expect(parseShard(" 3/3 ")).to.deep.equal({ index: 3, count: 3 });
    for (const bad of ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", "-1/2", ""]) expect(() => parseShard(bad), bad).to.throw(/--shard/);
  });

  it("shards 1..N hold every scenario exactly once, differ in size by one at most, keep the file's order (N = 1..50)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.shuffledSubarray(all, { minLength: 0 }), (n, subset) => {
        const slices = Array.from({ length: n }, (_, i) => shardScenarios(subset, { index: i + 1, count: n }));
        const seen = slices.flatMap(keys);
        expect([...seen].sort()).to.deep.equal(keys(subset).sort());
        const sizes = slices.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes), `sizes ${sizes}`).to.be.at.most(1);
        for (const s of slices) {
          const order = keys(subset);
          const idx = keys(s).map((k) => order.indexOf(k));
          expect(idx, "order kept").to.deep.equal([...idx].sort((a, b) => a - b));
        }
      }),
    );
  });

  it("a shard is the same whatever order the scenarios come in", () => {
    const a = keys(shardScenarios(all, { index: 2, count: 3 })).sort();
    const b = keys(shardScenarios([...all].reverse(), { index: 2, count: 3 })).sort();
    expect(a).to.deep.equal(b).and.have.length.greaterThan(10);
  });
});
