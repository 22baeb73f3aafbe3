// What the probe is told and what it reports (the agent carries both).
export interface ProbeConfig {
  to: string; // responder address (inside the protected network)
  port: number;
  ratePerSec: number;
  payloadBytes: number;
  /**
   * A reply later than this counts as lost. A probe whose due time is further back than this when the
   * sender gets to it (its process was frozen or starved) is not sent at all: it is lost for the user.
   */
  timeoutMs?: number;
}

/** What the probe sender returns: send and receive times (ms since epoch) by sequence number. */
export interface ProbeRecord {
  /** sent[seq] = time sent (for a probe never sent, its due time). */
  sent: number[];
  /**
   * due[seq] = when the schedule said to send it: the probe counts what was due, not what was sent, so a
   * sender held up with its endpoint (the client's agent frozen) loses its probes instead of skipping them.
   * Absent in older records (then sent[] is the schedule).
   */
  due?: number[];
  /** The seqs that were due but never sent (the sender was held past the timeout), ascending. */
  unsent?: number[];
  received: (number | null)[]; // received[seq] = time the echo came back, null if it never did
  duplicates: number;
  sendErrors: number;
  /** echoes[seq] = echoes that came back for seq (a datagram duplicated on the way is echoed twice). Absent in older records. */
  echoes?: number[];
  /** The seqs of the first echoes, in the order they arrived (reorder: timestamps alone tie within a millisecond). */
  arrivals?: number[];
}

/** The TCP stream flow (probe flow tcp-stream). */
export interface TcpStreamConfig {
  to: string;
  port: number;
  bytesPerSec: number;
}

export interface TcpStreamRecord {
  connectedAt: number | null;
  bytesWritten: number; // handed to the kernel
  bytesQueued: number; // given to the socket (written or still in its user-space buffer)
  unsent?: number; // still in the socket's user-space buffer when the flow stopped
  error?: string; // the connection failed (reset, timeout)
  closed: boolean;
}

/** What the sink saw: bytes per 100 ms bucket ([ms since the epoch, bytes]). */
export interface TcpSinkReport {
  connections: number;
  open: number;
  bytes: number;
  /** By arrival time (the timeline chart). */
  buckets: [number, number][];
  /** By the time the sender wrote them (phase accounting: what was offered in a phase and got through). */
  sentBuckets: [number, number][];
}
