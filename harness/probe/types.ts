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
}
