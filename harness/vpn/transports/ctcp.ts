// cTCP as Cisco builds it: ESP packets, length-framed, inside something that
// looks like TCP on the wire — a three-way handshake, sequence numbers that
// advance, ACK fields filled — but is not TCP: nothing is ever retransmitted,
// the ACKs the peer sends are ignored, and a gap is skipped, not waited for.
// It runs over raw sockets, so the kernel's own TCP stack would answer the
// peer's segments with RSTs; an nftables rule in this node's namespace drops
// them (never anywhere else).
import { randomInt } from "node:crypto";
import { run } from "../../exec";
import * as native from "../../native";
import { decodeSegment, encodeSegment, seqAdd, type TcpFlags } from "../ctcp/segment";
import { StreamReceiver, StreamSender, frame } from "../ctcp/stream";
import type { Transport, TransportOptions, TransportStats } from "./transport";

const IPPROTO_TCP = 6;
const WINDOW = 65535;
const MSS = 1360;
const SYN_RETRY_MS = 1000;
const SYN_ATTEMPTS = 10;
export const RST_TABLE = "vpnlab_ctcp";

/** nftables text that drops the kernel's RSTs for the raw-socket port, in this namespace's OUTPUT only. */
export function rstSuppressionRuleset(localPort: number): string {
  return [
    `table inet ${RST_TABLE} {`,
    "  chain out {",
    "    type filter hook output priority 0; policy accept;",
    "    # the kernel has no socket on this port (the raw socket owns the flow): keep its RSTs off the wire",
    `    tcp sport ${localPort} tcp flags & rst == rst counter drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

interface Conn {
  key: string; // "ip:port" of the peer
  ip: string;
  port: number;
  isn: number;
  irs?: number; // the peer's ISN
  state: "syn-sent" | "syn-rcvd" | "established";
  sender: StreamSender;
  receiver?: StreamReceiver;
}

export class CtcpTransport implements Transport {
  readonly name = "ctcp";
  private fd = -1;
  private watcher?: { close(): void };
  private handler: (esp: Buffer, peer: string) => void = () => undefined;
  private readonly conns = new Map<string, Conn>();
  private peer?: Conn; // where send() goes
  private localPort: number;
  private ipId = randomInt(0, 0xffff);
  private established?: () => void;
  private readonly counters = {
    synSent: 0, synAckSent: 0, segmentsSent: 0, segmentsReceived: 0, acksSent: 0, acksIgnored: 0,
    rstsIgnored: 0, checksumNotFilled: 0, sendErrors: 0,
  };

  constructor(private readonly opts: TransportOptions) {
    this.localPort = opts.side === "client" ? randomInt(20000, 60000) : opts.port;
  }

  async start(): Promise<void> {
    await run(["nft", "-f", "-"], { input: rstSuppressionRuleset(this.localPort) });
    this.fd = native.rawSocket(IPPROTO_TCP, true);
    this.watcher = native.watch(this.fd, (pkt) => this.receive(pkt), (e) => this.opts.log(`ctcp raw socket: ${e.message}`));
    if (this.opts.side === "headend") return;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const isn = randomInt(0, 2 ** 32 - 1);
    const conn: Conn = {
      key: `${this.opts.headendIp}:${this.opts.port}`,
      ip: this.opts.headendIp,
      port: this.opts.port,
      isn,
      state: "syn-sent",
      sender: new StreamSender(isn),
    };
    this.conns.set(conn.key, conn);
    const up = new Promise<void>((resolve) => (this.established = resolve));
    for (let attempt = 0; attempt < SYN_ATTEMPTS && conn.state !== "established"; attempt++) {
      // a new SYN is a new connection attempt, not a retransmission of data
      this.emit(conn, { syn: true }, conn.isn, 0, Buffer.alloc(0), MSS);
      this.counters.synSent++;
      await Promise.race([up, new Promise((r) => setTimeout(r, SYN_RETRY_MS))]);
    }
    if (conn.state !== "established") {
      throw new Error(`ctcp: no SYN-ACK from ${conn.key} after ${SYN_ATTEMPTS} SYNs`);
    }
  }

  /**
   * After a gap in a stream a proxy re-segmented, frame boundaries are found again by a length
   * no ESP packet of this tunnel can exceed and the SPI every frame of ours starts with.
   */
  private newReceiver(irs: number): StreamReceiver {
    const spi = this.opts.inboundSpi;
    return new StreamReceiver(irs, {
      maxFrame: this.opts.maxPacket,
      isFrameStart: (p) => p.length >= 8 && p.readUInt32BE(0) === spi,
    });
  }

  private emit(conn: Conn, flags: TcpFlags, seq: number, ack: number, payload: Buffer, mss?: number): void {
    this.ipId = (this.ipId + 1) & 0xffff;
    const pkt = encodeSegment(
      { src: this.opts.localIp, dst: conn.ip, sport: this.localPort, dport: conn.port, seq, ack, flags, window: WINDOW, mss, payload },
      this.ipId,
    );
    try {
      native.sendTo(this.fd, pkt, conn.ip);
    } catch {
      this.counters.sendErrors++; // lost like any packet on the wire: cTCP never sends it again
    }
  }

  private receive(pkt: Buffer): void {
    const seg = decodeSegment(pkt);
    if (!seg || seg.dport !== this.localPort || seg.dst !== this.opts.localIp) return;
    // Not a reason to drop: a segment a local TCP stack (a proxy in the path) sent across veth keeps
    // CHECKSUM_PARTIAL — the kernel trusts it and never fills the checksum in, and the raw socket sees it so.
    if (!seg.checksumOk) this.counters.checksumNotFilled++;
    const key = `${seg.src}:${seg.sport}`;
    if (seg.flags.rst) {
      this.counters.rstsIgnored++;
      return;
    }
    let conn = this.conns.get(key);
    if (this.opts.side === "headend" && seg.flags.syn && !seg.flags.ack) {
      // the same SYN again means our SYN-ACK was lost: answer it again; any other SYN opens a new connection
      if (!conn || conn.irs !== seg.seq) {
        const isn = randomInt(0, 2 ** 32 - 1);
        conn = { key, ip: seg.src, port: seg.sport, isn, irs: seg.seq, state: "syn-rcvd", sender: new StreamSender(isn), receiver: this.newReceiver(seg.seq) };
        this.conns.set(key, conn);
      }
      this.emit(conn, { syn: true, ack: true }, conn.isn, seqAdd(seg.seq, 1), Buffer.alloc(0), MSS);
      this.counters.synAckSent++;
      return;
    }
    if (!conn) return;
    if (conn.state === "syn-sent") {
      if (!(seg.flags.syn && seg.flags.ack && seg.ack === seqAdd(conn.isn, 1))) return;
      conn.irs = seg.seq;
      conn.receiver = this.newReceiver(seg.seq);
      conn.state = "established";
      this.peer = conn;
      this.emit(conn, { ack: true }, seqAdd(conn.isn, 1), seqAdd(seg.seq, 1), Buffer.alloc(0));
      this.established?.();
      return;
    }
    if (conn.state === "syn-rcvd") conn.state = "established";
    if (seg.flags.syn) return; // a repeated SYN-ACK: our ACK was lost; the data that follows fixes it
    if (seg.payload.length === 0) {
      this.counters.acksIgnored++; // what the peer acknowledges changes nothing: there is nothing to resend
      return;
    }
    this.counters.segmentsReceived++;
    const receiver = conn.receiver as StreamReceiver;
    const frames = receiver.accept(seg.seq, seg.payload);
    // fill the ACK field honestly, so a real TCP stack in the path (a proxy) keeps sending
    this.emit(conn, { ack: true }, conn.sender.sndNxt, receiver.rcvNxt, Buffer.alloc(0));
    this.counters.acksSent++;
    for (const f of frames) this.handler(f, key);
  }

  send(esp: Buffer): void {
    const conn = this.peer;
    if (!conn || conn.state !== "established" || !conn.receiver) return;
    const { seq, payload } = conn.sender.next(frame(esp));
    this.emit(conn, { ack: true, psh: true }, seq, conn.receiver.rcvNxt, payload);
    this.counters.segmentsSent++;
  }

  onPacket(handler: (esp: Buffer, peer: string) => void): void {
    this.handler = handler;
  }

  confirmPeer(peer: string): void {
    const conn = this.conns.get(peer);
    if (conn) this.peer = conn;
  }

  stats(): TransportStats {
    const c = this.peer;
    const r = c?.receiver?.stats;
    return {
      ...this.counters,
      localPort: this.localPort,
      peer: c?.key ?? "",
      bytesSent: c?.sender.bytesSent ?? 0,
      bytesReceived: r?.bytes ?? 0,
      gaps: r?.gaps ?? 0,
      gapBytes: r?.gapBytes ?? 0,
      duplicateBytes: r?.duplicateBytes ?? 0,
      badFrames: r?.badFrames ?? 0,
      resyncs: r?.resyncs ?? 0,
      resyncBytes: r?.resyncBytes ?? 0,
    };
  }

  async close(): Promise<void> {
    this.watcher?.close();
    if (this.fd >= 0) native.closeFd(this.fd);
    this.fd = -1;
    await run(["nft", "delete", "table", "inet", RST_TABLE], { allowFailure: true });
  }
}
