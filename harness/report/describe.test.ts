import { expect } from "chai";
import { parseTopology } from "../topology/load";
import { mixSeed } from "../impair/fault";
import { describeScenario, formatDescription } from "./describe";

// Three nodes on one net (a bridge), a firewall that both inspects and bypasses
// the cTCP port, DPD off, and a loss step that is never cleared by the file.
const TOPOLOGY = `
name: desc
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 203.0.113.10/24, gw: 203.0.113.1 }] }
  fw:      { role: firewall,    links: [{ net: home, ip: 203.0.113.1/24 }, { net: dmz, ip: 192.0.2.1/24 }] }
  other:   { role: host,        links: [{ net: home, ip: 203.0.113.20/24 }] }
  headend: { role: vpn-headend, links: [{ net: dmz, ip: 192.0.2.10/24, gw: 192.0.2.1 }, { net: corp, ip: 10.10.0.1/24 }],
             routes: [{ to: 198.51.100.0/24, via: 192.0.2.1 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.10.0.20/24, gw: 10.10.0.1 }] }
vpn:      { client: client, headend: headend, transport: ctcp, dpd: off }
firewall: { node: fw, mode: full-proxy, inspect: [{ proto: tcp, port: 10000 }, { proto: tcp, port: 443 }], bypass: [{ proto: tcp, port: 10000 }] }
probe:    { from: client, to: server, rate: 20/s, timeout: 500ms }
phases:   { baseline: 1s, chaos: 2s, recovery: 1500ms }
chaos:    [{ at: 1s, on: fw.dmz, loss: 7.5% }, { at: 1500ms, on: fw, loss: 1% }, { at: 2s, on: fw, clear: true }]
expect:   survives
variants:
  natt:     { vpn: { transport: natt, dpd: { interval: 2s, retries: 5 } }, firewall: { mode: stateful }, chaos: [] }
  nofw:     { firewall: null, expect: degraded }
`;

