import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { mixSeed } from "../impair/fault";
import { loadTopology } from "../topology/load";
import { PACKAGE_ROOT } from "../host/paths";
import { UsageError, parseSeedOption, seeded } from "./command";
import { seedText } from "./summary";

const FAULTS = path.join(PACKAGE_ROOT, "harness/topology/fixtures/good/faults.yaml");

describe("--seed: replaying a run", () => {
  it("takes a whole number 0..4294967295 (the last one given), nothing else", () => {
    expect([parseSeedOption("0"), parseSeedOption("4294967295"), parseSeedOption(["1", " 7 "])]).to.deep.equal([0, 4294967295, 7]);
    for (const bad of ["-1", "4294967296", "1.5", "0x10", "", "seven", "1e3"]) {
      expect(() => parseSeedOption(bad), bad).to.throw(UsageError, /--seed needs a whole number from 0 to 4294967295/);
    }
  });
  it("wins over the file's seed for every step without its own; without it the file's seed stays", () => {
    const t = loadTopology(FAULTS);
    expect(seeded([t.base], undefined)[0]).to.equal(t.base);
    const s = seeded([t.base, t.variants.get("unseeded")!], 9);
    expect(s.map((x) => x.seed)).to.deep.equal([9, 9]);
    expect(s.map((x) => x.chaos[0].fault?.seed)).to.deep.equal([mixSeed(9, 0), mixSeed(9, 0)]);
    expect(s.map((x) => x.chaos[1].fault?.seed), "a step's own seed: stays").to.deep.equal([7, 7]);
  });
  it("the summary line names the seed to replay with, each variant's when they differ, nothing when unseeded", () => {
    expect(seedText([{ variant: "base" }])).to.equal("");
    expect(seedText([{ variant: "base", seed: 7 }, { variant: "natt", seed: 7 }])).to.equal("; seed 7 — replay with --seed 7");
    expect(seedText([{ variant: "base", seed: 7 }, { variant: "natt" }, { variant: "esp", seed: 8 }])).to.equal("; seeds base 7, esp 8 — replay one with --variant NAME --seed N");
  });
  it("vpnlab check --seed N shows the expanded timeline with each step's seed", () => {
    const bin = path.join(PACKAGE_ROOT, "bin/vpnlab");
    const r = spawnSync(process.execPath, [bin, "check", FAULTS, "-v", "base", "--seed", "9", "--json"], { encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(0);
    const d = JSON.parse(r.stdout) as { scenarios: { seed: number; chaos: { seed?: number; schedule?: string }[] }[] };
    expect(d.scenarios[0].seed).to.equal(9);
    expect(d.scenarios[0].chaos.slice(0, 3).map((c) => c.seed)).to.deep.equal([mixSeed(9, 0), 7, mixSeed(9, 2)]);
    expect(d.scenarios[0].chaos.filter((c) => c.schedule?.startsWith("flap")).length).to.equal(4);
    const bad = spawnSync(process.execPath, [bin, "check", FAULTS, "--seed", "x"], { encoding: "utf8" });
    expect([bad.status, bad.stderr]).to.satisfy(([code, err]: [number, string]) => code === 2 && /--seed needs a whole number/.test(err), bad.stderr);
  });
});
