// natt with `impl: strongswan`, end to end on the lab's own runtime: client —
// wan — headend — server, two real charons, IKEv2 up, what crosses the wan
// counted by nftables, a ping through the tunnel, DPD ending the tunnel when
// the wan drops UDP 4500, and nothing of the host touched or left running.
import { expect } from "chai";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "../../../exec";
import { NetnsRuntime, namespacePids } from "../../../runtime/netns/netns";
import { labDir, newLabId, processStart, removeState, writeState, type LabState } from "../../../runtime/state";
import { PhaseStates } from "../../../phase-state";
import { isRoot } from "../../../testkit/netns";
import { waitUntil } from "../../../wait";
import type { Link, NodeSpec, Role, Scenario } from "../../../topology/model";
import type { ImplContext, TunnelHandle } from "../../impl";
import { CONN } from "./config";
import { strongswan } from "./index";

const PATH_TABLE = "vlt_sw_path";
const COUNTERS = ["natt_to_headend", "natt_to_client", "proto_esp", "ike_500"] as const;
type PathCounts = Record<(typeof COUNTERS)[number], { packets: number; bytes: number }>;
const PINGS = 20;

const cidr = (s: string): { addr: string; prefix: number } => {
  const [addr, prefix] = s.split("/");
  return { addr, prefix: Number(prefix) };
};
const link = (net: string, ip: string, gw?: string): Link => ({ net, ip: cidr(ip), ...(gw ? { gw } : {}) });
const node = (name: string, role: Role, links: Link[]): NodeSpec => ({ name, role, links, routes: [] });

const nodes = [
  node("client", "vpn-client", [link("home", "203.0.113.10/24", "203.0.113.1")]),
  node("wan", "router", [link("home", "203.0.113.1/24"), link("edge", "198.51.100.2/24")]),
  node("headend", "vpn-headend", [link("edge", "198.51.100.1/24", "198.51.100.2"), link("corp", "10.10.0.1/24")]),
  node("server", "host", [link("corp", "10.10.0.20/24", "10.10.0.1")]),
];

const scenario: Scenario = {
  file: "strongswan.test.ts",
  name: "strongswan-natt",
  variant: "base",
  nodes,
  nets: ["home", "edge", "corp"].map((name) => ({
    name,
    members: nodes.flatMap((n) => n.links.filter((l) => l.net === name).map((l) => ({ node: n.name, ip: l.ip }))),
  })),
  vpn: { client: "client", headend: "headend", transport: "natt", impl: "strongswan", port: 4500, pool: cidr("172.29.0.0/24"), dpd: { intervalMs: 1000, retries: 3 }, dtls: false },
  probe: { from: "client", to: "server", flows: ["udp-echo"], ratePerSec: 10, port: 7, timeoutMs: 1000 },
  phases: { baselineMs: 1000, chaosMs: 1000, recoveryMs: 1000 },
  chaos: [],
  expect: "survives",
};

/** What of the host the tunnel must not change: routes, rules, mounts (lab namespaces aside), strongSwan's and resolv's files in /etc. */
async function hostSnapshot(): Promise<Record<string, string>> {
  const hash = (p: string): string => (fs.existsSync(p) ? createHash("sha256").update(fs.readFileSync(p)).digest("hex") : "absent");
  const tree = (d: string): string[] =>
    fs.existsSync(d) ? fs.readdirSync(d, { recursive: true, withFileTypes: true }).map((e) => `${path.join(e.parentPath, e.name)}:${e.isFile() ? hash(path.join(e.parentPath, e.name)) : "dir"}`).sort() : ["absent"];
  return {
    routes: (await run(["ip", "route", "show", "table", "all"])).stdout,
    rules: (await run(["ip", "rule", "show"])).stdout,
    links: (await run(["ip", "-o", "link", "show"])).stdout.split("\n").map((l) => l.split(":")[1]).join(","),
    // `ip netns add` (ours and other engineers' labs) mounts namespace files, and a Docker engine mounts its
    // containers' layers and network namespaces (test jobs side by side): neither is the tunnel's doing
    mounts: fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => !l.includes("/run/netns") && !/ - nsfs /.test(l) && !/\/overlay2\/[0-9a-f]+\/merged /.test(l))
      .join("\n"),
    etc: ["/etc/strongswan.conf", "/etc/ipsec.conf", "/etc/ipsec.secrets", "/etc/resolv.conf"].map(hash).join(",") + tree("/etc/swanctl").join(",") + tree("/etc/strongswan.d").join(","),
    runCharon: ["/run/charon.pid", "/run/charon.vici", "/run/charon.ctl"].map((p) => `${p}:${fs.existsSync(p)}`).join(","),
  };
}

