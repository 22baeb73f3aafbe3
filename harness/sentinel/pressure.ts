// The kernel's CPU pressure (PSI, /proc/pressure/cpu): the share of time some
// runnable task waited for a CPU. It is the host's own account of starvation,
// apart from any process of the lab. Absent where the kernel has no PSI (or
// booted with psi=0): then only the sentinel judges the host.
import * as fs from "node:fs";

export interface CpuPressure {
  /** `some` total: µs during which at least one task waited for a CPU, since boot. */
  someTotalUs: number;
  /** `some` avg10: % of the last 10 s. */
  someAvg10: number;
  at: number; // ms since the epoch
}

/** Parse /proc/pressure/cpu ("some avg10=2.27 avg60=2.90 avg300=0.88 total=3152194" …). */
export function parseCpuPressure(text: string, at: number): CpuPressure | undefined {
  const m = /^some avg10=([\d.]+) avg60=[\d.]+ avg300=[\d.]+ total=(\d+)$/m.exec(text);
  return m ? { someAvg10: Number(m[1]), someTotalUs: Number(m[2]), at } : undefined;
}

export function readCpuPressure(file = "/proc/pressure/cpu"): CpuPressure | undefined {
  try {
    return parseCpuPressure(fs.readFileSync(file, "utf8"), Date.now());
  } catch {
    return undefined; // no PSI on this kernel
  }
}

/** The share (0..1) of the time between two readings during which some task waited for a CPU. */
export function pressureShare(a: CpuPressure, b: CpuPressure): number {
  const ms = b.at - a.at;
  return ms > 0 ? Math.min(1, Math.max(0, (b.someTotalUs - a.someTotalUs) / 1000 / ms)) : 0;
}
