// `--shard I/N` as a CI matrix job uses it: the slices `vpnlab check` reports for
// 1/N..N/N cover the file's scenarios exactly once; a bad slice is a usage error.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const MATRIX = path.join(ROOT, "topologies", "matrix.yaml");

function variants(...args: string[]): string[] {
  const r = spawnSync(BIN, ["check", MATRIX, "--json", ...args], { encoding: "utf8" });
  expect(r.status, r.stderr).to.equal(0);
  return (JSON.parse(r.stdout) as { scenarios: { variant: string }[] }).scenarios.map((s) => s.variant);
}

describe("vpnlab --shard I/N", () => {
  it("shards 1/3, 2/3 and 3/3 of the matrix run every scenario exactly once", () => {
    const all = variants();
    const slices = [1, 2, 3].map((i) => variants("--shard", `${i}/3`));
    const union = slices.flat();
    expect([...union].sort(), `slices ${slices.map((s) => s.length)}`).to.deep.equal([...all].sort());
    expect(new Set(union).size).to.equal(all.length);
    for (const s of slices) expect(s.length).to.be.within(Math.floor(all.length / 3), Math.ceil(all.length / 3));
  });

  it("applies after --transport/--mode/--impl: the slices of a selection cover that selection", () => {
    const sel = variants("--transport", "esp");
    const union = [...variants("--transport", "esp", "--shard", "1/2"), ...variants("--transport", "esp", "--shard", "2/2")];
    expect(union.sort()).to.deep.equal([...sel].sort());
  });

  it("refuses a slice that does not exist, exit 2, naming it", () => {
    const r = spawnSync(BIN, ["check", MATRIX, "--shard", "3/2"], { encoding: "utf8" });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain("--shard 3/2");
    expect(r.stdout).to.equal("");
  });
});