describe("vpn/impls/strongswan (root; two charons with kernel-libipsec, natt, on the netns runtime)", function () {
  this.timeout(60000);
  let runtime: NetnsRuntime | undefined;
  let labId = "";
  let handle: TunnelHandle | undefined;
  let hostBefore: Record<string, string> = {};
  const faults: string[] = [];
  const logs: string[] = [];

  before(async function () {
    if (!isRoot()) this.skip(); // namespaces, TUN, nftables, mounts
    hostBefore = await hostSnapshot();
    labId = newLabId();
    const state: LabState = {
      labId, runtime: "netns", topology: scenario.name, variant: "base", file: scenario.file, ownerPid: process.pid, holder: "run",
      ownerStart: processStart(process.pid) ?? "", created: new Date().toISOString(), namespaces: [], pids: [],
    };
    writeState(state);
    runtime = new NetnsRuntime(labId, state);
    for (const n of nodes) await runtime.createNode(n);
    for (const net of scenario.nets) await runtime.createNet(net);
    for (const n of nodes) await runtime.configureNode(n);
    // counted where the Internet would be: every outer packet between client and headend crosses the wan
    const rules = [
      `table inet ${PATH_TABLE} {`,
      ...COUNTERS.map((c) => `  counter ${c} {}`),
      "  chain path {",
      "    type filter hook forward priority 0; policy accept;",
      '    ip saddr 203.0.113.10 udp dport 4500 counter name "natt_to_headend"',
      '    ip daddr 203.0.113.10 udp sport 4500 counter name "natt_to_client"',
      '    meta l4proto esp counter name "proto_esp"',
      '    udp dport 500 counter name "ike_500"',
      '    udp sport 500 counter name "ike_500"',
      "  }",
      "}",
      "",
    ];
    await runtime.exec("wan", ["nft", "-f", "-"], { input: rules.join("\n") });
  });

  after(async () => {
    await handle?.stop();
    await runtime?.destroy();
    if (labId) removeState(labId);
  });

  const ctx = (): ImplContext => ({
    scenario,
    runtime: runtime as NetnsRuntime,
    dir: labDir(labId),
    agent: () => Promise.reject(new Error("strongswan uses no agent")),
    reportFault: (piece, why) => void faults.push(`${piece}: ${why}`),
    log: (msg) => void logs.push(msg),
  });

  async function pathCounts(): Promise<PathCounts> {
    const r = await (runtime as NetnsRuntime).exec("wan", ["nft", "-j", "list", "counters", "table", "inet", PATH_TABLE]);
    const items = (JSON.parse(r.stdout) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] }).nftables;
    const out = {} as PathCounts;
    for (const c of COUNTERS) {
      const found = items.find((i) => i.counter?.name === c)?.counter;
      out[c] = { packets: found?.packets ?? -1, bytes: found?.bytes ?? -1 };
    }
    return out;
  }

  it("comes up with IKEv2 on UDP 4500 only, the client's address from the pool, charon's pid file in its private /run", async () => {
    handle = await strongswan.start(ctx());
    const c = await handle.counters("client");
    const ike = c.detail.ike as { state: string; localPort: number; remotePort: number; children: { state: string; encap: boolean }[] };
    const shown = JSON.stringify({ inner: handle.inner, ike, logs });
    expect(handle.inner, shown).to.match(/^172\.29\.0\.(\d+)$/);
    expect(Number(handle.inner.split(".")[3]), shown).to.be.within(2, 254);
    expect(ike.state, shown).to.equal("ESTABLISHED");
    expect([ike.localPort, ike.remotePort], shown).to.deep.equal([4500, 4500]);
    expect(ike.children.map((ch) => [ch.state, ch.encap]), shown).to.deep.equal([["INSTALLED", true]]);
    // the pid file charon insists on writing went to the node's own /run, not the host's
    for (const n of ["client", "headend"]) expect(fs.existsSync(path.join(labDir(labId), `run-${n}`, "charon.pid")), n).to.equal(true);
    expect(fs.existsSync("/run/charon.pid"), "host /run/charon.pid").to.equal(false);
  });

  it("carries a ping from the client to the server through the tunnel, as ESP in UDP 4500 across the wan (no ESP, no port 500)", async () => {
    const h = handle as TunnelHandle;
    const rt = runtime as NetnsRuntime;
    const route = (await rt.exec("client", ["ip", "route", "get", "10.10.0.20"])).stdout;
    const p0 = await pathCounts();
    const c0 = await h.counters("client");
    const ping = await rt.exec("client", ["ping", "-n", "-c", String(PINGS), "-i", "0.05", "-W", "2", "10.10.0.20"], { allowFailure: true });
    const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? -1);
    const p1 = await pathCounts();
    const c1 = await h.counters("client");
    const natt = p1.natt_to_headend.packets - p0.natt_to_headend.packets;
    const back = p1.natt_to_client.packets - p0.natt_to_client.packets;
    const inner = { sent: c1.innerSent - c0.innerSent, received: c1.innerReceived - c0.innerReceived, wireSent: c1.wireBytesSent - c0.wireBytesSent };
    const shown = JSON.stringify({ route, received, natt, back, p1, inner, ping: ping.stdout.split("\n").slice(-3) });
    expect(route, shown).to.match(/dev ipsec\d/);
    expect(received, shown).to.equal(PINGS);
    expect(natt, shown).to.be.at.least(PINGS);
    expect(back, shown).to.be.at.least(PINGS);
    expect(p1.proto_esp.packets, shown).to.equal(0);
    expect(p1.ike_500.packets, shown).to.equal(0);
    expect(inner.sent, shown).to.be.at.least(PINGS);
    expect(inner.received, shown).to.be.at.least(PINGS);
    // each echo request went out as at least its own 84 bytes plus ESP-in-UDP framing
    expect(inner.wireSent, shown).to.be.above(PINGS * 84);
  });

  it("gives each charon's own SAs (swanctl --list-sas) as the phase-end state", async () => {
    const h = handle as TunnelHandle;
    const states = new PhaseStates(() => h.state!(), Date.now());
    states.now("chaos");
    const [st] = await states.all();
    const shown = JSON.stringify(st, null, 1);
    expect(st.error, shown).to.equal(undefined);
    for (const side of ["client", "headend"]) {
      const text = st.state?.[`charon-${side}`] ?? "";
      expect(text, shown).to.match(new RegExp(`^${CONN}: #\\d+, ESTABLISHED, IKEv2`, "m"));
      expect(text, shown).to.match(new RegExp(`^  ${CONN}: #\\d+, reqid \\d+, INSTALLED, TUNNEL-in-UDP`, "m"));
    }
  });

  it("reports a dead peer once the wan drops UDP 4500 (DPD 1 s x 3), with no harness fault", async () => {
    const h = handle as TunnelHandle;
    const rt = runtime as NetnsRuntime;
    for (const dir of ["sport", "dport"]) await rt.exec("wan", ["nft", "add", "rule", "inet", PATH_TABLE, "path", "udp", dir, "4500", "drop"]);
    const down = await waitUntil(async () => h.downs()[0], { what: "a tunnel down", timeoutMs: 20_000 }).catch((e: Error) => {
      throw new Error(`${e.message}; downs ${JSON.stringify(h.downs())}\n${h.logs()["charon-headend"]}`);
    });
    const c = await h.counters(down.side);
    const shown = JSON.stringify({ downs: h.downs(), dpdSent: c.dpdSent, faults });
    expect(down.reason, shown).to.match(/dead peer: no answer after 3 tries/);
    expect(c.dpdSent, shown).to.be.at.least(1);
    expect(faults, shown).to.deep.equal([]);
  });

  it("a charon that dies before stop() is a harness fault naming it, not a tunnel down", async () => {
    const h = handle as TunnelHandle;
    const rt = runtime as NetnsRuntime;
    const pids = await namespacePids(rt.netnsName("client"));
    expect(pids, "processes in the client's namespace").to.have.length(1); // charon alone: ip netns exec and the wrapper exec'd it
    const downsBefore = h.downs().length;
    process.kill(pids[0], "SIGKILL");
    const fault = await waitUntil(async () => faults[0], { what: "a fault", timeoutMs: 5000, intervalMs: 50 });
    const shown = JSON.stringify({ pid: pids[0], faults, downs: h.downs() });
    expect(fault, shown).to.match(new RegExp(`^charon on client \\(pid ${pids[0]}\\): killed by SIGKILL`));
    expect(faults, shown).to.have.length(1);
    expect(h.downs(), shown).to.have.length(downsBefore);
  });

  it("stops both charons by PID and leaves the host as it was", async () => {
    const h = handle as TunnelHandle;
    const rt = runtime as NetnsRuntime;
    const faultsBefore = faults.length;
    await h.stop();
    await h.stop(); // idempotent
    const left: Record<string, number[]> = {};
    for (const n of ["client", "headend"]) left[n] = await namespacePids(rt.netnsName(n));
    const tun = (await rt.exec("client", ["ip", "-o", "link", "show"])).stdout;
    const wire = await rt.exec("client", ["nft", "list", "tables"]);
    const shown = JSON.stringify({ left, tun, wire: wire.stdout, faults });
    expect(left, shown).to.deep.equal({ client: [], headend: [] });
    expect(tun, shown).to.not.match(/ipsec\d/);
    expect(wire.stdout, shown).to.not.include("vl_strongswan_wire");
    expect(faults, shown).to.have.length(faultsBefore); // stopping on purpose is no fault
    const now = await hostSnapshot();
    for (const k of Object.keys(hostBefore)) expect(now[k], `host ${k} changed`).to.equal(hostBefore[k]);
  });

  it("refuses to come up when the path drops UDP 4500, says why, and leaves nothing running", async () => {
    const rt = runtime as NetnsRuntime;
    // the wan still drops UDP 4500 (the DPD test): IKE_SA_INIT is never answered
    const err = await strongswan.start(ctx()).then(
      (hd) => hd.stop().then(() => undefined),
      (e: Error) => e,
    );
    const left: Record<string, number[]> = {};
    for (const n of ["client", "headend"]) left[n] = await namespacePids(rt.netnsName(n));
    const shown = JSON.stringify({ err: err?.message.slice(0, 600), left });
    expect(err, shown).to.be.instanceOf(Error);
    expect(err?.message, shown).to.match(/did not come up/).and.match(/charon-client\.log/);
    expect(left, shown).to.deep.equal({ client: [], headend: [] });
  });
});
