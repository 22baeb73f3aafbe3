// How late a process's timers run, as a list of stalls with their times.
//
// A timer armed every PERIOD ms fires late when the process could not run: the
// host gave it no CPU, the process was stopped (SIGSTOP), or its own code held
// the event loop. Each gap beyond the period is a stall, kept with the moment
// it began, so a scenario can ask "the worst stall inside my window" and the
// timeline can draw where it happened. perf_hooks' event-loop histogram says
// how long, never when.

/** One stall: the timer was due at `at` (ms since the epoch) and ran `ms` later. */
export interface Stall {
  at: number;
  ms: number;
}

export const STALL_PERIOD_MS = 10;
/** A gap this much beyond the period is kept (smaller ones are the scheduler's ordinary jitter). */
export const STALL_KEEP_MS = 20;
/** At most this many stalls are kept (the oldest go first): hours of a pathological host fit. */
const KEEP = 20_000;

export class StallClock {
  private timer?: NodeJS.Timeout;
  private last = 0;
  readonly stalls: Stall[] = [];
  private readonly listeners = new Set<(s: Stall) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  start(): this {
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), STALL_PERIOD_MS);
    return this;
  }

  /** One timer run: the gap since the last one, less the period, is how late it ran. */
  tick(): void {
    const t = this.now();
    const late = t - this.last - STALL_PERIOD_MS;
    if (late >= STALL_KEEP_MS) {
      const s = { at: this.last + STALL_PERIOD_MS, ms: late };
      this.stalls.push(s);
      if (this.stalls.length > KEEP) this.stalls.splice(0, this.stalls.length - KEEP);
      for (const l of this.listeners) l(s);
    }
    this.last = t;
  }

  onStall(l: (s: Stall) => void): void {
    this.listeners.add(l);
  }

  /** When the timer last ran (ms since the epoch). */
  get lastRun(): number {
    return this.last;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The stalls that overlap [from, to) (ms since the epoch), longest first. */
export function stallsIn(stalls: readonly Stall[], from: number, to: number): Stall[] {
  return stalls.filter((s) => s.at < to && s.at + s.ms > from).sort((a, b) => b.ms - a.ms);
}
