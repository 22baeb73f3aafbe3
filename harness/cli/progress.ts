// Progress of a long run (run, nightly) on stderr. On a terminal: one line,
// rewritten in place — scenario k of n, the phase it is in, elapsed and
// remaining. Not on a terminal (CI logs, cron mail): one plain line when a
// scenario starts and one when it ends, nothing rewritten, no ticks.
// The phase is estimated from the scenario's own phase durations: runScenario
// reports no phase events, and the windows are what the scenario is timed by.
import type { Phases } from "../topology/model";

/** Setup and tunnel-up are not in the topology: this is their guess until a finished scenario measures them. */
export const DEFAULT_OVERHEAD_MS = 8000;
/** Teardown and verdict after recovery (not in the topology either). */
const TAIL_MS = 1500;

export interface PlannedScenario {
  /** What the line names it by, e.g. "asa-ips/natt (netns)". */
  label: string;
  phases: Pick<Phases, "baselineMs" | "chaosMs" | "recoveryMs">;
}

/** The phase a scenario is in `elapsedMs` after it started, by its windows (setup and tunnel-up share the overhead). */
export function phaseAt(p: PlannedScenario, elapsedMs: number, overheadMs: number): string {
  const { baselineMs, chaosMs, recoveryMs } = p.phases;
  if (elapsedMs < overheadMs) return "lab up";
  let t = elapsedMs - overheadMs;
  if (t < baselineMs) return "baseline";
  t -= baselineMs;
  if (t < chaosMs) return "chaos";
  t -= chaosMs;
  if (t < recoveryMs) return "recovery";
  return "verdict";
}

export function plannedMs(p: PlannedScenario, overheadMs: number): number {
  return overheadMs + p.phases.baselineMs + p.phases.chaosMs + p.phases.recoveryMs + TAIL_MS;
}

/** 65000 → "1m05s"; 9000 → "9s"; 3 h → "3h00m". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

interface Running {
  index: number; // 1-based
  startedAt: number;
}

export interface ProgressOptions {
  /** stderr is a terminal: rewrite one line; otherwise plain lines only. */
  tty: boolean;
  /** Labs side by side (the remaining time is divided among them). */
  jobs: number;
  write: (s: string) => void;
  now?: () => number;
  /** The terminal's width: the line is cut to it so it never wraps (a wrapped line cannot be rewritten). */
  columns?: number;
}

export class Progress {
  private readonly started: number;
  private readonly running = new Map<number, Running>();
  private readonly done = new Set<number>();
  private readonly overheads: number[] = [];
  private shown = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly plan: readonly PlannedScenario[],
    private readonly opts: ProgressOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
  }

  /** Setup and tunnel-up as measured by the scenarios done so far (their mean), else the default guess. */
  overheadMs(): number {
    if (this.overheads.length === 0) return DEFAULT_OVERHEAD_MS;
    return this.overheads.reduce((a, b) => a + b, 0) / this.overheads.length;
  }

  /** Scenario `index` (0-based into the plan) started. */
  start(index: number): void {
    this.running.set(index, { index: index + 1, startedAt: this.now() });
    if (!this.opts.tty) this.opts.write(`[${index + 1}/${this.plan.length}] ${this.plan[index].label}: started\n`);
    else this.render();
  }

  /** Scenario `index` ended; `line` says how (printed above the progress line); `setupMs` is its measured lab-up + tunnel-up time. */
  finish(index: number, line: string, setupMs?: number): void {
    this.running.delete(index);
    this.done.add(index);
    if (setupMs !== undefined && setupMs > 0) this.overheads.push(setupMs);
    this.print(`[${index + 1}/${this.plan.length}] ${this.plan[index].label}: ${line}`);
  }

  /** A line of its own (above the progress line on a terminal). */
  print(line: string): void {
    if (this.opts.tty) this.clear();
    this.opts.write(`${line}\n`);
    if (this.opts.tty) this.render();
  }

  /** Estimated time left: what is planned of the scenarios not done, minus what the running ones have used, spread over the jobs. */
  remainingMs(): number {
    const now = this.now();
    const o = this.overheadMs();
    let left = 0;
    this.plan.forEach((p, i) => {
      if (this.done.has(i)) return;
      const r = this.running.get(i);
      left += Math.max(0, plannedMs(p, o) - (r ? now - r.startedAt : 0));
    });
    return left / Math.max(1, Math.min(this.opts.jobs, this.plan.length - this.done.size));
  }

  /** The progress line as it would be shown now. */
  line(): string {
    const now = this.now();
    const o = this.overheadMs();
    const running = [...this.running.entries()].sort((a, b) => a[1].index - b[1].index);
    const what = running.length === 0
      ? `${this.done.size} of ${this.plan.length} done`
      : running.map(([i, r]) => `scenario ${r.index} of ${this.plan.length}: ${this.plan[i].label} — ${phaseAt(this.plan[i], now - r.startedAt, o)}`).join("; ");
    const s = `${what} · ${duration(now - this.started)} elapsed · ~${duration(this.remainingMs())} left`;
    const cols = this.opts.columns ?? 0;
    return cols > 1 && s.length >= cols ? s.slice(0, cols - 2) + "…" : s;
  }

  /** Keep the terminal line current (every second) until end(); nothing on a non-terminal. */
  tickEvery(ms = 1000): void {
    if (!this.opts.tty || this.timer) return;
    this.timer = setInterval(() => this.render(), ms);
    this.timer.unref(); // a forgotten end() must not keep the process alive
  }

  /** The run is over: the progress line goes away. */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.opts.tty) this.clear();
  }

  private render(): void {
    // carriage return + erase to end of line: the line is rewritten, the log above stays
    this.opts.write(`\r${this.line()}\x1b[K`);
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) this.opts.write("\r\x1b[K");
    this.shown = false;
  }
}

/** A Progress on this process's stderr (a terminal or not, as it is). */
export function stderrProgress(plan: readonly PlannedScenario[], jobs: number): Progress {
  return new Progress(plan, { tty: process.stderr.isTTY === true, jobs, write: (s) => void process.stderr.write(s), columns: process.stderr.columns });
}
