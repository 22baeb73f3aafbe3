import { expect } from "chai";
import type { FirewallMode, FirewallSpec, FlowMatch } from "../topology/model";
import { stopProcess } from "../exec";
import { ADDON_PATH } from "../native";
import { directionCounters, FIREWALL_TABLE, firewallRuleset } from "./ruleset";
import { conntrackEntries, createLine3, echoRoundTrip, ECHO_SERVER, isRoot, Netns, type Line3 } from "./testkit";

const PROXY_PORT = 15001;

function spec(mode: FirewallMode, bypass: FlowMatch[], inspect: FlowMatch[] = [{ proto: "tcp", port: 10000 }]): FirewallSpec {
  return { node: "firewall", mode, proxy: "builtin", inspect, bypass, idleTimeoutMs: 30000 };
}

interface Chain {
  name: string;
  hook: string; // the "type ... hook ... priority ...; policy ...;" line
  rules: string[]; // without comments and blank lines
}

/** The chains of our table, in order (a small reader for the generated text, not a general nft parser). */
function chains(text: string): Chain[] {
  const out: Chain[] = [];
  let cur: Chain | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^chain (\S+) \{$/.exec(line);
    if (m) {
      cur = { name: m[1], hook: "", rules: [] };
      out.push(cur);
    } else if (line === "}") {
      cur = undefined;
    } else if (cur && line.startsWith("type ")) {
      cur.hook = line;
    } else if (cur) {
      cur.rules.push(line);
    }
  }
  return out;
}

function chain(text: string, name: string): Chain {
  const c = chains(text).find((x) => x.name === name);
  if (!c) throw new Error(`no chain ${name} in:\n${text}`);
  return c;
}

const MODES: FirewallMode[] = ["route", "stateful", "full-proxy"];
const BYPASSES: { label: string; flows: FlowMatch[] }[] = [
  { label: "no bypass", flows: [] },
  { label: "bypass tcp/10000", flows: [{ proto: "tcp", port: 10000 }] },
  { label: "bypass tcp/10000 + udp/4500", flows: [{ proto: "tcp", port: 10000 }, { proto: "udp", port: 4500 }] },
];

