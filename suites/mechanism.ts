// What made a cell's verdict, asserted on the cell's own numbers: one helper
// for every suite that runs the proxy story (matrix, chaos's single-drop,
// docker-parity, asa-ips). The checks follow from what the cell is —
// transport, implementation, DTLS, firewall mode, bypass, whether a fault
// drops packets — never from the topology's `expect`:
//  - a cell the design says survives: its own transport's packets were hit by
//    the fault (the drop rule's counter for that protocol), the firewall
//    forwarded the flow and the proxy never accepted it (or, where a full
//    proxy inspects a real TCP stack, the proxy took bytes in order during
//    recovery and held none behind a gap), a bypassed or routed flow left no
//    conntrack entry and a stateful one did, the TCP stream inside the tunnel
//    lasted, and a DTLS cell carried its data on DTLS (UDP through the
//    firewall, ocserv's session on a DTLS cipher at every phase end);
//  - a cell the design says fails (cTCP through a full proxy that inspects it,
//    with packets lost): the whole stall (suites/proxy-stall.ts) and its
//    packets dropped.
// Each check says what it measured: a failure message carries every number.
import { expect } from "chai";
import { entriesOf } from "../harness/firewall/conntrack";
import { sumCounters } from "../harness/firewall/counters";
import { PROXY_PORT } from "../harness/firewall/start";
import type { ScenarioResult } from "../harness/scenario";
import type { FirewallMode, Impl, ProxyImpl, Scenario, Transport, Verdict } from "../harness/topology/model";
import { proxyStallChecks } from "./proxy-stall";

/** What a cell is, as far as its mechanism goes. */
export interface Cell {
  variant: string;
  transport: Transport;
  impl: Impl;
  /** anyconnect only: data on DTLS (UDP), the TLS channel for control. */
  dtls: boolean;
  port: number;
  firewallMode: FirewallMode | "none";
  proxy?: ProxyImpl;
  /** The full proxy inspects the transport's TCP flow. */
  inspected: boolean;
  /** The transport's flow is in the firewall's bypass list (not proxied, not tracked). */
  bypassed: boolean;
  /** A chaos step drops packets (loss, a drop list, every Nth, a partition). */
  dropFault: boolean;
  /** The probe runs the tcp-stream flow. */
  tcpStream: boolean;
}

export function cellOf(s: Scenario): Cell {
  const { vpn, firewall } = s;
  const flow = dataFlow({ transport: vpn.transport, dtls: vpn.dtls, port: vpn.port });
  const tcpOnPort = (f: { proto: string; port: number }) => f.proto === "tcp" && f.port === vpn.port;
  return {
    variant: s.variant,
    transport: vpn.transport,
    impl: vpn.impl,
    dtls: vpn.transport === "anyconnect" && vpn.dtls,
    port: vpn.port,
    firewallMode: firewall?.mode ?? "none",
    ...(firewall?.mode === "full-proxy" ? { proxy: firewall.proxy } : {}),
    // the TCP transports' flow (anyconnect with DTLS keeps its TLS channel there: the proxy may take that one, never the data)
    inspected: firewall?.mode === "full-proxy" && (vpn.transport === "ctcp" || vpn.transport === "anyconnect") && firewall.inspect.some(tcpOnPort),
    bypassed: (firewall?.bypass ?? []).some((f) => f.proto === flow.proto && f.port === flow.port),
    dropFault: s.chaos.some((c) => {
      const i = c.fault?.impairment;
      return i !== undefined && ((i.loss !== undefined && (i.loss.kind !== "random" || i.loss.percent > 0)) || i.dropPackets !== undefined || i.everyNth !== undefined || i.partition === true);
    }),
    tcpStream: s.probe.flows.includes("tcp-stream"),
  };
}

/** The flow that carries the tunnel's data on the wire. */
export function dataFlow(c: Pick<Cell, "transport" | "dtls" | "port">): { proto: "tcp" | "udp" | "esp"; port?: number } {
  if (c.transport === "esp") return { proto: "esp" };
  if (c.transport === "natt" || (c.transport === "anyconnect" && c.dtls)) return { proto: "udp", port: c.port };
  return { proto: "tcp", port: c.port };
}

/**
 * The design's verdict (DESIGN.md, "The problem it must reproduce"), stated apart from any topology's `expect`:
 * cTCP fails only where a full proxy terminates it and a packet of it is lost; every remedy and control survives.
 */
export function designVerdict(c: Cell): Verdict {
  return c.transport === "ctcp" && c.firewallMode === "full-proxy" && c.inspected && !c.bypassed && c.dropFault ? "fails" : "survives";
}

