// `vpnlab sweep` as a user runs it: asa-ips' base (cTCP behind the full proxy)
// and natt over loss 0 and 5 %: base survives no loss and fails at 5 %, NAT-T
// survives both — in the table, the JSON and the chart's cells. Bad sweeps are
// refused before any lab is built.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { mixSeed } from "../harness/impair/fault";
import { suiteTmp } from "./host";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");

function vpnlab(args: string[]): { code: number; stdout: string; stderr: string; all: string } {
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 300000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, all: `exit ${r.status}\n${r.stdout}${r.stderr}` };
}

interface SweepJson {
  axis: string;
  values: number[];
  runSeeds?: number[];
  variants: { variant: string; tolerance: { survivesUpTo?: number; text: string }; cells: { value: number; verdict: string; runs: { reasons: string[]; run?: number; seed?: number }[] }[] }[];
}

describe("vpnlab sweep", function () {
  this.timeout(300000);

  it("asa-ips base and natt over loss 0,5: base survives 0 and fails at 5, natt survives both — table, JSON and chart", () => {
    const out = fs.mkdtempSync(path.join(suiteTmp(), "sweep-"));
    const r = vpnlab(["sweep", TOPO, "-v", "base,natt", "--loss", "0,5", "-j", "4", "--runtime", "netns", "--out", out]);
    expect(r.code, r.all).to.equal(0);
    const doc = JSON.parse(fs.readFileSync(path.join(out, "asa-ips-loss.json"), "utf8")) as SweepJson;
    const verdicts = Object.fromEntries(doc.variants.map((v) => [v.variant, v.cells.map((c) => `${c.value}:${c.verdict}`)]));
    const why = doc.variants.map((v) => v.cells.map((c) => `${v.variant} at ${c.value}%: ${c.verdict} — ${c.runs[0]?.reasons.join("; ")}`).join("\n")).join("\n");
    expect(verdicts, why).to.deep.equal({ base: ["0:survives", "5:fails"], natt: ["0:survives", "5:survives"] });
    expect(r.stdout.split("\n").slice(0, 3), r.all).to.deep.equal([
      "variant  0%        5%        tolerance",
      "base     survives  fails     survives up to 0%, fails from 5%",
      "natt     survives  survives  survives every value (up to 5%)",
    ]);
    const svg = fs.readFileSync(path.join(out, "asa-ips-loss.svg"), "utf8");
    const cells = [...svg.matchAll(/data-variant="([^"]+)" data-value="([^"]+)" data-verdict="([^"]+)"/g)].map((m) => m.slice(1).join(" "));
    expect(cells).to.deep.equal(["base 0% survives", "base 5% fails", "natt 0% survives", "natt 5% survives"]);
  });

  it("natt over every 50,0 (lower is harsher: none first), 2 seeded runs per cell: each run its own seed, in the table and the JSON", () => {
    const out = fs.mkdtempSync(path.join(suiteTmp(), "sweep-"));
    const r = vpnlab(["sweep", TOPO, "-v", "natt", "--every", "50,0", "--runs", "2", "--seed", "7", "-j", "4", "--runtime", "netns", "--out", out]);
    expect(r.code, r.all).to.equal(0);
    const doc = JSON.parse(fs.readFileSync(path.join(out, "asa-ips-every.json"), "utf8")) as SweepJson;
    const second = mixSeed(7, 1);
    expect(doc.values, r.all).to.deep.equal([0, 50]);
    expect(doc.runSeeds, r.all).to.deep.equal([7, second]);
    expect(doc.variants[0].cells.map((c) => c.runs.map((x) => `${x.run}:${x.seed}`)), r.all).to.deep.equal([[`1:7`, `2:${second}`], [`1:7`, `2:${second}`]]);
    const lines = r.stdout.split("\n");
    expect(lines[0], r.all).to.match(/^variant\s+none\s+every 50\s+tolerance$/);
    expect(lines[1], r.all).to.match(/^natt\s.*(survives every value \(down to every 50\)|from (none|every 50))/);
    expect(lines[2], r.all).to.equal(`seeds: run 1 7, run 2 ${second}`);
  });

  it("a bad sweep is refused, exit 2, before any lab", () => {
    const cases: [string[], RegExp][] = [
      [["sweep", TOPO, "-v", "natt"], /give the impairment to sweep with its values, e\.g\. --loss 0,1,2,5,10,20/],
      [["sweep", TOPO, "-v", "natt", "--loss", "0,5", "--delay", "0,10ms"], /sweep one impairment at a time: --loss and --delay both have lists/],
      [["sweep", TOPO, "-v", "natt", "--loss", "0,500"], /--loss 500: must be a percent in 0\.\.100/],
      [["sweep", TOPO, "-v", "nope", "--loss", "0,5"], /nope/],
      [["sweep", TOPO, "-v", "natt", "--loss", "0,5", "--match", "proto=tcp"], /Unknown argument: match/],
    ];
    for (const [args, re] of cases) {
      const r = vpnlab(args);
      expect(r.code, `${args.join(" ")}: ${r.all}`).to.equal(2);
      expect(r.stderr, args.join(" ")).to.match(re);
      expect(r.stderr, "no lab was run").not.to.match(/^sweep asa-ips:/m);
    }
  });
});
