// A real UDP echo flow: the client sends numbered datagrams at a steady rate
// to a responder behind the headend; every echo that comes back is matched
// to its sequence number. Phase accounting happens later, in the harness.
import * as dgram from "node:dgram";
import type { ProbeConfig, ProbeRecord } from "./types";

const MAGIC = 0x564c5042; // "VLPB"

export function encodeProbe(seq: number, payloadBytes: number): Buffer {
  const b = Buffer.alloc(Math.max(16, payloadBytes));
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt32BE(seq, 4);
  b.writeDoubleBE(Date.now(), 8);
  return b;
}

export function decodeProbe(b: Buffer): { seq: number; sentAt: number } | null {
  if (b.length < 16 || b.readUInt32BE(0) !== MAGIC) return null;
  return { seq: b.readUInt32BE(4), sentAt: b.readDoubleBE(8) };
}

export class EchoResponder {
  private sock = dgram.createSocket("udp4");
  echoed = 0;

  async start(port: number): Promise<void> {
    this.sock.on("message", (msg, rinfo) => {
      this.echoed++;
      this.sock.send(msg, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      this.sock.once("error", reject);
      this.sock.bind(port, "0.0.0.0", () => resolve());
    });
  }

  close(): void {
    this.sock.close();
  }
}

export class ProbeSender {
  private sock = dgram.createSocket("udp4");
  private timer?: NodeJS.Timeout;
  /** Sends (or counts unsent) every probe due by now; kept so that stop() completes the schedule up to the stop. */
  private tick: () => void = () => undefined;
  private readonly record: ProbeRecord & { echoes: number[]; arrivals: number[]; due: number[]; unsent: number[] } = {
    sent: [],
    received: [],
    duplicates: 0,
    sendErrors: 0,
    echoes: [],
    arrivals: [],
    due: [],
    unsent: [],
  };

  constructor(private readonly cfg: ProbeConfig) {}

  async start(): Promise<void> {
    this.sock.on("message", (msg) => {
      const p = decodeProbe(msg);
      if (!p || p.seq >= this.record.sent.length) return;
      this.record.echoes[p.seq]++;
      if (this.record.received[p.seq] !== null) this.record.duplicates++;
      else {
        this.record.received[p.seq] = Date.now();
        this.record.arrivals.push(p.seq);
      }
    });
    this.sock.on("error", () => this.record.sendErrors++);
    await new Promise<void>((resolve) => this.sock.bind(0, () => resolve()));
    const periodMs = 1000 / this.cfg.ratePerSec;
    const t0 = Date.now();
    // send on a schedule, not "every period after the last one", so timer drift does not lower the rate;
    // each probe keeps its due time, and one already older than the timeout when we get to it (this
    // process was frozen or starved) is counted lost, never sent late as if the user had waited for it
    const tick = (this.tick = () => {
      const now = Date.now();
      const due = Math.floor((now - t0) / periodMs) + 1;
      while (this.record.sent.length < due) {
        const dueAt = t0 + Math.round(this.record.sent.length * periodMs);
        if (this.cfg.timeoutMs !== undefined && now - dueAt > this.cfg.timeoutMs) this.skipOne(dueAt);
        else this.sendOne(dueAt);
      }
    });
    tick();
    this.timer = setInterval(tick, Math.max(1, Math.floor(periodMs / 2)));
  }

  private sendOne(dueAt: number): void {
    const seq = this.record.sent.length;
    this.record.sent.push(Date.now());
    this.record.due.push(dueAt);
    this.record.received.push(null);
    this.record.echoes.push(0);
    this.sock.send(encodeProbe(seq, this.cfg.payloadBytes), this.cfg.port, this.cfg.to, (err) => {
      if (err) this.record.sendErrors++;
    });
  }

  private skipOne(dueAt: number): void {
    this.record.unsent.push(this.record.sent.length);
    this.record.sent.push(dueAt);
    this.record.due.push(dueAt);
    this.record.received.push(null);
    this.record.echoes.push(0);
  }

  /** Stop sending, wait for late echoes, return what was measured. */
  async stop(graceMs: number): Promise<ProbeRecord> {
    this.tick(); // whatever fell due up to now is sent or counted, even if this process was held until the stop
    clearInterval(this.timer);
    await new Promise((r) => setTimeout(r, graceMs));
    this.sock.close();
    return this.record;
  }
}
