// Isolation, with real packets: two labs of asa-ips at once (the same address
// plan twice). Each address answers inside its own lab only — a listener
// replies with its lab's id, and the other lab's interface counters do not
// move — and no lab node reaches any of the host's own addresses. The host's
// interfaces, addresses, routes and nftables tables are the same before and after.
import { expect } from "chai";
import { RUNTIME_KINDS, requireRuntime } from "./runtimes";
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import { run } from "../harness/exec";
import { Lab } from "../harness/lab";
import { waitEvent } from "../harness/testkit/netns";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { diffHostNetState, hostAddresses, hostNetState, type HostAddress, type HostNetState } from "./host-snapshot";

const TOPO = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
const PORT = 7007; // not inspected nor redirected by the asa-ips firewall: plainly forwarded
const TARGET = { node: "headend", addr: "192.0.2.10" }; // three hops from the client: wan and the firewall forward it

/** TCP and UDP on one port; every reply names the lab the listener runs in. Prints {"event":"ready"}. */
const LISTENER = `
const net = require("net"), dgram = require("dgram");
const [host, port, lab] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
let up = 0;
const ready = () => { if (++up === 2) console.log(JSON.stringify({ event: "ready" })); };
net.createServer((s) => { s.on("error", () => {}); s.end(JSON.stringify({ lab, proto: "tcp" }) + "\\n"); }).listen(port, host, ready);
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send(JSON.stringify({ lab, proto: "udp" }), r.port, r.address));
u.bind(port, host, ready);
`;

/** One TCP connection and one UDP datagram to host:port; prints {"tcp": reply|error, "udp": reply|error}. */
const PROBE = `
const net = require("net"), dgram = require("dgram");
const [host, port] = [process.argv[1], Number(process.argv[2])];
const out = {};
const done = (k, v) => { out[k] = v; if ("tcp" in out && "udp" in out) { console.log(JSON.stringify(out)); process.exit(0); } };
const c = net.connect({ host, port });
let buf = "";
c.on("data", (d) => (buf += d));
c.on("end", () => { try { done("tcp", JSON.parse(buf)); } catch { done("tcp", { error: "bad reply " + buf }); } });
c.on("error", (e) => done("tcp", { error: e.message }));
const u = dgram.createSocket("udp4");
u.on("message", (m) => done("udp", JSON.parse(m.toString())));
u.send("hello", port, host);
setTimeout(() => { if (!("tcp" in out)) done("tcp", { error: "timeout" }); if (!("udp" in out)) done("udp", { error: "timeout" }); }, 5000);
`;

interface Reply {
  lab?: string;
  error?: string;
}

/** rx+tx packets of every interface in every namespace of a lab, by "namespace/interface". */
async function packetCounters(lab: Lab): Promise<Map<string, number>> {
  const counters = new Map<string, number>();
  for (const ns of lab.state.namespaces) {
    const r = await run(["ip", "-n", ns, "-j", "-s", "link"]);
    for (const l of JSON.parse(r.stdout) as { ifname: string; stats64: { rx: { packets: number }; tx: { packets: number } } }[]) {
      counters.set(`${ns}/${l.ifname}`, l.stats64.rx.packets + l.stats64.tx.packets);
    }
  }
  return counters;
}

function deltas(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [k, v] of after) d.set(k, v - (before.get(k) ?? 0));
  return d;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const moved = (m: Map<string, number>) => [...m].filter(([, v]) => v !== 0).map(([k, v]) => `${k} +${v}`);

