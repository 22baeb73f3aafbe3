// The result table `vpnlab run` prints: one row per variant.
import { firstDownMs, type ScenarioResult } from "../scenario";

const pct = (d: number | undefined) => (d === undefined || Number.isNaN(d) ? "-" : `${(d * 100).toFixed(1)}%`);
const secs = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)}s`);

export function resultRow(r: ScenarioResult): string[] {
  const phase = (name: string) => r.phases.find((p) => p.phase === name);
  const fw = r.proxy ? `${r.firewallMode}/${r.proxy}` : r.firewallMode;
  const transport = r.impl === "reference" ? r.transport : `${r.transport}/${r.impl}`;
  const outcome = r.outcome === "lab-error" ? "LAB-ERROR" : r.passed ? "ok" : "MISMATCH";
  return [
    r.variant,
    transport,
    fw,
    r.expect,
    r.verdict ?? "-",
    pct(phase("baseline")?.delivery),
    pct(phase("chaos")?.delivery),
    pct(phase("recovery")?.delivery),
    secs(firstDownMs(r)),
    secs(r.timing.totalMs),
    outcome,
  ];
}

export const HEADER = ["variant", "transport", "firewall", "expect", "verdict", "baseline", "chaos", "recovery", "dpd-down", "duration", "result"];

/** Left-aligned columns, two spaces apart, under a header row. */
export function formatTable(rows: string[][], header: string[] = HEADER): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
