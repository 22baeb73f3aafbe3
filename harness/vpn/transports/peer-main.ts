// A test program (not used at run time): one reference transport, or a raw
// TCP packet crafter/sniffer, inside the network namespace it was started in
// (`ip netns exec NS node peer-main.js`). It speaks the agent's JSON-lines
// shape: requests with an id get one reply; events carry no id. It exits when
// its stdin closes.
import { encodeLine, LineReader } from "../../agent/protocol";
import * as native from "../../native";
import { decodeSegment, encodeSegment, type TcpSegment } from "../ctcp/segment";
import { formatIpv4Address } from "../ipv4";
import { createTransport, type ReferenceTransport } from ".";
import { espLike } from "./testkit";
import type { Transport, TransportOptions } from "./transport";

const IPPROTO_TCP = 6;

/** A segment as the test writes and reads it: the payload as hex. */
export type WireSegment = Omit<TcpSegment, "payload"> & { payloadHex: string };

export type PeerRequest = { id: number } & (
  | { cmd: "start"; transport: ReferenceTransport; opts: Omit<TransportOptions, "log"> }
  | { cmd: "send"; spi: number; frames: { index: number; size: number }[] }
  | { cmd: "confirm"; peer: string }
  | { cmd: "stats" }
  | { cmd: "sniff" }
  | { cmd: "emit"; segment: WireSegment }
  /** A whole IPv4 packet as given (header included), e.g. a runt or a spoofed ESP packet. */
  | { cmd: "emit-ip"; packetHex: string }
);

export type PeerEvent =
  | { event: "ready" }
  | { event: "packet"; peer: string; index: number; length: number }
  | { event: "segment"; segment: WireSegment }
  | { event: "log"; msg: string };

let transport: Transport | undefined;
let txFd = -1;
let ipId = 1;
const closers: (() => void)[] = [];

const out = (msg: unknown): void => {
  process.stdout.write(encodeLine(msg));
};
const event = (e: PeerEvent): void => out(e);

async function handle(req: PeerRequest): Promise<unknown> {
  switch (req.cmd) {
    case "start": {
      if (transport) throw new Error("a transport is already running");
      const t = createTransport(req.transport, { ...req.opts, log: (msg) => event({ event: "log", msg }) });
      transport = t;
      t.onPacket((esp, peer) => event({ event: "packet", peer, index: esp.length >= 8 ? esp.readUInt32BE(4) : -1, length: esp.length }));
      closers.push(() => void t.close());
      await t.start();
      return t.stats();
    }
    case "send":
      if (!transport) throw new Error("no transport");
      for (const f of req.frames) transport.send(espLike(req.spi, f.index, f.size));
      return transport.stats();
    case "confirm":
      transport?.confirmPeer(req.peer);
      return transport?.stats();
    case "stats":
      return transport?.stats();
    case "sniff": {
      // every TCP packet that reaches this namespace's local delivery (after the input hook)
      const fd = native.rawSocket(IPPROTO_TCP, false);
      const w = native.watch(fd, (pkt) => {
        const s = decodeSegment(pkt);
        if (!s) return;
        const { payload, ...rest } = s;
        event({ event: "segment", segment: { ...rest, payloadHex: payload.toString("hex") } });
      });
      closers.push(() => {
        w.close();
        native.closeFd(fd);
      });
      return undefined;
    }
    case "emit": {
      if (txFd < 0) txFd = native.rawSocket(IPPROTO_TCP, true);
      const { payloadHex, ...seg } = req.segment;
      ipId = (ipId + 1) & 0xffff;
      return native.sendTo(txFd, encodeSegment({ ...seg, payload: Buffer.from(payloadHex, "hex") }, ipId), seg.dst);
    }
    case "emit-ip": {
      const pkt = Buffer.from(req.packetHex, "hex");
      const fd = native.rawSocket(pkt[9], true); // IP_HDRINCL: the header goes out as written
      try {
        return native.sendTo(fd, pkt, formatIpv4Address(pkt, 16));
      } finally {
        native.closeFd(fd);
      }
    }
  }
}

const reader = new LineReader((m) => {
  const req = m as PeerRequest;
  handle(req).then(
    (result) => out({ id: req.id, ok: true, result }),
    (e: Error) => out({ id: req.id, ok: false, error: e.message }),
  );
});
process.stdin.on("data", (c) => reader.push(c));
process.stdin.on("end", () => {
  for (const c of closers) c();
  if (txFd >= 0) native.closeFd(txFd);
  setTimeout(() => process.exit(0), 200); // let transport.close() remove its nft table
});
event({ event: "ready" });
