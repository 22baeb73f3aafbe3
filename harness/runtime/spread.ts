// Labs of one run spread over a runtime's locations (docker: its engines;
// netns: this host): each lab goes whole to the location with the fewest labs
// of this run on it at that moment (the first listed on a tie), so N locations
// with --jobs J share the work evenly and a slow one simply takes fewer.

export class Spread<L> {
  private readonly busy: number[];

  /** `what` names a location in the error for an empty list ("Docker engine"). */
  constructor(
    readonly places: readonly L[],
    what = "location",
  ) {
    if (places.length === 0) throw new Error(`no ${what} to run on`);
    this.busy = places.map(() => 0);
  }

  /** Run `work` on the least busy location; the location is free again when it settles. */
  async on<T>(work: (place: L) => Promise<T>): Promise<T> {
    let best = 0;
    for (let i = 1; i < this.busy.length; i++) if (this.busy[i] < this.busy[best]) best = i;
    this.busy[best]++;
    try {
      return await work(this.places[best]);
    } finally {
      this.busy[best]--;
    }
  }
}