describe("describe: a resolved scenario as data and text", () => {
  const t = parseTopology(TOPOLOGY, "desc.yaml");
  const base = describeScenario(t.base);
  const natt = describeScenario(t.variants.get("natt")!);
  const nofw = describeScenario(t.variants.get("nofw")!);

  it("names every node with its role, links (net and address/prefix), default gateway and routes", () => {
    expect(base.nodes.map((n) => `${n.name}:${n.role}`)).to.deep.equal(["client:vpn-client", "fw:firewall", "other:host", "headend:vpn-headend", "server:host"]);
    const headend = base.nodes.find((n) => n.name === "headend")!;
    expect(headend.links).to.deep.equal([{ net: "dmz", ip: "192.0.2.10/24", gw: "192.0.2.1" }, { net: "corp", ip: "10.10.0.1/24" }]);
    expect(headend.gw).to.equal("192.0.2.1");
    expect(headend.routes).to.deep.equal([{ to: "198.51.100.0/24", via: "192.0.2.1" }]);
    expect(base.nodes.find((n) => n.name === "fw")!.gw, "a node without gw has none").to.equal(undefined);
  });

  it("a net of two members is a veth pair, of more a bridge", () => {
    expect(base.nets.map((n) => `${n.name}:${n.kind}:${n.members.length}`)).to.deep.equal(["home:bridge:3", "dmz:veth:2", "corp:veth:2"]);
    expect(base.nets[0].members).to.deep.include({ node: "other", ip: "203.0.113.20/24" });
  });

  it("the VPN with its defaults filled in, and DPD off or its timers", () => {
    expect(base.vpn).to.deep.equal({ client: "client", headend: "headend", transport: "ctcp", impl: "reference", port: 10000, pool: "172.29.0.0/24", dpd: "off" });
    expect(natt.vpn.port).to.equal(4500);
    expect(natt.vpn.dpd).to.deep.equal({ interval: "2s", retries: 5 });
  });

  it("the firewall redirects what it inspects minus what it bypasses; only a full proxy redirects", () => {
    expect(base.firewall).to.deep.equal({ node: "fw", mode: "full-proxy", proxy: "builtin", redirects: ["tcp/443"], bypasses: ["tcp/10000"], idleTimeout: "30s" });
    expect(natt.firewall).to.deep.equal({ node: "fw", mode: "stateful", redirects: [], bypasses: ["tcp/10000"] });
    expect(nofw.firewall).to.equal("none");
  });

  it("the probe, the phases as time windows, and expect", () => {
    expect(base.probe).to.deep.equal({ from: "client", to: "server", flows: ["udp-echo"], rate: "20/s", port: 7, timeout: "500ms" });
    expect(base.phases).to.deep.equal([
      { name: "baseline", from: "0s", to: "1s" },
      { name: "chaos", from: "1s", to: "3s" },
      { name: "recovery", from: "3s", to: "4.5s" },
    ]);
    expect([base.expect, nofw.expect]).to.deep.equal(["survives", "degraded"]);
  });

  it("the chaos timeline in time order, with the clear the harness adds at recovery for a fault left active", () => {
    expect(base.chaos).to.deep.equal([
      { at: "1s", atMs: 1000, target: "fw.dmz", action: "loss 7.5%", description: "loss 7.5% (random)" },
      { at: "1.5s", atMs: 1500, target: "fw", action: "loss 1%", description: "loss 1% (random)" },
      { at: "2s", atMs: 2000, target: "fw", action: "clear", description: "clear" },
      { at: "3s", atMs: 3000, target: "fw.dmz", action: "clear (end of chaos phase)", description: "every fault still in place is cleared", implicit: true },
    ]);
    expect(natt.chaos).to.deep.equal([]);
  });

  it("the expanded timeline: each step's schedule, selection and seed (from the scenario seed, or its own)", () => {
    const text = TOPOLOGY.replace(
      /^chaos: .*$/m,
      "seed: 5\nchaos:    [{ at: 0s, on: fw.dmz, drop: [2], match: { proto: tcp, dport: 10000, from: client } }, { at: 1s, on: fw, flap: { down: 500ms, up: 500ms, cycles: 2 }, direction: ingress, seed: 9 }]",
    );
    const d = describeScenario(parseTopology(text, "seeded.yaml").base);
    expect(d.seed).to.equal(5);
    expect(d.chaos.map((c) => [c.at, c.action, c.selection ?? "", c.seed ?? "-", c.schedule ?? ""])).to.deep.equal([
      ["0s", "drop packet #2", "tcp from 203.0.113.10 dport 10000", mixSeed(5, 0), ""],
      ["1s", "partition (drop everything)", "ingress", 9, "flap 1/2: down"],
      ["1.5s", "clear (ingress)", "", "-", "flap 1/2: up"],
      ["2s", "partition (drop everything)", "ingress", 9, "flap 2/2: down"],
      ["2.5s", "clear (ingress)", "", "-", "flap 2/2: up"],
      ["3s", "clear (end of chaos phase)", "", "-", ""],
    ]);
    const out = formatDescription(d);
    expect(out.split("\n")[0]).to.equal("desc/base: expect survives, seed 5");
    expect(out).to.match(/^ {4}1s +fw +partition \(drop everything\)  \[ingress\]  seed 9  \(flap 1\/2: down\)$/m);
    expect(out).to.contain(`    0s    fw.dmz  drop packet #2  [tcp from 203.0.113.10 dport 10000]  seed ${mixSeed(5, 0)}\n`);
  });

  it("the text form carries the same facts, one block per scenario", () => {
    const text = formatDescription(base);
    const lines = text.split("\n");
    expect(lines[0]).to.equal("desc/base: expect survives");
    expect(text).to.match(/^ {4}headend +vpn-headend +dmz 192\.0\.2\.10\/24, corp 10\.10\.0\.1\/24; gw 192\.0\.2\.1; routes 198\.51\.100\.0\/24 via 192\.0\.2\.1$/m);
    expect(text).to.match(/^ {4}home +bridge +client 203\.0\.113\.10\/24, fw 203\.0\.113\.1\/24, other 203\.0\.113\.20\/24$/m);
    expect(text).to.contain("vpn:      ctcp (reference) client → headend port 10000, pool 172.29.0.0/24, dpd off");
    expect(text).to.contain("firewall: fw full-proxy (proxy builtin, idle timeout 30s); redirects tcp/443; bypasses tcp/10000");
    expect(text).to.contain("probe:    udp-echo client → server port 7, 20/s, timeout 500ms");
    expect(text).to.contain("phases:   baseline 0s–1s, chaos 1s–3s, recovery 3s–4.5s");
    expect(text).to.match(/^ {4}1\.5s +fw +loss 1%$/m);
    expect(text).to.match(/^ {4}3s +fw\.dmz +clear \(end of chaos phase\)$/m);
    expect(formatDescription(natt)).to.contain("dpd every 2s, 5 retries");
    expect(formatDescription(natt)).to.contain("chaos:    none");
    expect(formatDescription(natt)).to.contain("firewall: fw stateful; redirects nothing; bypasses tcp/10000");
    expect(formatDescription(nofw)).to.contain("firewall: none");
  });
});
