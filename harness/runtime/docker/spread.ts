// Scenarios of one run spread over several Docker engines: each lab goes whole
// to the engine with the fewest labs of this run on it at that moment (the
// first listed on a tie), so N engines with --jobs J share the work evenly
// and a slow engine simply takes fewer.
import type { Engine } from "./engines";

export class EngineSpread {
  private readonly busy: number[];

  constructor(readonly engines: readonly Engine[]) {
    if (engines.length === 0) throw new Error("no Docker engine to run on");
    this.busy = engines.map(() => 0);
  }

  /** Run `work` on the least busy engine; the engine is free again when it settles. */
  async on<T>(work: (engine: Engine) => Promise<T>): Promise<T> {
    let best = 0;
    for (let i = 1; i < this.busy.length; i++) if (this.busy[i] < this.busy[best]) best = i;
    this.busy[best]++;
    try {
      return await work(this.engines[best]);
    } finally {
      this.busy[best]--;
    }
  }
}