/** One assertion on a measured number: what, whether it held, and the numbers it rests on. */
export interface Check {
  what: string;
  ok: boolean;
  measured: string;
}

const check = (what: string, ok: boolean, measured: string): Check => ({ what, ok, measured });

/**
 * Packets the cell's faults dropped, of one L4 protocol (the nftables drop rules count them apart). Where a
 * backend counts only a total (netem's qdisc drops, on a host that has netem), the total stands for the
 * transport when `soleProto` says the cell's transport is the only protocol that crosses the faulted hop
 * (every transport but DTLS, whose TLS control channel crosses beside it); otherwise it counts nothing.
 */
export function dropsOf(r: ScenarioResult, proto: string, soleProto = false): number {
  return (r.evidence.faults?.interfaces ?? []).reduce((n, i) => n + (i.byProto ? (i.byProto[proto]?.packets ?? 0) : soleProto ? i.packets : 0), 0);
}

const flowName = (f: { proto: string; port?: number }) => (f.port === undefined ? f.proto : `${f.proto}/${f.port}`);

/** The firewall's c2h counters: forwarded per protocol, and what reached the proxy (TCP) instead. */
function c2h(r: ScenarioResult) {
  const d = r.evidence.firewall?.directions ?? [];
  return {
    known: d.length > 0,
    tcp: sumCounters(d, /^fwd_c2h_tcp$/),
    udp: sumCounters(d, /^fwd_c2h_udp$/),
    esp: sumCounters(d, /^fwd_c2h_esp$/),
    proxyIn: sumCounters(d, /^proxy_c2h_in$/),
  };
}

/** The DTLS cipher of the vpn user's ocserv session in each phase-end snapshot (occtl --json show users). */
export function dtlsCiphers(r: ScenarioResult): { phase: string; cipher: string }[] {
  return (r.evidence.daemonState ?? []).map((s) => {
    let cipher = "";
    try {
      const users: unknown = JSON.parse(s.state?.["occtl show users"] ?? "[]");
      if (Array.isArray(users)) cipher = users.map((u) => String((u as Record<string, unknown>)["DTLS cipher"] ?? "")).find((x) => x !== "") ?? "";
    } catch {
      cipher = "";
    }
    return { phase: s.phase, cipher };
  });
}