describe("firewall/ruleset", () => {
  it("declares per-direction counters only with an outside interface, and uses each it declares", () => {
    for (const mode of MODES) {
      expect(firewallRuleset(spec(mode, []), { proxyPort: PROXY_PORT })).not.to.match(/counter name|counter \w+ \{\}/);
      const text = firewallRuleset(spec(mode, []), { proxyPort: PROXY_PORT, outside: "eth-out" });
      const declared = [...text.matchAll(/^ {2}counter (\w+) \{\}$/gm)].map((m) => m[1]);
      const used = [...text.matchAll(/counter name "(\w+)"/g)].map((m) => m[1]);
      expect(declared, text).to.deep.equal(directionCounters(mode));
      expect([...new Set(used)].sort(), text).to.deep.equal([...declared].sort());
      // counting comes before any verdict in forward, or an accepted packet would go uncounted
      const fwd = chain(text, "forward").rules;
      expect(fwd.slice(0, 8).every((x) => /counter name "fwd_/.test(x)), fwd.join("\n")).to.equal(true);
    }
    expect(() => firewallRuleset(spec("stateful", []), { proxyPort: PROXY_PORT, outside: 'a" accept' })).to.throw(/not a device name/);
  });

  for (const mode of MODES) {
    for (const bp of BYPASSES) {
      describe(`${mode}, ${bp.label}`, () => {
        const inspect: FlowMatch[] = [
          { proto: "tcp", port: 10000 },
          { proto: "tcp", port: 443 },
        ];
        const text = firewallRuleset(spec(mode, bp.flows, inspect), { proxyPort: PROXY_PORT });
        const names = chains(text).map((c) => c.name);

        it("starts with the re-applicable table idiom", () => {
          const code = text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
          expect(code.slice(0, 3)).to.deep.equal([
            `table inet ${FIREWALL_TABLE} {}`,
            `delete table inet ${FIREWALL_TABLE}`,
            `table inet ${FIREWALL_TABLE} {`,
          ]);
          expect(text).to.not.match(/flush ruleset/);
        });

        it("notracks bypassed flows both ways at priority raw, in prerouting and output", () => {
          if (bp.flows.length === 0 && mode !== "route") {
            expect(names).to.not.include("raw_prerouting");
            return;
          }
          for (const [name, hook] of [
            ["raw_prerouting", "prerouting"],
            ["raw_output", "output"],
          ]) {
            const c = chain(text, name);
            expect(c.hook).to.equal(`type filter hook ${hook} priority raw; policy accept;`);
            for (const f of bp.flows) {
              expect(c.rules).to.include(`${f.proto} dport ${f.port} notrack`);
              expect(c.rules).to.include(`${f.proto} sport ${f.port} notrack`);
            }
          }
        });

        it("forwards per the mode", () => {
          const fwd = chain(text, "forward");
          if (mode === "route") {
            expect(fwd.hook).to.contain("policy accept");
            expect(fwd.rules.join("\n")).to.not.match(/ct state/);
            expect(chain(text, "raw_prerouting").rules.at(-1)).to.equal("notrack");
            expect(chain(text, "raw_output").rules.at(-1)).to.equal("notrack");
            return;
          }
          expect(fwd.hook).to.equal("type filter hook forward priority filter; policy drop;");
          const est = fwd.rules.indexOf("ct state established,related accept");
          const inv = fwd.rules.indexOf("ct state invalid drop");
          const syn = fwd.rules.indexOf("meta l4proto tcp ct state new tcp flags & (fin|syn|rst|ack) != syn drop");
          const icmp = fwd.rules.indexOf("meta l4proto { icmp, ipv6-icmp } accept");
          const newOk = fwd.rules.indexOf("ct state new accept");
          expect([est, inv, syn, icmp, newOk].every((i) => i >= 0), fwd.rules.join("\n")).to.equal(true);
          expect(est).to.be.lessThan(inv);
          expect(inv).to.be.lessThan(syn);
          expect(syn).to.be.lessThan(newOk);
          for (const f of bp.flows) {
            const d = fwd.rules.indexOf(`${f.proto} dport ${f.port} accept`);
            const s = fwd.rules.indexOf(`${f.proto} sport ${f.port} accept`);
            expect(d, `bypass ${f.proto}/${f.port} accepted`).to.be.greaterThan(-1);
            expect(s).to.be.greaterThan(-1);
            expect(Math.max(d, s), "bypass accepted before the ct state rules").to.be.lessThan(est);
          }
        });

        it("lets ESP (IP protocol 50) through both ways before any state rule, and never redirects it", () => {
          const fwd = chain(text, "forward");
          if (mode === "route") {
            expect(fwd.hook).to.contain("policy accept"); // and notrack: a plain router passes protocol 50 like any other
          } else {
            const esp = fwd.rules.indexOf("meta l4proto esp accept");
            const firstState = fwd.rules.findIndex((r) => r.startsWith("ct state"));
            expect(esp, fwd.rules.join("\n")).to.be.greaterThan(-1);
            expect(esp, "ESP accepted before the ct state rules").to.be.lessThan(firstState);
            // one rule, no address or direction in it: both ways
            expect(fwd.rules.filter((r) => /\besp\b/.test(r))).to.deep.equal(["meta l4proto esp accept"]);
          }
          const nat = names.includes("nat_prerouting") ? chain(text, "nat_prerouting").rules : [];
          expect(nat.every((r) => r.startsWith("tcp dport ")), `only TCP is redirected: ${nat.join("; ")}`).to.equal(true);
        });

        it("redirects inspected, non-bypassed TCP to the proxy only in full-proxy mode", () => {
          if (mode !== "full-proxy") {
            expect(names).to.not.include("nat_prerouting");
            expect(names).to.not.include("input");
            expect(text).to.not.match(/redirect/);
            return;
          }
          const nat = chain(text, "nat_prerouting");
          expect(nat.hook).to.equal("type nat hook prerouting priority dstnat; policy accept;");
          expect(nat.rules).to.include(`tcp dport 443 redirect to :${PROXY_PORT}`);
          const bypassed10000 = bp.flows.some((f) => f.port === 10000);
          expect(nat.rules.includes(`tcp dport 10000 redirect to :${PROXY_PORT}`)).to.equal(!bypassed10000);

          const input = chain(text, "input");
          expect(input.hook).to.equal("type filter hook input priority filter; policy drop;");
          expect(input.rules).to.include("ct state established,related accept");
          expect(input.rules).to.include(`tcp dport ${PROXY_PORT} ct status dnat accept`);
          expect(chain(text, "output").hook).to.equal("type filter hook output priority filter; policy accept;");
          expect(text).to.match(/notracked[\s\S]*skips nat/); // the reason is written down
        });
      });
    }
  }

  it("refuses a UDP inspect entry in full-proxy mode (the proxy is TCP only)", () => {
    expect(() => firewallRuleset(spec("full-proxy", [], [{ proto: "udp", port: 4500 }]), { proxyPort: PROXY_PORT })).to.throw(
      /terminates TCP only/,
    );
  });

  it("refuses ports out of range", () => {
    expect(() => firewallRuleset(spec("stateful", []), { proxyPort: 0 })).to.throw(/proxyPort 0 is not a port/);
    expect(() => firewallRuleset(spec("stateful", [{ proto: "tcp", port: 70000 }]), { proxyPort: 1 })).to.throw(/70000/);
  });

  it("writes each duplicate flow once", () => {
    const t = firewallRuleset(spec("stateful", [{ proto: "tcp", port: 1 }, { proto: "tcp", port: 1 }]), { proxyPort: 2 });
    expect(chain(t, "raw_prerouting").rules.filter((r) => r === "tcp dport 1 notrack")).to.have.length(1);
  });

  describe("with the real nft (root, throwaway netns)", function () {
    let ns: Netns | undefined;
    before(async function () {
      if (!isRoot()) return this.skip();
      ns = await Netns.create("nft");
    });
    after(async () => {
      await ns?.destroy();
    });

    for (const mode of MODES) {
      for (const bp of BYPASSES) {
        it(`nft -c accepts ${mode}, ${bp.label}`, async () => {
          const text = firewallRuleset(spec(mode, bp.flows), { proxyPort: PROXY_PORT });
          const r = await ns!.exec(["nft", "-c", "-f", "-"], { input: text, allowFailure: true });
          expect(r.code, `${r.stderr}\n${text}`).to.equal(0);
        });
      }
    }

    for (const mode of MODES) {
      it(`nft -c accepts ${mode} with per-direction counters; the kernel holds exactly the declared ones`, async () => {
        const text = firewallRuleset(spec(mode, BYPASSES[2].flows), { proxyPort: PROXY_PORT, outside: "edge0" });
        const r = await ns!.exec(["nft", "-f", "-"], { input: text, allowFailure: true });
        expect(r.code, `${r.stderr}\n${text}`).to.equal(0);
        const listed = JSON.parse((await ns!.exec(["nft", "-j", "list", "counters", "table", "inet", FIREWALL_TABLE])).stdout) as { nftables: { counter?: { name: string } }[] };
        expect(listed.nftables.flatMap((x) => (x.counter ? [x.counter.name] : []))).to.deep.equal(directionCounters(mode));
      });
    }

    it("re-applies over itself and leaves other tables alone", async () => {
      await ns!.exec(["nft", "-f", "-"], { input: "table inet someone_else {\n  chain c { type filter hook input priority 0; policy accept; }\n}\n" });
      for (const mode of MODES) {
        const text = firewallRuleset(spec(mode, BYPASSES[2].flows, [{ proto: "tcp", port: 443 }]), { proxyPort: PROXY_PORT });
        await ns!.exec(["nft", "-f", "-"], { input: text });
        await ns!.exec(["nft", "-f", "-"], { input: text });
        const listed = (await ns!.exec(["nft", "list", "table", "inet", FIREWALL_TABLE])).stdout;
        expect(listed.includes("chain nat_prerouting"), `${mode}:\n${listed}`).to.equal(mode === "full-proxy");
        expect(listed.match(/chain forward/g)).to.have.length(1);
        expect(listed.includes("meta l4proto esp accept"), `${mode}: the kernel holds the ESP rule:\n${listed}`).to.equal(mode !== "route");
      }
      expect((await ns!.exec(["nft", "list", "tables"])).stdout).to.contain("someone_else");
    });
  });

  describe("forwarding for real: client — firewall — server (root)", function () {
    let line: Line3 | undefined;
    const PORT = 9001;
    before(async function () {
      if (!isRoot()) return this.skip();
      line = await createLine3();
      await line.server.node(ECHO_SERVER, ["10.201.2.2", String(PORT)]);
    });
    after(async () => {
      await line?.destroy();
    });

    const ESP_TABLE = "vlt_esp_count";
    /** Count, at `ns`'s input, ESP from `from` (no raw socket takes it in: the kernel drops it after the count). */
    const countEsp = (ns: Netns, from: string) =>
      ns.exec(["nft", "-f", "-"], {
        input: `table inet ${ESP_TABLE} {}\ndelete table inet ${ESP_TABLE}\ntable inet ${ESP_TABLE} {\n  chain in {\n    type filter hook input priority -10; policy accept;\n    ip saddr ${from} meta l4proto esp counter\n  }\n}\n`,
      });
    const espCounted = async (ns: Netns): Promise<number> => {
      const listed = (await ns.exec(["nft", "list", "table", "inet", ESP_TABLE])).stdout;
      return Number(/counter packets (\d+)/.exec(listed)?.[1] ?? -1);
    };
    /** `count` ESP packets (SPI 0x100, 64 bytes) from a raw protocol-50 socket in `ns`; the kernel writes the IP header. */
    const sendEsp = async (ns: Netns, to: string, count: number): Promise<void> => {
      const script = `
const n = require(process.argv[1]);
const fd = n.rawSocket(50, false);
for (let i = 0; i < Number(process.argv[3]); i++) {
  const b = Buffer.alloc(64, i);
  b.writeUInt32BE(0x100, 0);
  b.writeUInt32BE(i + 1, 4);
  n.sendTo(fd, b, process.argv[2]);
}
console.log(JSON.stringify({ event: "ready" }));
process.stdin.resume();`;
      const { child } = await ns.node(script, [ADDON_PATH, to, String(count)]);
      await stopProcess(child);
    };

    const apply = async (s: FirewallSpec): Promise<void> => {
      await line!.fw.exec(["nft", "-f", "-"], { input: firewallRuleset(s, { proxyPort: PROXY_PORT }) });
      await line!.fw.exec(["conntrack", "-F"], { allowFailure: true });
    };

    it("stateful: forwards a new TCP flow and tracks it", async () => {
      await apply(spec("stateful", []));
      const r = await echoRoundTrip(line!.client, "10.201.2.2", PORT, 3000);
      expect(r.echoed).to.equal(3000);
      expect(r.greeting.peer.startsWith("10.201.1.2:"), "the server sees the client itself").to.equal(true);
      expect(await conntrackEntries(line!.fw, PORT)).to.have.length.greaterThan(0);
    });

    it("route: forwards with no conntrack entry at all", async () => {
      await apply(spec("route", []));
      const r = await echoRoundTrip(line!.client, "10.201.2.2", PORT, 3000);
      expect(r.echoed).to.equal(3000);
      expect(await conntrackEntries(line!.fw, PORT)).to.deep.equal([]);
    });

    for (const mode of MODES) {
      it(`${mode}: forwards ESP (protocol 50) both ways, each way as a new flow, source address intact`, async () => {
        await apply(spec(mode, [], [{ proto: "tcp", port: 10000 }, { proto: "tcp", port: 443 }]));
        await countEsp(line!.server, "10.201.1.2");
        await countEsp(line!.client, "10.201.2.2");
        // from the server's side first: ESP a firewall has never seen a reply to
        await sendEsp(line!.server, "10.201.1.2", 5);
        await line!.fw.exec(["conntrack", "-F"], { allowFailure: true });
        await sendEsp(line!.client, "10.201.2.2", 7);
        const atClient = await espCounted(line!.client);
        const atServer = await espCounted(line!.server);
        // the counters match the far end's own address: nothing in between answered for it or rewrote it
        expect([atClient, atServer], `ESP packets counted at client, server (${mode})`).to.deep.equal([5, 7]);
      });
    }

    it("stateful + bypass: forwards the bypassed flow untracked", async () => {
      await apply(spec("stateful", [{ proto: "tcp", port: PORT }]));
      const r = await echoRoundTrip(line!.client, "10.201.2.2", PORT, 3000);
      expect(r.echoed).to.equal(3000);
      expect(await conntrackEntries(line!.fw, PORT)).to.deep.equal([]);
    });
  });
});
