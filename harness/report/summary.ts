// What a failing assertion prints: the measured numbers of one scenario.
import { measureProxy, type ProxyMechanism } from "../firewall/mechanism";
import type { PhaseDelivery, TcpPhase } from "../probe/phases";
import type { ScenarioResult } from "../scenario";

const pct = (d: number) => (Number.isNaN(d) ? "-" : `${(d * 100).toFixed(1)}%`);

/** The proxy measured at the end of the run (see harness/firewall/mechanism.ts). */
export function proxyEvidence(r: ScenarioResult): ProxyMechanism {
  return r.evidence.proxy?.atEnd ?? measureProxy(undefined);
}

const LOST_SHOWN = 20;

/** The UDP echo's other counters of a phase, where measured and not nothing: RTT spread, duplicates, reorder, lost seqs. */
function probeCounters(p: PhaseDelivery): string {
  const parts: string[] = [];
  if (p.unsent) parts.push(`${p.unsent} due but never sent (the sender was held up)`);
  if (p.rttMsMean !== undefined) parts.push(`mean ${p.rttMsMean} ms, p95 ${p.rttMsP95} ms, max ${p.rttMsMax} ms`);
  if (p.duplicates) parts.push(`${p.duplicates} duplicated (${pct(p.duplicateRate ?? NaN)})`);
  if (p.reordered) parts.push(`${p.reordered} reordered (${pct(p.reorderRate ?? NaN)})`);
  const lost = p.lostSeqs ?? [];
  if (lost.length) parts.push(`lost seqs ${lost.slice(0, LOST_SHOWN).join(",")}${lost.length > LOST_SHOWN ? `,… (${lost.length})` : ""}`);
  return parts.map((x) => `, ${x}`).join("");
}

/**
 * The host as the sentinel saw it, and the lab process that stalled longest (evidence about that endpoint):
 * "host: overload sentinel (pid 12) worst stall 13 ms, CPU pressure some 4.1 % (avg10 3.2 %); longest
 * stall in the lab: the agent on headend (the VPN headend) 3005 ms at 14.18 s".
 */
export function hostLine(r: ScenarioResult): string | undefined {
  const h = r.evidence.host;
  const e = r.evidence.endpointStall;
  if (!h && !e) return undefined;
  const parts: string[] = [];
  if (h) {
    const at = h.sentinelStallAt !== undefined && h.sentinelStallMs > 0 ? ` at ${(h.sentinelStallAt / 1000).toFixed(2)} s` : "";
    const psi = h.cpuSomeShare !== undefined ? `, CPU pressure some ${pct(h.cpuSomeShare)} (avg10 ${h.cpuSomeAvg10?.toFixed(1)}%)` : ", CPU pressure not measured";
    parts.push(`overload sentinel${h.sentinelPid ? ` (pid ${h.sentinelPid})` : ""} worst stall ${h.sentinelStallMs} ms${at}${psi}`);
  }
  if (e) parts.push(`longest stall in the lab: ${e.what} ${e.ms} ms${e.atMs !== undefined ? ` at ${(e.atMs / 1000).toFixed(2)} s` : ""}`);
  return `host: ${parts.join("; ")}`;
}

export function summarize(r: ScenarioResult): string {
  const lines = [
    `${r.topology}/${r.variant}: ${r.transport} via ${r.firewallMode}${r.proxy ? `/${r.proxy}` : ""} — expected ${r.expect}, got ${r.verdict ?? r.outcome}`,
    ...r.reasons.map((x) => `  because ${x}`),
  ];
  if (r.error) lines.push(`  error: ${r.error}`);
  for (const p of r.phases) lines.push(`  ${p.phase.padEnd(9)} ${p.delivered}/${p.sent} delivered (${pct(p.delivery)})${p.rttMsP50 !== undefined ? `, rtt p50 ${p.rttMsP50} ms` : ""}${probeCounters(p)}`);
  if (r.tcp) {
    const goodput = (p: TcpPhase) => (p.goodputKbitPerSec === undefined ? "" : `, goodput ${p.goodputKbitPerSec} kbit/s`);
    lines.push(`  tcp-stream: ${r.tcp.phases.map((p) => `${p.phase} ${p.bytes} B (${p.kbitPerSec} kbit/s${goodput(p)})`).join(", ")}; ${r.tcp.survived ? "the connection lasted" : `the connection did not last${r.tcp.error ? `: ${r.tcp.error}` : ""}`}`);
  }
  lines.push(`  tunnel: up as ${r.tunnel.inner ?? "-"}; client DPD down ${r.tunnel.clientDownAtMs ?? "never"} ms; headend DPD down ${r.tunnel.headendDownAtMs ?? "never"} ms`);
  const host = hostLine(r);
  if (host) lines.push(`  ${host}`);
  if (r.fault) lines.push(`  harness fault: ${r.fault.piece} ${r.fault.why}${r.fault.atMs === undefined ? "" : ` at ${r.fault.atMs} ms`} (${r.fault.phase})`);
  if (r.seed !== undefined) lines.push(`  seed ${r.seed} (replay: vpnlab run ${r.file} -v ${r.variant} --seed ${r.seed})`);
  for (const c of r.chaos) {
    const seed = c.seed !== undefined ? ` seed ${c.seed}` : "";
    lines.push(`  chaos @${c.appliedAtMs} ms ${c.on}: ${c.action}${seed}${c.schedule ? ` (${c.schedule})` : ""}${c.backend ? ` [${c.backend}]` : ""}${c.dropped === undefined ? "" : ` — ${c.dropped} packets dropped`}`);
  }
  if (r.evidence.faults) lines.push(`  faults dropped ${r.evidence.faults.droppedPackets} packets in all`);
  const dirs = (r.evidence.firewall?.directions ?? []).filter((d) => d.packets > 0);
  if (r.evidence.firewall?.directions) lines.push(`  firewall counters: ${dirs.length ? dirs.map((d) => `${d.name} ${d.packets} pkt/${d.bytes} B`).join(", ") : "all 0"}`);
  if (r.firewallMode === "full-proxy") {
    const m = proxyEvidence(r);
    const rs = r.evidence.proxy?.atRecoveryStart;
    lines.push(
      m.proxied
        ? `  proxy: client sent ${m.clientBytesSent} B, proxy received in order ${m.proxyBytesReceived} B (${rs ? `${m.proxyBytesReceived - rs.proxyBytesReceived} B of it during recovery` : "-"}), stalled ${m.stalledBytes} B, rcv_ooopack ${m.oooPackets}, skmem r ${m.heldMemory} B, forwarded to the headend ${m.forwardedOut} B${m.accepted === undefined ? "" : `, ${m.accepted} connection(s) accepted`}`
        : `  proxy: carried no connection of this flow (not inspected, or bypassed)${m.accepted === undefined ? "" : `; accepted ${m.accepted} connection(s)`}`,
    );
  }
  return lines.join("\n");
}