/** The checks of a cell the design says survives. */
export function survivalChecks(c: Cell, r: ScenarioResult): Check[] {
  const out: Check[] = [];
  const flow = dataFlow(c);
  const f = r.evidence.faults;
  const by = JSON.stringify(Object.fromEntries((f?.interfaces ?? []).map((i) => [`${i.node}.${i.dev}`, i.byProto ?? `${i.packets} (by protocol: not counted)`])));
  // 1. the fault hit the transport's own packets
  if (c.dropFault) out.push(check(`the fault dropped packets of the cell's own transport (${flowName(flow)})`, dropsOf(r, flow.proto, !c.dtls) > 0, `${dropsOf(r, flow.proto, !c.dtls)} ${flow.proto} packets dropped of ${f?.droppedPackets ?? 0}; by interface and protocol ${by}`));
  else out.push(check("no fault, no drop", (f?.droppedPackets ?? 0) === 0, `${f?.droppedPackets ?? 0} packets dropped; ${by}`));

  // 2. how the firewall carried it: forwarded and never proxied, or proxied by a real TCP stack that recovers
  const fw = r.evidence.firewall;
  const dir = c2h(r);
  const counted = `c2h forwarded tcp ${dir.tcp.packets} pkts/${dir.tcp.bytes} B, udp ${dir.udp.packets}/${dir.udp.bytes}, esp ${dir.esp.packets}/${dir.esp.bytes}; to the proxy ${dir.proxyIn.packets}/${dir.proxyIn.bytes}`;
  const proxy = r.evidence.proxy;
  const accepted = fw?.proxy?.accepted;
  const rowsForFlow = (fw?.proxy?.connections ?? []).filter((x) => flow.proto === "tcp" && x.server?.endsWith(`:${c.port}`)).length;
  const proxiedByDesign = c.firewallMode === "full-proxy" && c.inspected && !c.bypassed && flow.proto === "tcp";
  if (c.firewallMode !== "none") {
    if (!fw) out.push(check("the firewall's evidence was collected", false, "no firewall evidence in the result"));
    else if (!dir.known) out.push(check("the firewall's per-direction counters were read", false, `no counters; errors: ${fw.errors.join("; ") || "none"}`));
  }
  if (proxiedByDesign) {
    const held = (fw?.sockets ?? []).filter((s) => s.localPort === PROXY_PORT && s.state !== "LISTEN" && s.recvQ === 0 && s.rmemAlloc > 0 && s.rcvOooPackets > 0).length;
    const took = proxy ? proxy.atEnd.proxyBytesReceived - proxy.atRecoveryStart.proxyBytesReceived : 0;
    out.push(check(`the full proxy terminated ${flowName(flow)} (a real TCP stack on both sides)`, (proxy?.atEnd.proxied ?? false) && (accepted ?? 0) >= 1, `proxied ${proxy?.atEnd.proxied ?? false}, the proxy accepted ${accepted ?? "?"} connections; ${counted}`));
    out.push(check("the proxy took bytes in order during recovery", took > 0, `${took} B in order during recovery (${proxy?.atRecoveryStart.proxyBytesReceived ?? "?"} → ${proxy?.atEnd.proxyBytesReceived ?? "?"})`));
    out.push(check("the proxy holds no bytes behind a gap at the end", held === 0, `${held} proxy sockets with Recv-Q 0, skmem r > 0 and rcv_ooopack > 0; held memory ${proxy?.atEnd.heldMemory ?? "?"} B`));
  } else if (c.firewallMode !== "none") {
    const fwd = flow.proto === "tcp" ? dir.tcp : flow.proto === "udp" ? dir.udp : dir.esp;
    out.push(check(`the firewall forwarded ${flowName(flow)} itself`, fwd.packets > 0, counted));
    if (c.firewallMode === "full-proxy") {
      if (flow.proto === "tcp") {
        // the proxy's own count of what it accepted: no connection of the flow, and no socket of it at the proxy port
        out.push(check(`the proxy never accepted ${flowName(flow)}`, accepted === 0 && rowsForFlow === 0 && !(proxy?.atEnd.proxied ?? false) && dir.proxyIn.packets === 0, `accepted ${accepted ?? "(the proxy could not say)"}, ${rowsForFlow} of its connections to :${c.port}, proxy sockets ${proxy?.atEnd.proxied ? "present" : "none"}, ${dir.proxyIn.packets} packets to the proxy`));
      } else if (!c.dtls) {
        // no TCP at all in the cell: the proxy, which terminates TCP only, had nothing to take
        out.push(check(`the proxy accepted nothing (${flowName(flow)} is not TCP)`, accepted === 0 && dir.proxyIn.packets === 0, `accepted ${accepted ?? "(the proxy could not say)"}, ${dir.proxyIn.packets} packets to the proxy`));
      }
    }
  }

  // 3. state: a bypass or a plain router leaves no conntrack entry of the flow; a stateful firewall tracks it
  if (fw) {
    const entries = entriesOf(fw.conntrack, flow);
    const shown = `${entries.length} conntrack entries of ${flowName(flow)} of ${fw.conntrack.length}: ${JSON.stringify(entries)}`;
    if (c.bypassed) out.push(check(`the state bypass left no conntrack entry of ${flowName(flow)}`, entries.length === 0, shown));
    else if (c.firewallMode === "route") out.push(check(`a routing firewall keeps no state of ${flowName(flow)}`, entries.length === 0, shown));
    else if (!proxiedByDesign) out.push(check(`the stateful firewall tracked ${flowName(flow)}`, entries.length > 0, shown));
  }

  // 4. the TCP stream inside the tunnel lasted
  if (!c.tcpStream && c.transport === "ctcp" && c.impl === "reference") {
    // no stream (single-drop's cTCP cells: beside one, the drop would as often hit a bare ACK): what carried the
    // tunnel on is the headend's cTCP receiver stepping over the hole — the gap the drop left, skipped, not waited for
    const wire = ((r.evidence.headend?.detail ?? {}) as { wire?: { gaps?: number; gapBytes?: number } }).wire ?? {};
    out.push(check("the headend's cTCP receiver stepped over the hole the drop left (no TCP stream in this cell)", (wire.gaps ?? 0) >= 1 && (wire.gapBytes ?? 0) > 0, `gaps ${wire.gaps ?? "?"}, gap bytes ${wire.gapBytes ?? "?"}`));
  } else if (!c.tcpStream) out.push(check("the TCP stream inside the tunnel lasted", false, "the cell's probe runs no tcp-stream flow: nothing shows a TCP connection lasted"));
  else {
    const rec = r.tcp?.phases.find((p) => p.phase === "recovery")?.bytes ?? 0;
    out.push(check("the TCP stream inside the tunnel lasted, carrying data in recovery", r.tcp?.survived === true && rec > 0, `one connection ${r.tcp?.lasted ?? "?"} (connections ${r.tcp?.connections ?? "?"}${r.tcp?.error ? `, ${r.tcp.error}` : ""}), ${rec} B in recovery of ${r.tcp?.bytesReceived ?? "?"} B`));
  }

  // 5. DTLS: the data went over UDP, and the session stayed on DTLS
  if (c.transport === "anyconnect" && c.impl === "ocserv") {
    const tls = dir.tcp.bytes + dir.proxyIn.bytes;
    const stream = r.tcp?.bytesReceived ?? 0;
    const bytes = `c2h UDP ${dir.udp.packets} pkts/${dir.udp.bytes} B, TLS (TCP) ${tls} B; the stream carried ${stream} B; the client's TLS stream sent ${r.evidence.client?.wireBytesSent ?? "?"} B`;
    if (c.dtls) {
      const ciphers = dtlsCiphers(r);
      const established = r.evidence.client?.detail["dtlsEstablished"];
      out.push(check("openconnect established DTLS", established === true, `dtlsEstablished ${String(established)}`));
      out.push(check("ocserv's session was on DTLS at the end of every phase", ciphers.length === 3 && ciphers.every((x) => x.cipher !== ""), `DTLS cipher by phase end: ${JSON.stringify(ciphers)}; at the end ${JSON.stringify(r.evidence.headend?.detail["dtlsCipher"] ?? "?")}`));
      // every stream byte crossed the firewall in a datagram, and the TLS channel carried a small share beside it
      out.push(check("the data crossed on DTLS: UDP bytes ≥ the stream's bytes, TLS < 10 % of UDP", dir.udp.bytes >= stream && stream > 0 && tls < 0.1 * dir.udp.bytes, bytes));
    } else {
      out.push(check("a TLS-only cell sent no datagram (no DTLS)", dir.known && dir.udp.packets === 0 && tls > 0, bytes));
    }
  }
  return out;
}

