// The third-party daemons' own state (TunnelHandle.state) at each phase end,
// taken without holding the scenario's clock: a slow swanctl or occtl must not
// shift a chaos step. Failures are recorded, never thrown.
export type PhaseName = "baseline" | "chaos" | "recovery";

export interface PhaseState {
  phase: PhaseName; // the phase that ended
  atMs: number; // when it was asked for, from the start of the baseline
  state?: Record<string, string>; // per source, as the daemon printed it
  error?: string;
}

export class PhaseStates {
  private readonly taken: Promise<PhaseState>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  /** `read`: the tunnel's state(), absent when its implementation has none (then nothing is taken). */
  constructor(
    private readonly read: (() => Promise<Record<string, string>>) | undefined,
    private readonly start: number,
  ) {}

  /** Take it when `phase` ends at `endsAt` (ms since the epoch). */
  at(phase: PhaseName, endsAt: number): void {
    if (!this.read) return;
    const t = setTimeout(() => this.now(phase), Math.max(0, endsAt - Date.now()));
    t.unref(); // an aborted scenario must not be held open by it
    this.timers.push(t);
  }

  /** Take it now, for `phase` which just ended. */
  now(phase: PhaseName): void {
    const read = this.read;
    if (!read) return;
    const atMs = Date.now() - this.start;
    this.taken.push(
      read().then(
        (state) => ({ phase, atMs, state }),
        (e: Error) => ({ phase, atMs, error: e.message.split("\n")[0] }),
      ),
    );
  }

  /** Everything taken, in phase order; timers not yet fired are dropped. */
  async all(): Promise<PhaseState[]> {
    for (const t of this.timers) clearTimeout(t);
    const order: PhaseName[] = ["baseline", "chaos", "recovery"];
    return (await Promise.all(this.taken)).sort((a, b) => order.indexOf(a.phase) - order.indexOf(b.phase));
  }
}