for (const kind of RUNTIME_KINDS) describe(`isolation (${kind} runtime): two labs with the same address plan`, function () {
  this.timeout(120000);
  const [scenario] = selectScenarios(loadTopology(TOPO), ["base"]);
  const planAddrs = scenario.nodes.flatMap((n) => n.links.map((l) => l.ip.addr));
  let host: HostNetState;
  let a: Lab | undefined;
  let b: Lab | undefined;

  before(async function () {
    this.timeout(180000);
    await requireRuntime(this, kind);
    host = hostNetState();
    a = await Lab.up(scenario, { runtime: kind });
    b = await Lab.up(scenario, { runtime: kind });
  });
  after(async function () {
    await a?.down();
    await b?.down();
  });

  /** Ping every address of the plan from every node of `from`; the other lab's counters must not move. */
  async function pingAll(from: Lab, other: Lab): Promise<void> {
    const otherBefore = await packetCounters(other);
    const fromBefore = await packetCounters(from);
    const results = await Promise.all(
      scenario.nodes.map(async (n) => {
        const ok: string[] = [];
        for (const addr of planAddrs) {
          const r = await from.runtime.exec(n.name, ["ping", "-c", "2", "-i", "0.2", "-W", "1", addr], { allowFailure: true });
          if (r.code === 0) ok.push(addr);
        }
        return { node: n.name, ok };
      }),
    );
    const otherDelta = deltas(otherBefore, await packetCounters(other));
    const fromDelta = deltas(fromBefore, await packetCounters(from));
    const answered = results.reduce((k, r) => k + r.ok.length, 0);
    const report =
      `lab ${from.labId} pinged ${planAddrs.length} addresses from ${scenario.nodes.length} nodes: ${answered} answered ` +
      `(${results.map((r) => `${r.node}→${r.ok.length}`).join(", ")}); packets counted in lab ${from.labId}: ${sum(fromDelta)}, ` +
      `in lab ${other.labId}: ${sum(otherDelta)} (${moved(otherDelta).join(", ") || "no interface moved"})`;
    console.log(`      ${report}`);
    // the pings did reach nodes (so "nothing moved in the other lab" is not the silence of a broken ping)
    expect(answered, report).to.be.greaterThan(planAddrs.length);
    expect(sum(fromDelta), report).to.be.at.least(answered * 4);
    expect(moved(otherDelta), report).to.deep.equal([]);
  }

  it("pings from every node of lab A move no interface counter of lab B", async () => pingAll(a!, b!));
  it("pings from every node of lab B move no interface counter of lab A", async () => pingAll(b!, a!));

  it("a TCP connection and a UDP datagram to the same address are answered by the sender's own lab", async () => {
    const listeners: ChildProcess[] = [];
    for (const lab of [a!, b!]) {
      // a program of the node (the node's own Node on a container runtime); the probe below runs from the host
      const child = lab.runtime.spawn(TARGET.node, lab.runtime.harnessArgv("node", ["-e", LISTENER, "--", TARGET.addr, String(PORT), lab.labId]));
      listeners.push(child);
      await waitEvent(child, "ready", 10000);
    }
    const replies: string[] = [];
    for (const [lab, other] of [[a!, b!], [b!, a!]] as const) {
      const otherBefore = await packetCounters(other);
      const r = await lab.runtime.exec("client", [process.execPath, "-e", PROBE, "--", TARGET.addr, String(PORT)], { timeoutMs: 15000 });
      const got = JSON.parse(r.stdout) as { tcp: Reply; udp: Reply };
      const otherDelta = deltas(otherBefore, await packetCounters(other));
      const line = `from lab ${lab.labId} client to ${TARGET.addr}:${PORT}: tcp answered by lab ${got.tcp.lab ?? got.tcp.error}, udp by lab ${got.udp.lab ?? got.udp.error}; lab ${other.labId} packets +${sum(otherDelta)}`;
      replies.push(line);
      console.log(`      ${line}`);
      expect(got.tcp.lab, line).to.equal(lab.labId);
      expect(got.udp.lab, line).to.equal(lab.labId);
      expect(moved(otherDelta), line).to.deep.equal([]);
    }
    for (const c of listeners) c.kill("SIGTERM"); // ours, by PID; lab.down() reaps them anyway
  });

  it("no node of either lab reaches any of the host's own addresses", async () => {
    // loopback is every namespace's own (127.0.0.1 in a node is the node itself), so it says nothing about the host
    const targets = hostAddresses().filter((h) => h.scope !== "host");
    expect(targets.length, "the host has addresses besides loopback").to.be.greaterThan(0);
    const rows: string[] = [];
    const reached: string[] = [];
    for (const lab of [a!, b!]) {
      await Promise.all(
        scenario.nodes.map(async (n) => {
          const labDevs = n.links.map((l) => l.net);
          for (const h of targets) {
            const route = await routeOf(lab, n.name, h);
            const ping = await lab.runtime.exec(n.name, ["ping", h.family === "inet6" ? "-6" : "-4", "-c", "1", "-W", "1", h.addr], { allowFailure: true });
            // a route may exist only into the lab itself (the host's 192.0.2.2 is inside asa-ips's dmz plan, say)
            const routeOk = route.dev === undefined || labDevs.includes(route.dev);
            const row = `lab ${lab.labId} ${n.name} → ${h.addr} (${h.dev}): route ${route.text}; ping exit ${ping.code}`;
            rows.push(row);
            if (!routeOk || ping.code === 0) reached.push(row);
          }
        }),
      );
    }
    const report = `${rows.length} checks (${targets.map((t) => t.addr).join(", ")} from ${scenario.nodes.length * 2} nodes):\n  ${rows.sort().join("\n  ")}`;
    console.log(`      ${rows.length} checks of ${targets.length} host addresses from ${scenario.nodes.length * 2} nodes; reached: ${reached.length}`);
    expect(reached, report).to.deep.equal([]);
  });

  it("the host's interfaces, addresses, routes and nftables tables are the same while the labs run and after", async () => {
    const during = diffHostNetState(host, hostNetState());
    await a?.down();
    await b?.down();
    const after = diffHostNetState(host, hostNetState());
    expect(during, `while up:\n${during.join("\n")}`).to.deep.equal([]);
    expect(after, `after down:\n${after.join("\n")}`).to.deep.equal([]);
    console.log(`      host: ${host.links.length} interfaces, ${host.addresses.length} addresses, ${host.routes.length} routes, ${host.nftTables.length} nft tables — unchanged`);
  });
});

async function routeOf(lab: Lab, node: string, h: HostAddress): Promise<{ dev?: string; text: string }> {
  const r = await lab.runtime.exec(node, ["ip", h.family === "inet6" ? "-6" : "-4", "-j", "route", "get", h.addr], { allowFailure: true });
  if (r.code !== 0) return { text: `none (${r.stderr.trim()})` };
  const [got] = JSON.parse(r.stdout) as { dev?: string; gateway?: string }[];
  return { dev: got?.dev, text: `via ${got?.gateway ?? "direct"} dev ${got?.dev}` };
}
