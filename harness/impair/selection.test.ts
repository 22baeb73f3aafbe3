// Faults that pick their packets: a flow match, the ingress direction and
// chosen-packet drops — built as rules (pure) and proved on real packets
// between two namespaces (nftables serves all three on this host).
import { expect } from "chai";
import fc from "fast-check";
import { Impairer } from "./apply";
import { chooseBackend } from "./backend";
import { backendNamed } from "./backends";
import { type Fault, validateFault } from "./fault";
import { InvalidImpairment } from "./impairment";
import { nftDropRules, nftFlowMatch, nftLossRuleset, nftTableName } from "./nftables";
import { createNetnsPair, isRoot, measureUdpLoss, type NetnsPair } from "./testkit";

describe("impair: flow match, direction and chosen drops", () => {
  describe("validation", () => {
    it("accepts a full match and refuses what makes no sense, naming it", () => {
      expect(() => validateFault({ impairment: { dropPackets: [1] }, match: { proto: "tcp", src: "203.0.113.10", dst: "192.0.2.0/24", sport: 1, dport: 10000 }, direction: "ingress", seed: 7 })).to.not.throw();
      const bad: [Fault, RegExp][] = [
        [{ impairment: {}, match: { dport: 53 } }, /a port match needs proto tcp or udp/],
        [{ impairment: {}, match: { proto: "esp", dport: 53 } }, /a port match needs proto tcp or udp/],
        [{ impairment: {}, match: { proto: "udp", dport: 70000 } }, /dport must be a port 1\.\.65535/],
        [{ impairment: {}, match: { src: "10.0.0.300" } }, /src must be an IPv4 address or prefix/],
        [{ impairment: {}, match: { dst: "10.0.0.0/33" } }, /dst must be an IPv4 address or prefix/],
        [{ impairment: {}, match: { proto: "gre" as "tcp" } }, /proto must be one of tcp, udp, icmp, esp/],
        [{ impairment: {}, direction: "both" as "egress" }, /must be egress or ingress/],
        [{ impairment: {}, seed: -1 }, /seed\).*0\.\.4294967295/],
        [{ impairment: { dropPackets: [] } }, /non-empty list of packet numbers/],
        [{ impairment: { dropPackets: [0] } }, /packet numbers ≥ 1/],
        [{ impairment: { duplicateCorrelation: 5 } }, /needs duplicate/],
        [{ impairment: { delayMs: 10, delayDistribution: "normal" } }, /set jitterMs > 0/],
      ];
      for (const [f, re] of bad) {
        let caught: unknown;
        try {
          validateFault(f);
        } catch (e) {
          caught = e;
        }
        expect(caught, JSON.stringify(f)).to.be.instanceOf(InvalidImpairment);
        expect(String(caught), JSON.stringify(f)).to.match(re);
      }
    });
  });

  describe("nftables rules", () => {
    it("a match becomes nft expressions; ports imply the protocol", () => {
      expect(nftFlowMatch(undefined)).to.equal("");
      expect(nftFlowMatch({ proto: "esp" })).to.equal("meta l4proto esp");
      expect(nftFlowMatch({ proto: "tcp", src: "203.0.113.10", dst: "192.0.2.10", dport: 10000 })).to.equal("ip saddr 203.0.113.10 ip daddr 192.0.2.10 tcp dport 10000");
      expect(nftFlowMatch({ proto: "udp", sport: 4500, dport: 4500 })).to.equal("udp sport 4500 udp dport 4500");
    });

    it("ingress: iifname at prerouting (raw, before conntrack), its own table", () => {
      expect(nftTableName("edge", "ingress")).to.equal("vpnlab_impair_in_edge");
      const rs = nftLossRuleset("vpnlab_impair_in_edge", "edge", { partition: true }, { direction: "ingress" });
      expect(rs).to.contain("chain ingress {").and.contain("type filter hook prerouting priority raw;").and.contain('iifname "edge" counter drop comment "partition"');
    });

    it("chosen packets: numgen inc draws n-1 for packet n, one rule with a set, ahead of the other drops", () => {
      expect(nftDropRules("edge", { dropPackets: [1] })).to.deep.equal(['oifname "edge" numgen inc mod 4294967295 0 counter drop comment "drop packet #1"']);
      const r = nftDropRules("edge", { dropPackets: [20, 5, 20], everyNth: 7 }, { match: { proto: "tcp", dport: 10000 } });
      expect(r[0]).to.equal('oifname "edge" tcp dport 10000 numgen inc mod 4294967295 { 4, 19 } counter drop comment "drop packet #5, #20"');
      expect(r[1]).to.contain("numgen inc mod 7 == 6");
    });

    it("backend choice: nftables for a chosen drop with a match; a seed on random loss is refused by nftables", () => {
      const all = () => ({ available: true });
      const none = (b: string) => (b === "netem" ? { available: false, reason: "no netem" } : { available: true });
      expect(chooseBackend({ impairment: { dropPackets: [1] }, match: { proto: "tcp", dport: 10000 } }, none)).to.deep.equal({ backend: "nftables" });
      // nftables alone: the refusal must name the seed
      const seeded = chooseBackend({ impairment: { loss: { kind: "random", percent: 5 } }, seed: 1 }, none, [backendNamed("nftables")]);
      expect(seeded).to.have.property("refused").that.matches(/nftables cannot express seed: numgen random draws from the kernel's generator/);
      // property: whatever a fault selects, nftables serves a plain partition or chosen drop
      fc.assert(
        fc.property(fc.constantFrom<"egress" | "ingress">("egress", "ingress"), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), (direction, dport) => {
          const f: Fault = { impairment: { partition: true }, direction, ...(dport ? { match: { proto: "udp", dport } } : {}) };
          return "backend" in chooseBackend(f, all) || "backend" in chooseBackend(f, none);
        }),
      );
    });
  });

  describe("on real packets (root, two namespaces, nftables)", function () {
    this.timeout(60_000);
    let pair: NetnsPair | undefined;
    before(async function () {
      if (!isRoot()) this.skip();
      pair = await createNetnsPair();
    });
    after(async () => {
      await pair?.destroy();
    });

    it("drop: [3, 7] with a match on the receiver's port drops exactly the 3rd and 7th datagram of that flow, nothing else", async () => {
      const p = pair!;
      const imp = new Impairer(p.exec);
      const port = 41000 + Math.floor(Math.random() * 1000);
      await imp.apply(p.a, p.devA, { impairment: { dropPackets: [3, 7] }, match: { proto: "udp", dport: port } });
      const other = await measureUdpLoss(p, 50, port + 1); // another flow first: it must not move the count
      const hit = await measureUdpLoss(p, 50, port);
      await imp.clear(p.a, p.devA);
      expect(other.missing, `other flow lost ${JSON.stringify(other.missing)}`).to.deep.equal([]);
      // a postrouting drop of a locally sent datagram is reported to the sender, so it may show as a send error too
      expect(hit.missing, `matched flow lost ${JSON.stringify(hit.missing)}, send errors ${hit.sendErrors}`).to.deep.equal([2, 6]);
      expect(imp.dropTotals()[0]?.packets, JSON.stringify(imp.dropTotals())).to.equal(2);
    });

    it("ingress on the receiver's interface: a partition there drops everything arriving, egress of the sender untouched", async () => {
      const p = pair!;
      const imp = new Impairer(p.exec);
      await imp.apply(p.b, p.devB, { impairment: { partition: true }, direction: "ingress" });
      const during = await measureUdpLoss(p, 40);
      expect(imp.activeFaults().map((f) => `${f.node}/${f.dev}/${f.direction}:${f.backends.join(",")}`)).to.deep.equal([`${p.b}/b/ingress:nftables`]);
      await imp.clear(p.b, p.devB, "ingress");
      const after = await measureUdpLoss(p, 40);
      expect(during.received, `received ${during.received} of ${during.sent} during the partition`).to.equal(0);
      expect(during.sendErrors, "the sender saw no local drop (it is the receiver's ingress)").to.equal(0);
      expect(after.received, `received ${after.received} of ${after.sent} after clearing`).to.equal(40);
      expect(imp.dropTotals()[0]?.packets, JSON.stringify(imp.dropTotals())).to.equal(40);
    });
  });
});