/** The checks of a cell the design says fails: the whole stall, and the transport's packets dropped. */
export function failureChecks(c: Cell, r: ScenarioResult): Check[] {
  const flow = dataFlow(c);
  return [
    check(`the fault dropped packets of the cell's own transport (${flowName(flow)})`, dropsOf(r, flow.proto, !c.dtls) > 0, `${dropsOf(r, flow.proto, !c.dtls)} ${flow.proto} packets dropped of ${r.evidence.faults?.droppedPackets ?? 0}`),
    ...proxyStallChecks(r, c.proxy === "builtin"),
    ...(c.tcpStream ? [tcpStalled(r)] : []),
  ];
}

/** A failing cell's TCP stream inside the tunnel: nothing arrived in recovery, and its connection did not last. */
function tcpStalled(r: ScenarioResult): Check {
  const rec = r.tcp?.phases.find((p) => p.phase === "recovery")?.bytes ?? 0;
  return check(
    "the TCP stream inside the tunnel stalled: 0 B in recovery, the connection did not last",
    r.tcp !== undefined && rec === 0 && r.tcp.survived === false,
    `${rec} B in recovery of ${r.tcp?.bytesReceived ?? "?"} B; survived ${r.tcp?.survived ?? "?"} (connections ${r.tcp?.connections ?? "?"}${r.tcp?.error ? `, ${r.tcp.error}` : ""})`,
  );
}

/** Every check of the cell, chosen by the design's verdict for it. */
export function mechanismChecks(c: Cell, r: ScenarioResult): Check[] {
  return designVerdict(c) === "fails" ? failureChecks(c, r) : survivalChecks(c, r);
}

/** One line per check: ✔/✘, what, and the numbers. */
export function formatChecks(checks: readonly Check[]): string {
  return checks.map((x) => `${x.ok ? "✔" : "✘"} ${x.what}: ${x.measured}`).join("\n");
}

/** Assert the cell's mechanism; the message lists every check with its numbers, failed ones first. Returns them (for a summary line). */
export function expectMechanism(c: Cell, r: ScenarioResult, msg: string): Check[] {
  const checks = mechanismChecks(c, r);
  const failed = checks.filter((x) => !x.ok);
  expect(failed.map((x) => x.what), `${c.variant} (design: ${designVerdict(c)}): the mechanism\n${formatChecks([...failed, ...checks.filter((x) => x.ok)])}\n${msg}`).to.deep.equal([]);
  return checks;
}
