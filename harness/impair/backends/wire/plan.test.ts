import { expect } from "chai";
import fc from "fast-check";
import { TABLE_BASE, isWireTable, steeringRuleset, wireNames } from "./plan";

describe("impair/backends/wire/plan", () => {
  it("names a TUN pair the kernel accepts, a table, and a fwmark apart per device and direction", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9._-]{0,14}$/), (dev) => {
        const e = wireNames("/run/vpnlab/abcde", "wan", dev, "egress");
        const i = wireNames("/run/vpnlab/abcde", "wan", dev, "ingress");
        for (const t of [e.tunA, e.tunB, i.tunA, i.tunB]) expect(t).to.match(/^vw[0-9a-f]{6}[ei][ab]$/);
        expect(new Set([e.tunA, e.tunB, i.tunA, i.tunB]).size).to.equal(4);
        expect(e.mark % 2).to.equal(0);
        expect(i.mark).to.equal(e.mark + 1);
        expect(isWireTable(e.mark) && isWireTable(i.mark)).to.equal(true);
        expect(e.table).to.not.equal(i.table);
        expect(e.socket).to.equal(`/run/vpnlab/abcde/wire-wan-${dev}-egress.sock`);
      }),
    );
    expect(isWireTable(TABLE_BASE - 1)).to.equal(false);
    expect(() => wireNames("/d", "wan", "a/b")).to.throw(/invalid interface name/);
    expect(() => wireNames("/d", "../x", "edge")).to.throw(/invalid node name/);
  });

  it("egress marks forwarded packets routed out DEV (not the wire's own, nor one an ingress wire marked) and locally sent ones; ingress what arrives on DEV; never broadcast/multicast, nor TTL 1 on ingress", () => {
    const e = wireNames("/d", "wan", "edge", "egress");
    expect(steeringRuleset(e, { impairment: { delayMs: 10 }, match: { proto: "udp", dport: 4500 } })).to.equal(
      [
        `table inet ${e.table} {`,
        "\tchain prerouting {",
        "\t\ttype filter hook prerouting priority mangle; policy accept;",
        `\t\tiifname != "${e.tunB}" meta nfproto ipv4 meta mark and 0xffff0000 != 0x76770000 fib daddr type != { broadcast, multicast } fib daddr oifname "edge" udp dport 4500 meta mark set ${e.mark}`,
        "\t}",
        "\tchain output {",
        "\t\ttype route hook output priority mangle; policy accept;",
        `\t\toifname "edge" meta nfproto ipv4 fib daddr type != { broadcast, multicast } udp dport 4500 meta mark set ${e.mark}`,
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
    const i = wireNames("/d", "wan", "edge", "ingress");
    expect(steeringRuleset(i, { impairment: { delayMs: 10 }, direction: "ingress" })).to.equal(
      [`table inet ${i.table} {`, "\tchain prerouting {", "\t\ttype filter hook prerouting priority mangle; policy accept;", `\t\tiifname "edge" meta nfproto ipv4 ip ttl != 1 fib daddr type != { broadcast, multicast } meta mark set ${i.mark}`, "\t}", "}", ""].join("\n"),
    );
  });
});
