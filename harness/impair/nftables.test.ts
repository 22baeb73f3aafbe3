import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { run } from "../exec";
import { type Impairment, ImpairmentUnsupported, InvalidImpairment } from "./impairment";
import { nftDeleteTable, nftDropRules, nftLossRuleset, nftReplaceScript, nftTableName, nftUnsupported } from "./nftables";
import { isRoot, netnsExec } from "./testkit";

const rules = (imp: Impairment): string[] => nftDropRules("edge", imp);

describe("impair/nftables", () => {
  it("names the table per device", () => {
    expect(nftTableName("edge")).to.equal("vpnlab_impair_edge");
    expect(nftTableName("wan.edge-1")).to.equal("vpnlab_impair_wan.edge-1");
    expect(nftTableName("a@b+c")).to.equal("vpnlab_impair_a_b_c");
  });

  it("builds an inet table with a filter chain at postrouting, priority 0", () => {
    expect(nftLossRuleset("vpnlab_impair_edge", "edge", { loss: { kind: "random", percent: 30 } })).to.equal(
      [
        "table inet vpnlab_impair_edge {",
        "\tchain egress {",
        "\t\ttype filter hook postrouting priority 0; policy accept;",
        '\t\toifname "edge" meta l4proto tcp numgen random mod 10000 < 3000 counter drop comment "random loss 30% (tcp)"',
        '\t\toifname "edge" meta l4proto udp numgen random mod 10000 < 3000 counter drop comment "random loss 30% (udp)"',
        '\t\toifname "edge" meta l4proto esp numgen random mod 10000 < 3000 counter drop comment "random loss 30% (esp)"',
        '\t\toifname "edge" meta l4proto != { tcp, udp, esp } numgen random mod 10000 < 3000 counter drop comment "random loss 30% (other)"',
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
  });

  describe("each supported kind", () => {
    it("random loss: numgen random mod 10000 < percent×100, a rule per L4 protocol (whose packets it lost)", () => {
      expect(rules({ loss: { kind: "random", percent: 5 } })).to.deep.equal([
        'oifname "edge" meta l4proto tcp numgen random mod 10000 < 500 counter drop comment "random loss 5% (tcp)"',
        'oifname "edge" meta l4proto udp numgen random mod 10000 < 500 counter drop comment "random loss 5% (udp)"',
        'oifname "edge" meta l4proto esp numgen random mod 10000 < 500 counter drop comment "random loss 5% (esp)"',
        'oifname "edge" meta l4proto != { tcp, udp, esp } numgen random mod 10000 < 500 counter drop comment "random loss 5% (other)"',
      ]);
      // a match that names the protocol: one rule
      expect(nftDropRules("edge", { loss: { kind: "random", percent: 5 } }, { match: { proto: "udp", dport: 7 } })).to.deep.equal([
        'oifname "edge" udp dport 7 numgen random mod 10000 < 500 counter drop comment "random loss 5%"',
      ]);
    });

    it("random loss below 1%: 0.5% works", () => {
      expect(rules({ loss: { kind: "random", percent: 0.5 } })[0]).to.contain("numgen random mod 10000 < 50 ");
      expect(rules({ loss: { kind: "random", percent: 0.01 } })[0]).to.contain("< 1 ");
      expect(rules({ loss: { kind: "random", percent: 12.34 } })[0]).to.contain("< 1234 ");
    });

    it("100% loss drops every draw; 0% loss has no rule", () => {
      expect(rules({ loss: { kind: "random", percent: 100 } })).to.deep.equal([
        'oifname "edge" meta l4proto tcp counter drop comment "random loss 100% (tcp)"',
        'oifname "edge" meta l4proto udp counter drop comment "random loss 100% (udp)"',
        'oifname "edge" meta l4proto esp counter drop comment "random loss 100% (esp)"',
        'oifname "edge" meta l4proto != { tcp, udp, esp } counter drop comment "random loss 100% (other)"',
      ]);
      expect(rules({ loss: { kind: "random", percent: 99.99 } })[0]).to.contain("< 9999 ");
      expect(rules({ loss: { kind: "random", percent: 0 } })).to.deep.equal([]);
      expect(rules({ loss: { kind: "random", percent: 0, correlation: 0 } })).to.deep.equal([]);
    });

    it("every Nth: numgen inc mod N == N-1 (the Nth, 2Nth, ... packet; not the first)", () => {
      expect(rules({ everyNth: 10 })).to.deep.equal([
        'oifname "edge" numgen inc mod 10 == 9 counter drop comment "every 10th packet"',
      ]);
      expect(rules({ everyNth: 2 })[0]).to.contain("numgen inc mod 2 == 1 ");
      expect(rules({ everyNth: 1 })).to.deep.equal(['oifname "edge" counter drop comment "every packet"']);
    });

    it("every Nth and random loss together: the counter sees every packet first", () => {
      const r = rules({ everyNth: 3, loss: { kind: "random", percent: 1 } });
      expect(r).to.have.length(5);
      expect(r[0]).to.contain("numgen inc mod 3 == 2");
      for (const x of r.slice(1)) expect(x).to.contain("numgen random mod 10000 < 100");
    });

    it("partition: drop all", () => {
      expect(rules({ partition: true })).to.deep.equal(['oifname "edge" counter drop comment "partition"']);
    });

    it("no impairment: an empty chain", () => {
      expect(nftLossRuleset("t", "edge", {})).to.not.contain("drop");
    });
  });

  describe("refusals (ImpairmentUnsupported naming the field and nftables)", () => {
    const refused: [string, Impairment][] = [
      ["delayMs", { delayMs: 100 }],
      ["jitterMs", { delayMs: 100, jitterMs: 10 }],
      ["duplicate", { duplicate: 1 }],
      ["reorder", { delayMs: 10, reorder: 25 }],
      ["corrupt", { corrupt: 0.1 }],
      ["rateKbit", { rateKbit: 1000 }],
      ["loss.gemodel", { loss: { kind: "gemodel", p: 1, r: 30 } }],
      ["loss.correlation", { loss: { kind: "random", percent: 5, correlation: 25 } }],
      ["loss", { loss: { kind: "random", percent: 0.005 } }], // below 0.01%: would be rounded
    ];
    for (const [field, imp] of refused) {
      it(field, () => {
        let caught: unknown;
        try {
          nftLossRuleset("t", "edge", imp);
        } catch (e) {
          caught = e;
        }
        expect(caught).to.be.instanceOf(ImpairmentUnsupported);
        expect((caught as ImpairmentUnsupported).backend).to.equal("nftables");
        const e = nftUnsupported(imp).find((u) => u.field === field);
        expect(e, `nftUnsupported names ${field}`).to.not.equal(undefined);
        expect(e?.message).to.match(new RegExp(`^nftables cannot express ${field.replace(".", "\\.")}: .+`));
      });
    }

    it("lists every unsupported field", () => {
      expect(nftUnsupported({ delayMs: 1, rateKbit: 5, loss: { kind: "gemodel", p: 1, r: 2 } }).map((e) => e.field)).to.deep.equal([
        "delayMs",
        "rateKbit",
        "loss.gemodel",
      ]);
      expect(nftUnsupported({ everyNth: 4, loss: { kind: "random", percent: 33.33 } })).to.deep.equal([]);
    });

    it("invalid values and names", () => {
      expect(() => nftLossRuleset("t", "edge", { everyNth: 0 })).to.throw(InvalidImpairment);
      expect(() => nftLossRuleset("bad table", "edge", {})).to.throw(/invalid nftables table name/);
      expect(() => nftLossRuleset("t", 'x"y', {})).to.throw(/invalid interface name/);
    });
  });

  it("deletes idempotently and replaces atomically", () => {
    expect(nftDeleteTable("vpnlab_impair_edge")).to.equal(
      "table inet vpnlab_impair_edge {}\ndelete table inet vpnlab_impair_edge\n",
    );
    const rs = nftLossRuleset("vpnlab_impair_edge", "edge", { partition: true });
    expect(nftReplaceScript("vpnlab_impair_edge", rs)).to.equal(nftDeleteTable("vpnlab_impair_edge") + rs);
  });

  describe("nft accepts the text (root; checked with `nft -c` inside a throwaway namespace)", function () {
    const ns = `vlt-${randomBytes(3).toString("hex")}-c`;
    before(async function () {
      if (!isRoot()) this.skip();
      await run(["ip", "netns", "add", ns]);
    });
    after(async () => {
      if (isRoot()) await run(["ip", "netns", "del", ns], { allowFailure: true });
    });

    const accepted: [string, Impairment][] = [
      ["random loss", { loss: { kind: "random", percent: 0.5 } }],
      ["every Nth", { everyNth: 10 }],
      ["every packet", { everyNth: 1 }],
      ["both", { everyNth: 7, loss: { kind: "random", percent: 100 } }],
      ["partition", { partition: true }],
      ["nothing", {}],
    ];
    for (const [what, imp] of accepted) {
      it(what, async () => {
        const table = nftTableName("wan.edge-1");
        const script = nftReplaceScript(table, nftLossRuleset(table, "wan.edge-1", imp));
        const r = await netnsExec.exec(ns, ["nft", "-c", "-f", "-"], { input: script, allowFailure: true });
        expect(r.code, `${r.stderr}\n${script}`).to.equal(0);
      });
    }
  });
});
