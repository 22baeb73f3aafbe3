// The matrix (topologies/matrix.yaml) as a table: one line per cell — what it
// is, what it should do, what it did and the numbers behind the verdict.
// Shared by suites/matrix.spec.ts and bench/matrix.ts.
import type { ScenarioResult } from "../scenario";
import type { Scenario } from "../topology/model";

/** A cell has loss when its chaos applies any. */
export const hasLoss = (s: Scenario): boolean => s.chaos.some((c) => c.fault?.impairment.loss !== undefined);
/** TCP stream bytes the sink received during recovery. */
export const recoveryBytes = (r: ScenarioResult): number => r.tcp?.phases.find((p) => p.phase === "recovery")?.bytes ?? 0;

/** One line per cell: what it is, what it should do, what it did, and the numbers behind it. */
export function matrixTable(cells: { s: Scenario; r?: ScenarioResult }[]): string {
  const head = ["cell", "transport", "impl", "mode", "loss", "expect", "verdict", "dropped", "tcp recovery B", "tcp lasted"];
  const rows = cells.map(({ s, r }) => [
    s.variant,
    s.vpn.transport + (s.vpn.transport === "anyconnect" && s.vpn.dtls ? "+dtls" : ""),
    s.vpn.impl,
    s.firewall?.mode ?? "none",
    hasLoss(s) ? "5%" : "-",
    s.expect,
    !r ? "did not run" : r.outcome === "lab-error" ? "LAB ERROR" : `${r.verdict}${r.verdict === s.expect ? "" : " ✗"}`,
    String(r?.evidence.faults?.droppedPackets ?? 0),
    String(r ? recoveryBytes(r) : 0),
    r?.tcp ? String(r.tcp.survived) : "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [head, ...rows].map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
