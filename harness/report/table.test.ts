import { expect } from "chai";
import { formatTable, HEADER, resultRow } from "./table";
import { phase, scenarioResult } from "./testkit";

const column = (row: string[], name: string): string => row[HEADER.indexOf(name)];

describe("report/table", () => {
  describe("resultRow", () => {
    it("gives one cell per header column, with delivery as percentages and times in seconds", () => {
      const row = resultRow(scenarioResult());
      expect(row).to.deep.equal(["ctcp-builtin", "ctcp", "full-proxy/builtin", "fails", "fails", "100.0%", "75.0%", "0.0%", "4.32s", "9.88s", "ok"]);
      expect(row).to.have.length(HEADER.length);
    });

    it("names the implementation beside the transport unless it is the reference one", () => {
      expect(column(resultRow(scenarioResult({ transport: "natt", impl: "strongswan" })), "transport")).to.equal("natt/strongswan");
      expect(column(resultRow(scenarioResult({ transport: "natt", impl: "reference" })), "transport")).to.equal("natt");
    });

    it("shows the firewall mode alone when there is no proxy", () => {
      expect(column(resultRow(scenarioResult({ firewallMode: "stateful", proxy: undefined })), "firewall")).to.equal("stateful");
      expect(column(resultRow(scenarioResult({ proxy: "haproxy" })), "firewall")).to.equal("full-proxy/haproxy");
    });

    it("puts '-' where a number is missing: no verdict, a phase not run, nothing sent, never down", () => {
      const row = resultRow(
        scenarioResult({ verdict: undefined, phases: [phase("baseline", 0, 0)], tunnel: {}, outcome: "lab-error", passed: false }),
      );
      expect(column(row, "verdict")).to.equal("-");
      expect(column(row, "baseline"), "nothing sent: NaN delivery").to.equal("-");
      expect(column(row, "chaos")).to.equal("-");
      expect(column(row, "recovery")).to.equal("-");
      expect(column(row, "dpd-down")).to.equal("-");
    });

    it("the earlier of the two DPD downs is the one shown", () => {
      const row = resultRow(scenarioResult({ tunnel: { clientDownAtMs: 5000, headendDownAtMs: 4000 } }));
      expect(column(row, "dpd-down")).to.equal("4.00s");
    });

    it("result: LAB-ERROR for a lab error (even if marked passed), MISMATCH for a wrong verdict, ok otherwise", () => {
      expect(column(resultRow(scenarioResult({ outcome: "lab-error", passed: true })), "result")).to.equal("LAB-ERROR");
      expect(column(resultRow(scenarioResult({ verdict: "survives", passed: false })), "result")).to.equal("MISMATCH");
      expect(column(resultRow(scenarioResult({ passed: true })), "result")).to.equal("ok");
    });

    it("rounds percentages to one decimal", () => {
      const row = resultRow(scenarioResult({ phases: [phase("baseline", 3, 2), phase("chaos", 3, 1), phase("recovery", 1000, 999)] }));
      expect([column(row, "baseline"), column(row, "chaos"), column(row, "recovery")]).to.deep.equal(["66.7%", "33.3%", "99.9%"]);
    });
  });

  describe("formatTable", () => {
    it("aligns every column under its header, two spaces apart, without trailing blanks", () => {
      const rows = [resultRow(scenarioResult()), resultRow(scenarioResult({ variant: "natt", transport: "natt", firewallMode: "route", proxy: undefined, verdict: "survives", expect: "survives" }))];
      const lines = formatTable(rows).split("\n");
      expect(lines).to.have.length(3);
      expect(lines[0].startsWith("variant       transport")).to.equal(true, lines[0]); // "ctcp-builtin" is 12 wide
      // every cell of every row starts where its header starts
      const starts = HEADER.map((h) => lines[0].indexOf(h));
      for (const [r, line] of lines.slice(1).entries()) {
        rows[r].forEach((cell, i) => expect(line.slice(starts[i], starts[i] + cell.length), `row ${r} column ${HEADER[i]}: ${line}`).to.equal(cell));
      }
      for (const line of lines) expect(line).to.equal(line.trimEnd());
    });

    it("widens a column to its longest cell and pads the rest", () => {
      const text = formatTable([["a-long-cell", "x"], ["b", "yy"]], ["h1", "h2"]);
      expect(text).to.equal(["h1           h2", "a-long-cell  x", "b            yy"].join("\n"));
    });

    it("a row shorter than the header leaves the missing cells blank", () => {
      expect(formatTable([["only"]], ["one", "two"])).to.equal("one   two\nonly");
    });
  });
});
