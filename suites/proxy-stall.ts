// The full proxy's stall, asserted on a run's own numbers (asa-ips, matrix,
// single-drop, docker-parity): the cTCP flow went through the proxy, the
// proxy holds bytes behind a gap (rcv_ooopack, memory held, nothing readable)
// that the cTCP client kept sending after the hole (more than the fault took
// away), took not one byte in order during recovery, and the probe got
// nothing back then.
import { expect } from "chai";
import { holdsOutOfOrder } from "../harness/firewall/evidence";
import { PROXY_PORT } from "../harness/firewall/start";
import type { ScenarioResult } from "../harness/scenario";

/** The stall's checks, each with its numbers. `builtin`: the project's own proxy, which also says it forwarded only what it took in order. */
export function proxyStallChecks(r: ScenarioResult, builtin: boolean): { what: string; ok: boolean; measured: string }[] {
  const p = r.evidence.proxy;
  if (!p) return [{ what: "the full proxy's evidence was measured", ok: false, measured: "no proxy evidence in the result (not a full-proxy cell?)" }];
  const { atRecoveryStart: rs, atEnd: end } = p;
  const recovery = r.phases.find((x) => x.phase === "recovery");
  // behind a gap: rcv_ooopack on the proxy's client-facing socket, with memory held and nothing readable
  const held = (r.evidence.firewall?.sockets ?? []).filter((x) => x.localPort === PROXY_PORT && holdsOutOfOrder(x));
  const took = end.proxyBytesReceived - rs.proxyBytesReceived;
  const sent = end.clientBytesSent - rs.clientBytesSent;
  const dropped = r.evidence.faults?.interfaces.reduce((n, i) => n + i.bytes, 0) ?? 0;
  const out = [
    { what: "the cTCP flow went through the proxy", ok: end.proxied, measured: `proxied ${end.proxied}, accepted ${end.accepted ?? "?"}` },
    { what: "bytes the cTCP client sent that the proxy never took in order", ok: end.stalledBytes > 0, measured: `${end.stalledBytes} B stalled (client sent ${end.clientBytesSent} B, proxy took ${end.proxyBytesReceived} B in order)` },
    { what: "proxy socket rcv_ooopack", ok: end.oooPackets > 0, measured: `${end.oooPackets} out-of-order packets, ${end.heldMemory} B held` },
    { what: "proxy sockets with Recv-Q 0, skmem r > 0 and rcv_ooopack > 0 at the end", ok: held.length > 0, measured: `${held.length}: ${held.map((x) => `${x.local}←${x.peer} r ${x.rmemAlloc} ooo ${x.rcvOooPackets}`).join(", ")}` },
    { what: "in-order bytes the proxy took during recovery", ok: took === 0, measured: `${took} B (${rs.proxyBytesReceived} → ${end.proxyBytesReceived})` },
    // the sender did not stop at the hole: it sent on (the proxy holds those bytes) — more than the fault took away.
    // In recovery it sends on only while its DPD has not yet declared the tunnel down (or with DPD off).
    { what: "the cTCP client kept sending after the hole", ok: end.stalledBytes > dropped, measured: `${end.stalledBytes} B sent and never taken in order against ${dropped} B the fault dropped (packets with headers); ${sent} B put on the wire during recovery` },
    { what: "recovery delivery", ok: recovery?.delivery === 0, measured: `${recovery ? `${recovery.delivered} of ${recovery.sent} (${recovery.delivery})` : "no recovery phase"}` },
  ];
  if (builtin) out.push({ what: "the proxy forwarded only what it took in order", ok: end.forwardedOut === end.proxyBytesReceived, measured: `forwarded ${end.forwardedOut} B, took ${end.proxyBytesReceived} B in order` });
  return out;
}

/** Assert the whole stall; the message lists every check with its numbers. */
export function expectProxyStall(r: ScenarioResult, msg: string, builtin: boolean): void {
  const checks = proxyStallChecks(r, builtin);
  const lines = checks.map((x) => `${x.ok ? "✔" : "✘"} ${x.what}: ${x.measured}`).join("\n");
  expect(checks.filter((x) => !x.ok).map((x) => x.what), `the full proxy's stall\n${lines}\n${msg}`).to.deep.equal([]);
}
