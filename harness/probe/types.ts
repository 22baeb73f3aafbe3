// What the probe is told and what it reports (the agent carries both).
export interface ProbeConfig {
  to: string; // responder address (inside the protected network)
  port: number;
  ratePerSec: number;
  payloadBytes: number;
}

/** What the probe sender returns: send and receive times (ms since epoch) by sequence number. */
export interface ProbeRecord {
  sent: number[]; // sent[seq] = time sent
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
