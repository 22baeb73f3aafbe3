// What a failing assertion prints: the measured numbers of one scenario.
import { measureProxy, type ProxyMechanism } from "../firewall/mechanism";
import type { ScenarioResult } from "../scenario";

const pct = (d: number) => (Number.isNaN(d) ? "-" : `${(d * 100).toFixed(1)}%`);

/** The proxy measured at the end of the run (see harness/firewall/mechanism.ts). */
export function proxyEvidence(r: ScenarioResult): ProxyMechanism {
  return r.evidence.proxy?.atEnd ?? measureProxy(undefined);
}

export function summarize(r: ScenarioResult): string {
  const lines = [
    `${r.topology}/${r.variant}: ${r.transport} via ${r.firewallMode}${r.proxy ? `/${r.proxy}` : ""} — expected ${r.expect}, got ${r.verdict ?? r.outcome}`,
    ...r.reasons.map((x) => `  because ${x}`),
  ];
  if (r.error) lines.push(`  error: ${r.error}`);
  for (const p of r.phases) lines.push(`  ${p.phase.padEnd(9)} ${p.delivered}/${p.sent} delivered (${pct(p.delivery)})${p.rttMsP50 !== undefined ? `, rtt p50 ${p.rttMsP50} ms` : ""}`);
  if (r.tcp) {
    lines.push(`  tcp-stream: ${r.tcp.phases.map((p) => `${p.phase} ${p.bytes} B (${p.kbitPerSec} kbit/s)`).join(", ")}; ${r.tcp.survived ? "the connection lasted" : `the connection did not last${r.tcp.error ? `: ${r.tcp.error}` : ""}`}`);
  }
  lines.push(`  tunnel: up as ${r.tunnel.inner ?? "-"}; client DPD down ${r.tunnel.clientDownAtMs ?? "never"} ms; headend DPD down ${r.tunnel.headendDownAtMs ?? "never"} ms`);
  if (r.fault) lines.push(`  harness fault: ${r.fault.piece} ${r.fault.why}${r.fault.atMs === undefined ? "" : ` at ${r.fault.atMs} ms`} (${r.fault.phase})`);
  for (const c of r.chaos) lines.push(`  chaos @${c.appliedAtMs} ms ${c.on}: ${c.action}${c.backend ? ` [${c.backend}]` : ""}${c.dropped === undefined ? "" : ` — ${c.dropped} packets dropped`}`);
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
