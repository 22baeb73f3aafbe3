// The mechanism checks (suites/mechanism.ts) on crafted results: each passes
// on a cell's numbers as a real run measured them (matrix.yaml, netns, this
// host), and fails, naming the check, when the mechanism is taken away —
// DTLS off, a bypass that still proxies or tracks, a fault that misses the
// transport, a TCP stream that broke, a stall that let bytes through.
// No lab: these run in a few milliseconds.
import { expect } from "chai";
import * as path from "node:path";
import type { SsSocket } from "../harness/firewall/evidence";
import { PROXY_PORT } from "../harness/firewall/start";
import type { ProxyMechanism } from "../harness/firewall/mechanism";
import type { ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { type Cell, cellOf, designVerdict, mechanismChecks } from "./mechanism";

const TOPOLOGIES = path.join(__dirname, "..", "..", "topologies");
const matrix = selectScenarios(loadTopology(path.join(TOPOLOGIES, "matrix.yaml")), []);
const cell = (variant: string): Cell => cellOf(matrix.find((s) => s.variant === variant)!);

const counters = (c: Record<string, [number, number]>) =>
  ["fwd_c2h_tcp", "fwd_c2h_udp", "fwd_c2h_esp", "fwd_c2h_other", "proxy_c2h_in"].map((name) => ({ name, packets: c[name]?.[0] ?? 0, bytes: c[name]?.[1] ?? 0 }));
const drops = (byProto: Record<string, number>) => {
  const n = Object.values(byProto).reduce((a, b) => a + b, 0);
  return { droppedPackets: n, interfaces: [{ node: "wan", dev: "edge", packets: n, bytes: n * 600, byProto: Object.fromEntries(Object.entries(byProto).map(([p, k]) => [p, { packets: k, bytes: k * 600 }])) }] };
};
const mech = (m: Partial<ProxyMechanism>): ProxyMechanism => ({ proxied: false, clientBytesSent: 0, proxyBytesReceived: 0, stalledBytes: 0, oooPackets: 0, heldMemory: 0, forwardedOut: 0, ...m });
const socket = (s: Partial<SsSocket>): SsSocket =>
  ({ state: "ESTAB", local: `198.51.100.1:${PROXY_PORT}`, peer: "203.0.113.10:44098", localPort: PROXY_PORT, recvQ: 0, sendQ: 0, bytesReceived: 0, bytesSent: 0, bytesAcked: 0, bytesRetrans: 0, segsIn: 0, segsOut: 0, dataSegsIn: 0, dataSegsOut: 0, rcvOooPackets: 0, rmemAlloc: 0, rcvBuf: 0, wmemQueued: 0, drops: 0, retrans: 0, retransNow: 0, lost: 0, unacked: 0, sacked: 0, notsent: 0, processes: [], ...s }) as SsSocket;
const occtl = (cipher: string) => ({ "occtl show users": JSON.stringify([{ Username: "vpnlab", State: "connected", "DTLS cipher": cipher }]) });
const tcpOk = { phases: [{ phase: "baseline", bytes: 100352 }, { phase: "chaos", bytes: 188416 }, { phase: "recovery", bytes: 210944 }], bytesWritten: 499712, bytesReceived: 499712, connections: 1, connected: true, lasted: true, survived: true };

/** A result with the fields the checks read; `over` replaces any of them. */
function result(over: Record<string, unknown> & { evidence?: Record<string, unknown> }): ScenarioResult {
  const { evidence, ...rest } = over;
  return {
    variant: "x",
    phases: [{ phase: "recovery", sent: 200, delivered: 200, delivery: 1 }],
    tcp: tcpOk,
    chaos: [],
    ...rest,
    evidence: { firewall: { node: "firewall", mode: "stateful", ruleset: "", conntrack: [], sockets: [], outOfOrder: [], directions: counters({}), errors: [] }, ...evidence },
  } as unknown as ScenarioResult;
}
const fw = (f: Record<string, unknown>) => ({ node: "firewall", mode: "stateful", ruleset: "", conntrack: [], sockets: [], outOfOrder: [], errors: [], ...f });

// each as measured (vpnlab run topologies/matrix.yaml, netns, 2 cores)
const dtlsStateful = () =>
  result({
    evidence: {
      faults: drops({ tcp: 1, udp: 18 }),
      firewall: fw({ directions: counters({ fwd_c2h_tcp: [22, 6229], fwd_c2h_udp: [989, 639533] }), conntrack: [{ proto: "udp", src: "203.0.113.10", dst: "192.0.2.10", sport: 58868, dport: 443 }, { proto: "tcp", state: "ESTABLISHED", src: "203.0.113.10", dst: "192.0.2.10", sport: 43832, dport: 443 }] }),
      client: { wireBytesSent: 5114, detail: { dtlsEstablished: true } },
      headend: { detail: { dtlsCipher: "(DTLS1.2)-(PSK)-(AES-256-GCM)" } },
      daemonState: ["baseline", "chaos", "recovery"].map((phase) => ({ phase, atMs: 0, state: occtl("(DTLS1.2)-(PSK)-(AES-256-GCM)") })),
    },
  });
const bypass = () =>
  result({
    evidence: {
      faults: drops({ tcp: 44 }),
      firewall: fw({ mode: "full-proxy", proxy: { name: "builtin", label: "the builtin proxy", accepted: 0, connections: [] }, directions: counters({ fwd_c2h_tcp: [1943, 695140] }) }),
      proxy: { atRecoveryStart: mech({ clientBytesSent: 403050, stalledBytes: 403050, accepted: 0 }), atEnd: mech({ clientBytesSent: 634796, stalledBytes: 634796, accepted: 0 }) },
    },
  });
const espStateful = () =>
  result({ evidence: { faults: drops({ esp: 10 }), firewall: fw({ directions: counters({ fwd_c2h_esp: [992, 628072] }), conntrack: [{ proto: "esp", src: "203.0.113.10", dst: "192.0.2.10" }] }) } });
const anyconnectProxy = () =>
  result({
    evidence: {
      faults: drops({ tcp: 14 }),
      firewall: fw({ mode: "full-proxy", proxy: { name: "builtin", label: "the builtin proxy", accepted: 1, connections: [{ client: "203.0.113.10:43842", server: "192.0.2.10:443", state: "open", clientSide: {}, serverSide: {} }] }, directions: counters({ proxy_c2h_in: [941, 682253] }), sockets: [socket({ rcvOooPackets: 15 })] }),
      proxy: { atRecoveryStart: mech({ proxied: true, clientBytesSent: 388568, proxyBytesReceived: 403065, oooPackets: 15, accepted: 1 }), atEnd: mech({ proxied: true, clientBytesSent: 612074, proxyBytesReceived: 633161, oooPackets: 15, accepted: 1 }) },
    },
  });
const stall = () =>
  result({
    phases: [{ phase: "recovery", sent: 200, delivered: 0, delivery: 0 }],
    // as a real base run: the stream's bytes stop at the hole, none in recovery, the connection broken
    tcp: { ...tcpOk, phases: [{ phase: "baseline", bytes: 100352 }, { phase: "chaos", bytes: 20480 }, { phase: "recovery", bytes: 0 }], bytesReceived: 120832, lasted: false, survived: false },
    evidence: {
      faults: drops({ tcp: 21 }),
      firewall: fw({ mode: "full-proxy", proxy: { name: "builtin", label: "the builtin proxy", accepted: 1, connections: [] }, directions: counters({ proxy_c2h_in: [677, 220048] }), sockets: [socket({ rmemAlloc: 200640, rcvOooPackets: 242, bytesReceived: 141200 })] }),
      proxy: {
        atRecoveryStart: mech({ proxied: true, clientBytesSent: 193690, proxyBytesReceived: 141200, stalledBytes: 52490, oooPackets: 229, heldMemory: 189824, forwardedOut: 141200, accepted: 1 }),
        atEnd: mech({ proxied: true, clientBytesSent: 197330, proxyBytesReceived: 141200, stalledBytes: 56130, oooPackets: 242, heldMemory: 200640, forwardedOut: 141200, accepted: 1 }),
      },
    },
  });

const failed = (c: Cell, r: ScenarioResult) => mechanismChecks(c, r).filter((x) => !x.ok).map((x) => x.what);

describe("mechanism checks (suites/mechanism.ts) on crafted results", () => {
  it("the design's verdicts: only cTCP terminated by a full proxy, with loss, fails", () => {
    const fails = matrix.filter((s) => designVerdict(cellOf(s)) === "fails").map((s) => s.variant);
    expect(fails).to.deep.equal(["base"]);
    expect(cell("ctcp-proxy-bypass-loss")).to.include({ bypassed: true, inspected: true, dropFault: true });
    expect(cell("ocserv-dtls-proxy-loss")).to.include({ dtls: true, inspected: true, bypassed: false });
    expect(cell("ctcp-proxy-noloss")).to.include({ dropFault: false });
  });

  it("as measured, every cell's checks hold", () => {
    for (const [c, r] of [[cell("ocserv-dtls-stateful-loss"), dtlsStateful()], [cell("ctcp-proxy-bypass-loss"), bypass()], [cell("esp-stateful-loss"), espStateful()], [cell("anyconnect-proxy-loss"), anyconnectProxy()], [cell("base"), stall()]] as const) {
      expect(failed(c, r), c.variant).to.deep.equal([]);
    }
  });

  it("DTLS forced off (openconnect fell back to TLS): the DTLS cell fails, on bytes and on the session", () => {
    const r = dtlsStateful();
    const ev = r.evidence as unknown as Record<string, Record<string, unknown>>;
    // what a fallback leaves: a few handshake datagrams, the stream on the TLS channel, no cipher in occtl
    ev.firewall.directions = counters({ fwd_c2h_tcp: [980, 650210], fwd_c2h_udp: [3, 900] });
    ev.faults = drops({ tcp: 19 });
    ev.client = { wireBytesSent: 612000, detail: { dtlsEstablished: false } };
    r.evidence.daemonState = ["baseline", "chaos", "recovery"].map((phase) => ({ phase: phase as "baseline", atMs: 0, state: occtl("") }));
    expect(failed(cell("ocserv-dtls-stateful-loss"), r)).to.deep.equal([
      "the fault dropped packets of the cell's own transport (udp/443)",
      "openconnect established DTLS",
      "ocserv's session was on DTLS at the end of every phase",
      "the data crossed on DTLS: UDP bytes ≥ the stream's bytes, TLS < 10 % of UDP",
    ]);
    // a fallback in the middle: DTLS up at the start, the session off DTLS at the end of chaos
    const mid = dtlsStateful();
    mid.evidence.daemonState![1].state = occtl("");
    expect(failed(cell("ocserv-dtls-stateful-loss"), mid)).to.deep.equal(["ocserv's session was on DTLS at the end of every phase"]);
  });

  it("a bypass that still proxies, or still tracks, fails", () => {
    const proxied = bypass();
    proxied.evidence.firewall!.proxy!.accepted = 1;
    proxied.evidence.firewall!.proxy!.connections = [{ client: "203.0.113.10:54135", server: "192.0.2.10:10000", state: "open", clientSide: {}, serverSide: {} }];
    expect(failed(cell("ctcp-proxy-bypass-loss"), proxied)).to.deep.equal(["the proxy never accepted tcp/10000"]);
    const tracked = bypass();
    tracked.evidence.firewall!.conntrack = [{ proto: "tcp", state: "ESTABLISHED", src: "203.0.113.10", dst: "192.0.2.10", sport: 54135, dport: 10000 }];
    expect(failed(cell("ctcp-proxy-bypass-loss"), tracked)).to.deep.equal(["the state bypass left no conntrack entry of tcp/10000"]);
    // and a stateful cell that was not tracked is not what it claims
    const untracked = espStateful();
    untracked.evidence.firewall!.conntrack = [];
    expect(failed(cell("esp-stateful-loss"), untracked)).to.deep.equal(["the stateful firewall tracked esp"]);
  });

  it("a fault that misses the transport (it hit only other packets on the hop) fails; drops without a fault fail too", () => {
    const missed = dtlsStateful();
    missed.evidence.faults = drops({ tcp: 19, udp: 0 });
    expect(failed(cell("ocserv-dtls-stateful-loss"), missed)).to.deep.equal(["the fault dropped packets of the cell's own transport (udp/443)"]);
    // a backend that counts only a total (netem): it stands for the transport where that is all that crosses
    // the hop (ESP), never for a DTLS cell (its TLS channel crosses beside it)
    const total = (n: number) => ({ droppedPackets: n, interfaces: [{ node: "wan", dev: "edge", packets: n, bytes: n * 836 }] });
    const esp = espStateful();
    esp.evidence.faults = total(10);
    expect(failed(cell("esp-stateful-loss"), esp)).to.deep.equal([]);
    esp.evidence.faults = total(0);
    expect(failed(cell("esp-stateful-loss"), esp)).to.deep.equal(["the fault dropped packets of the cell's own transport (esp)"]);
    const dtlsTotal = dtlsStateful();
    dtlsTotal.evidence.faults = total(19);
    expect(failed(cell("ocserv-dtls-stateful-loss"), dtlsTotal)).to.deep.equal(["the fault dropped packets of the cell's own transport (udp/443)"]);
    const noloss = espStateful();
    expect(failed(cell("esp-stateful-noloss"), noloss)).to.deep.equal(["no fault, no drop"]);
  });

  it("a TCP stream that broke, or was never run, fails a surviving cell", () => {
    const broke = espStateful();
    broke.tcp = { ...tcpOk, lasted: false, survived: false, connections: 2 } as ScenarioResult["tcp"];
    expect(failed(cell("esp-stateful-loss"), broke)).to.deep.equal(["the TCP stream inside the tunnel lasted, carrying data in recovery"]);
    expect(failed({ ...cell("esp-stateful-loss"), tcpStream: false }, espStateful())).to.deep.equal(["the TCP stream inside the tunnel lasted"]);
  });

  it("a proxied TLS tunnel that did not recover (bytes held behind a gap, nothing in order in recovery) fails", () => {
    const r = anyconnectProxy();
    r.evidence.proxy!.atEnd.proxyBytesReceived = r.evidence.proxy!.atRecoveryStart.proxyBytesReceived;
    r.evidence.firewall!.sockets = [socket({ rmemAlloc: 4608, rcvOooPackets: 15 })];
    expect(failed(cell("anyconnect-proxy-loss"), r)).to.deep.equal(["the proxy took bytes in order during recovery", "the proxy holds no bytes behind a gap at the end"]);
  });

  it("a TLS-only ocserv cell that sent datagrams fails", () => {
    const r = dtlsStateful();
    r.evidence.faults = drops({ tcp: 19 });
    expect(failed(cell("ocserv-tls-stateful-loss"), r)).to.deep.equal(["a TLS-only cell sent no datagram (no DTLS)"]);
  });

  it("a stall that is not whole fails: bytes taken in order in recovery, nothing held, a sender that stopped at the hole, delivery in recovery", () => {
    const r = stall();
    const p = r.evidence.proxy!;
    p.atEnd.proxyBytesReceived += 1300;
    p.atEnd.forwardedOut += 1300;
    // a sender that stopped at the hole: what the proxy never took is no more than what was dropped
    p.atEnd.stalledBytes = 9000;
    r.evidence.firewall!.sockets = [socket({ bytesReceived: 142500 })];
    r.phases = [{ phase: "recovery", sent: 200, delivered: 120, delivery: 0.6 }] as ScenarioResult["phases"];
    r.tcp = { ...r.tcp!, phases: [...r.tcp!.phases.slice(0, 2), { phase: "recovery", bytes: 4096, kbitPerSec: 8 }] };
    expect(failed(cell("base"), r)).to.deep.equal([
      "proxy sockets with Recv-Q 0, skmem r > 0 and rcv_ooopack > 0 at the end",
      "in-order bytes the proxy took during recovery",
      "the cTCP client kept sending after the hole",
      "recovery delivery",
      "the TCP stream inside the tunnel stalled: 0 B in recovery, the connection did not last",
    ]);
    const lasted = stall();
    lasted.tcp = { ...lasted.tcp!, survived: true, lasted: true };
    expect(failed(cell("base"), lasted)).to.deep.equal(["the TCP stream inside the tunnel stalled: 0 B in recovery, the connection did not last"]);
    const noDrop = stall();
    noDrop.evidence.faults = drops({ udp: 3 });
    expect(failed(cell("base"), noDrop)).to.deep.equal(["the fault dropped packets of the cell's own transport (tcp/10000)"]);
  });
});
