import { expect } from "chai";
import type { ScenarioResult } from "../scenario";
import { cellLabel, cellVerdict, sweepReport, tolerance } from "./sweep";
import { renderSweepChart } from "./sweep-chart";

const run = (verdict: "survives" | "fails" | "degraded" | undefined): Pick<ScenarioResult, "outcome" | "verdict"> => (verdict ? { outcome: "verdict", verdict } : { outcome: "lab-error" });
const pct = (v: number) => `${v}%`;

describe("report/sweep: cells, tolerance, table, chart", () => {
  it("a cell is its runs' verdict when they agree, mixed when not, lab-error when one was", () => {
    expect(cellVerdict([run("fails")])).to.equal("fails");
    expect(cellVerdict([run("survives"), run("survives")])).to.equal("survives");
    expect(cellVerdict([run("survives"), run("fails"), run("survives")])).to.equal("mixed");
    expect(cellLabel([run("survives"), run("fails"), run("survives")])).to.equal("2/3 survive");
    expect(cellLabel([run("fails"), run("fails")])).to.equal("fails 2/2");
    expect(cellVerdict([run("survives"), run(undefined)])).to.equal("lab-error");
  });

  it("tolerance: the last value before the first non-survival, and what happens from there", () => {
    const v = [0, 1, 2, 5, 10];
    expect(tolerance(v, ["survives", "survives", "survives", "fails", "fails"], pct).text).to.equal("survives up to 2%, fails from 5%");
    expect(tolerance(v, ["survives", "survives", "survives", "survives", "survives"], pct)).to.deep.equal({ survivesUpTo: 10, text: "survives every value (up to 10%)" });
    expect(tolerance(v, ["fails", "fails", "fails", "fails", "fails"], pct).text).to.equal("fails from 0%");
    expect(tolerance(v, ["survives", "degraded", "survives", "fails", "fails"], pct)).to.deep.equal({
      survivesUpTo: 0, firstNot: { value: 1, verdict: "degraded" }, text: "survives up to 0%, degraded from 1% (survives again at 2%)",
    });
    expect(tolerance(v, ["survives", "mixed", "fails", "fails", "fails"], pct).text).to.equal("survives up to 0%, not always survives from 1%");
  });

  it("tolerance on an axis where lower is harsher (rate, every): values mildest first, 'down to'", () => {
    const kbit = (v: number) => `${v}kbit`;
    // rate 2000/500/100kbit (the CLI's severity order) surviving, surviving, failing
    expect(tolerance([2000, 500, 100], ["survives", "survives", "fails"], kbit, "lower").text).to.equal("survives down to 500kbit, fails from 100kbit");
    expect(tolerance([2000, 500, 100], ["survives", "survives", "survives"], kbit, "lower").text).to.equal("survives every value (down to 100kbit)");
    const every = (v: number) => (v === 0 ? "none" : `every ${v}`);
    expect(tolerance([0, 50, 5, 2], ["survives", "survives", "fails", "fails"], every, "lower")).to.deep.equal({
      survivesUpTo: 50, firstNot: { value: 5, verdict: "fails" }, text: "survives down to every 50, fails from every 5",
    });
    expect(tolerance([0, 20], ["survives", "fails"], every, "lower").text).to.equal("survives only at none, fails from every 20");
  });

  it("a rate sweep's table, JSON and chart columns go mildest first; each run's seed in the table and JSON", () => {
    const timing = { setupMs: 1, tunnelUpMs: 1, scenarioMs: 1, totalMs: 9000 };
    const steps = [{ atMs: 2000, on: { node: "wan", net: "edge" }, fault: { impairment: { rateKbit: 100 } }, line: 1 }];
    const res = (verdict: "survives" | "fails", seed: number) => ({ outcome: "verdict" as const, verdict, reasons: [verdict], labId: "a0000", timing, seed });
    const r = sweepReport(
      { topology: "t", file: "t.yaml", axis: "rate", unit: "kbit", values: [2000, 500, 100], harsher: "lower", fixed: {}, seed: 7, runs: 2, runSeeds: [7, 99] },
      [{ variant: "base", expect: "fails", chaos: steps }],
      [2000, 500, 100].flatMap((value) => [0, 1].map((run) => ({ variant: "base", value, run, result: res(value === 100 ? "fails" : "survives", [7, 99][run]) }))),
    );
    expect(r.table.split("\n")).to.deep.equal([
      "variant  2000kbit      500kbit       100kbit    tolerance",
      "base     survives 2/2  survives 2/2  fails 2/2  survives down to 500kbit, fails from 100kbit",
      "seeds: run 1 7, run 2 99",
    ]);
    expect(r.chart.values).to.deep.equal(["2000kbit", "500kbit", "100kbit"]);
    expect(r.json.harsher).to.equal("lower");
    expect(r.json.runSeeds).to.deep.equal([7, 99]);
    expect(r.json.variants[0].cells[2].runs.map((x) => [x.run, x.seed])).to.deep.equal([[1, 7], [2, 99]]);
  });

  it("the table, the JSON and a chart cell per variant and value, coloured by verdict", () => {
    const timing = { setupMs: 1, tunnelUpMs: 1, scenarioMs: 1, totalMs: 9000 };
    const result = (verdict: "survives" | "fails", labId: string) => ({ outcome: "verdict" as const, verdict, reasons: [verdict], labId, timing });
    const steps = [{ atMs: 2000, on: { node: "wan", net: "edge" }, fault: { impairment: { loss: { kind: "random" as const, percent: 5 } } }, line: 1 }];
    const r = sweepReport(
      { topology: "asa-ips", file: "t.yaml", axis: "loss", unit: "%", values: [0, 5], fixed: {}, runs: 1 },
      [{ variant: "base", expect: "fails", chaos: steps }, { variant: "natt", expect: "survives", chaos: steps }],
      [
        { variant: "base", value: 0, result: result("survives", "a0000") },
        { variant: "base", value: 5, result: result("fails", "a0001") },
        { variant: "natt", value: 0, result: result("survives", "a0002") },
        { variant: "natt", value: 5, result: result("survives", "a0003") },
      ],
    );
    expect(r.table.split("\n")).to.deep.equal([
      "variant  0%        5%        tolerance",
      "base     survives  fails     survives up to 0%, fails from 5%",
      "natt     survives  survives  survives every value (up to 5%)",
    ]);
    expect(r.json.variants.map((v) => [v.variant, v.tolerance.survivesUpTo, v.cells.map((c) => c.runs[0].labId)])).to.deep.equal([["base", 0, ["a0000", "a0001"]], ["natt", 5, ["a0002", "a0003"]]]);
    expect(r.chart.axis).to.equal("loss on wan.edge");
    const svg = renderSweepChart(r.chart);
    const cells = [...svg.matchAll(/data-variant="([^"]+)" data-value="([^"]+)" data-verdict="([^"]+)">.*?fill="(#[0-9a-f]{6})"/g)].map((m) => m.slice(1).join(" "));
    expect(cells).to.deep.equal(["base 0% survives #2e7d32", "base 5% fails #c62828", "natt 0% survives #2e7d32", "natt 5% survives #2e7d32"]);
    expect(svg).to.contain("survives up to 0%, fails from 5%");
  });

  it("names are escaped in the SVG", () => {
    const svg = renderSweepChart({ title: "a<b", axis: "x&y", values: ['1"'], rows: [{ variant: "v<1>", cells: [{ verdict: "fails", label: "fails" }], tolerance: "t" }] });
    expect(svg).to.contain("a&lt;b").and.contain("x&amp;y").and.contain('data-value="1&quot;"').and.contain("v&lt;1&gt;");
    expect(svg).not.to.contain("v<1>");
  });
});
