// Dead-peer detection, as IKE does it (RFC 3706): liveness is proof that the
// peer hears us — inbound data or an answer to our R-U-THERE. A peer's own
// R-U-THERE is not proof: across a one-way stall (exactly the cTCP failure)
// the peer can still reach us while nothing of ours reaches it.
export interface DpdOptions {
  intervalMs: number;
  retries: number;
}

export type DpdAction = "none" | "probe" | "down";

export class Dpd {
  private lastProof: number;
  private missed = 0;
  private down = false;

  constructor(
    private readonly opts: DpdOptions,
    now: number,
  ) {
    this.lastProof = now;
  }

  /** Inbound data or an R-U-THERE-ACK arrived. */
  proof(now: number): void {
    if (this.down) return;
    this.lastProof = now;
    this.missed = 0;
  }

  /** Called every interval: decide whether to send an R-U-THERE or to declare the peer dead. */
  tick(now: number): DpdAction {
    if (this.down) return "none";
    if (now - this.lastProof < this.opts.intervalMs) return "none";
    if (this.missed >= this.opts.retries) {
      this.down = true;
      return "down";
    }
    this.missed++;
    return "probe";
  }

  get isDown(): boolean {
    return this.down;
  }
  get missedProbes(): number {
    return this.missed;
  }
  get lastProofAt(): number {
    return this.lastProof;
  }
}
