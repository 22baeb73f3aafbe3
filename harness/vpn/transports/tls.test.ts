import { expect } from "chai";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { createNetnsPair, type NetnsPair } from "../../impair/testkit";
import { isRoot } from "../../testkit/netns";
import { generateHeadendCert, type HeadendCert } from "../certs";
import { espLike, Peer, until } from "./testkit";
import { PinMismatchError, TlsTransport, type TlsTuning } from "./tls";
import { encodeFrame } from "./tls-framing";
import type { TransportOptions } from "./transport";

const SPI = 0x5a5a0001;
const MAX_PACKET = 1400;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

let certDir = "";
let cert: HeadendCert;
let other: HeadendCert; // another lab's headend: a key the client must not accept

describe("vpn/transports/tls", function () {
  before(async function () {
    this.timeout(30000);
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-tls-"));
    cert = await generateHeadendCert(certDir);
    other = await generateHeadendCert(certDir, { stem: "other" });
  });
  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  interface Received {
    esp: Buffer;
    peer: string;
  }

  /** Over real TLS and TCP on loopback (no root needed). */
  describe("vpn/transports/tls TlsTransport on loopback", function () {
    this.timeout(30000);
    let open: TlsTransport[] = [];
    let closers: (() => void)[] = [];

    afterEach(async () => {
      for (const c of closers) c();
      await Promise.all(open.map((t) => t.close()));
      open = [];
      closers = [];
    });

    async function transport(side: TransportOptions["side"], port: number, extra: Partial<TransportOptions> = {}, tuning?: TlsTuning) {
      const logs: string[] = [];
      const t = new TlsTransport(
        {
          side, localIp: "127.0.0.1", headendIp: "127.0.0.1", port, inboundSpi: SPI, maxPacket: MAX_PACKET, log: (m) => logs.push(m),
          ...(side === "headend" ? { tls: cert } : { pinSha256: cert.spkiSha256 }),
          ...extra,
        },
        { reconnectMs: 50, ...tuning },
      );
      const got: Received[] = [];
      t.onPacket((esp, peer) => got.push({ esp, peer }));
      open.push(t);
      await t.start();
      return { t, got, logs };
    }

    const headend = () => transport("headend", 0);
    const portOf = (t: TlsTransport): number => t.stats().localPort as number;
    const indexes = (got: Received[]): number[] => got.map((g) => g.esp.readUInt32BE(4));

    /** A TCP relay between client and headend whose connections the test can cut (a middlebox resetting the flow). */
    async function relay(to: number): Promise<{ port: number; cut: () => number }> {
      const socks = new Set<net.Socket>();
      const server = net.createServer((c) => {
        const up = net.connect(to, "127.0.0.1");
        for (const s of [c, up]) {
          socks.add(s);
          s.on("close", () => socks.delete(s));
          s.on("error", () => undefined);
        }
        c.pipe(up);
        up.pipe(c);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      closers.push(() => {
        for (const s of socks) s.destroy();
        server.close();
      });
      const cut = (): number => {
        const n = socks.size;
        for (const s of socks) s.destroy();
        return n;
      };
      return { port: (server.address() as net.AddressInfo).port, cut };
    }

    it("carries frames both ways; the headend answers only on a confirmed connection", async () => {
      const h = await headend();
      const c = await transport("client", portOf(h.t));
      for (const i of range(50)) c.t.send(espLike(SPI, i, 40 + i * 20));
      await until("50 frames at the headend", () => (h.got.length >= 50 ? true : undefined), 10_000, () => h.t.stats());
      expect(indexes(h.got)).to.deep.equal(range(50));
      expect(h.got.every((g, i) => g.esp.equals(espLike(SPI, i, 40 + i * 20))), "bytes intact").to.equal(true);
      const peer = h.got[0].peer;
      expect(peer).to.equal(`127.0.0.1:${c.t.stats().localPort}`);

      h.t.send(espLike(SPI, 1000)); // no confirmed peer yet: dropped and counted, never sent to a guess
      expect(h.t.stats()).to.include({ dropped: 1, txPackets: 0 });
      h.t.confirmPeer(peer);
      for (const i of range(30)) h.t.send(espLike(SPI, i, 1000));
      await until("30 frames at the client", () => (c.got.length >= 30 ? true : undefined), 10_000, () => c.t.stats());
      expect(indexes(c.got)).to.deep.equal(range(30));
      expect(c.got[0].peer).to.equal(`127.0.0.1:${portOf(h.t)}`);

      const bytesUp = range(50).reduce((n, i) => n + 2 + 40 + i * 20, 0);
      expect(c.t.stats()).to.include({ txPackets: 50, bytesSent: bytesUp, rxPackets: 30, bytesReceived: 30 * 1002, reconnects: 0, pinFailures: 0 });
      expect(h.t.stats()).to.include({ rxPackets: 50, bytesReceived: bytesUp, txPackets: 30, bytesSent: 30 * 1002, connections: 1, badFrames: 0, peer });
    });

    it("refuses a headend whose key is not the pinned one: start fails, nothing passes, pinFailures counted", async () => {
      const h = await headend();
      const client = new TlsTransport({
        side: "client", localIp: "127.0.0.1", headendIp: "127.0.0.1", port: portOf(h.t), inboundSpi: SPI, maxPacket: MAX_PACKET, log: () => undefined,
        pinSha256: other.spkiSha256,
      });
      open.push(client);
      const err = await client.start().then(() => undefined, (e: Error) => e);
      expect(err, "start() must reject").to.be.instanceOf(PinMismatchError);
      expect(err?.message).to.contain(other.spkiSha256).and.to.contain(cert.spkiSha256);
      client.send(espLike(SPI, 1));
      // the same key, pinned: this one gets through, so the headend was there and listening all along
      const good = await transport("client", portOf(h.t));
      good.t.send(espLike(SPI, 2));
      await until("the pinned client's frame", () => h.got[0]);
      expect(indexes(h.got), "only the pinned client's frame").to.deep.equal([2]);
      expect(client.stats()).to.include({ pinFailures: 1, txPackets: 0, bytesSent: 0, rxPackets: 0, dropped: 1, open: 0 });
      expect(h.t.stats()).to.include({ rxPackets: 1 });
    });

    it("a client without a pin, or a headend without a certificate, is a configuration error", () => {
      const base = { localIp: "127.0.0.1", headendIp: "127.0.0.1", port: 1, inboundSpi: SPI, maxPacket: MAX_PACKET, log: () => undefined };
      expect(() => new TlsTransport({ ...base, side: "client" })).to.throw(/pin/);
      expect(() => new TlsTransport({ ...base, side: "headend" })).to.throw(/certificate/);
    });

    it("reconnects when its TLS connection is killed; the headend moves to the new connection once confirmed", async () => {
      const h = await headend();
      const r = await relay(portOf(h.t));
      const c = await transport("client", r.port);
      c.t.send(espLike(SPI, 1));
      const first = (await until("frame 1", () => h.got[0])).peer;
      h.t.confirmPeer(first);

      expect(r.cut(), "relay sockets cut").to.equal(2);
      await until("the client reconnected", () => (c.t.stats().reconnects === 1 && c.t.stats().open === 1 ? true : undefined), 10_000, () => c.t.stats());
      c.t.send(espLike(SPI, 2));
      const second = (await until("frame 2", () => h.got[1])).peer;
      expect(second, "a new TCP connection").to.not.equal(first);
      h.t.send(espLike(SPI, 3)); // the old connection is gone: nowhere to send until the tunnel confirms the new one
      expect(h.t.stats()).to.include({ dropped: 1 });
      h.t.confirmPeer(second);
      h.t.send(espLike(SPI, 4));
      await until("frame 4 at the client", () => c.got[0]);
      expect(indexes(c.got)).to.deep.equal([4]);
      expect(indexes(h.got)).to.deep.equal([1, 2]);
      expect(c.t.stats()).to.include({ reconnects: 1, pinFailures: 0 });
      expect(h.t.stats()).to.include({ connections: 2, peer: second, open: 1 });
    });

    it("confirming an older connection does not move the headend back; confirming a newer one closes the older", async () => {
      const h = await headend();
      const a = await transport("client", portOf(h.t));
      const b = await transport("client", portOf(h.t));
      a.t.send(espLike(SPI, 1));
      b.t.send(espLike(SPI, 2));
      await until("both frames", () => h.got[1]);
      const peerOf = (i: number) => (h.got.find((g) => g.esp.readUInt32BE(4) === i) as Received).peer;
      h.t.confirmPeer(peerOf(2)); // b connected last: the newest
      await until("a's connection closed by the headend", () => (h.t.stats().open === 1 ? true : undefined), 5000, () => h.t.stats());
      h.t.confirmPeer(peerOf(1)); // a stale connection's late packet must not win it back
      expect(h.t.stats().peer).to.equal(peerOf(2));
    });

    it("closes a connection that announces a frame above maxPacket, counts it, and serves the next client", async () => {
      const h = await headend();
      const rogue = tls.connect({ host: "127.0.0.1", port: portOf(h.t), rejectUnauthorized: false });
      rogue.on("error", () => undefined);
      closers.push(() => rogue.destroy());
      await new Promise<void>((r) => rogue.once("secureConnect", () => r()));
      const closed = new Promise<void>((r) => rogue.once("close", () => r()));
      const oversized = Buffer.alloc(2);
      oversized.writeUInt16BE(MAX_PACKET + 1, 0);
      // a frame that passes, an empty frame (skipped, counted), then the lie
      rogue.write(Buffer.concat([encodeFrame(espLike(SPI, 7)), Buffer.alloc(2), oversized, Buffer.alloc(64)]));
      await closed;
      expect(indexes(h.got)).to.deep.equal([7]);
      expect(h.t.stats()).to.include({ badFrames: 1, emptyFrames: 1, rxPackets: 1, open: 0 });
      const c = await transport("client", portOf(h.t));
      c.t.send(espLike(SPI, 8));
      await until("the next client's frame", () => h.got[1]);
      expect(indexes(h.got)).to.deep.equal([7, 8]);
    });

    it("the client drops (and counts) what it cannot frame: empty, or longer than maxPacket", async () => {
      const h = await headend();
      const c = await transport("client", portOf(h.t));
      c.t.send(Buffer.alloc(0));
      c.t.send(Buffer.alloc(MAX_PACKET + 1));
      c.t.send(espLike(SPI, 9));
      await until("frame 9", () => h.got[0]);
      expect(indexes(h.got)).to.deep.equal([9]);
      expect(c.t.stats()).to.include({ dropped: 2, txPackets: 1 });
    });
  });

  /**
   * The point of the remedy: the client in namespace a, the headend in b (veth,
   * 10.200.0.1 / .2), each in its own process (peer-main.js). An nftables rule
   * in each namespace's prerouting drops ~10% of the TCP segments arriving —
   * lost on the path, after the sender put them on the wire (a drop in the
   * sender's own postrouting is reported to its socket as EPERM and re-sent at
   * once, which is not loss on the path). The kernel's TCP retransmits: every
   * frame arrives, once, in order.
   */
  describe("vpn/transports/tls TlsTransport across a lossy path (root, namespaces)", function () {
    this.timeout(60000);
    const PORT = 443;
    const FRAMES = 1500;
    const SIZE = 600;
    const TABLE = "vlt_tls_loss";
    let pair: NetnsPair | undefined;
    let peers: Peer[] = [];

    before(function () {
      if (!isRoot()) this.skip(); // needs root: namespaces, nftables
    });
    afterEach(async () => {
      await Promise.all(peers.map((p) => p.stop()));
      peers = [];
      await pair?.destroy();
      pair = undefined;
    });

    const lossRuleset = [
      `table inet ${TABLE} {`,
      "  chain pre {",
      "    type filter hook prerouting priority -300; policy accept;",
      "    meta l4proto tcp counter",
      "    meta l4proto tcp numgen random mod 10 == 0 counter drop",
      "  }",
      "}",
      "",
    ].join("\n");

    /** TCP segments that reached a namespace's prerouting, and how many of them the rule dropped. */
    async function segments(ns: string): Promise<{ seen: number; dropped: number }> {
      const r = await (pair as NetnsPair).exec.exec(ns, ["nft", "-j", "list", "table", "inet", TABLE]);
      type Expr = { counter?: { packets: number }; drop?: null };
      const rules = (JSON.parse(r.stdout) as { nftables: { rule?: { expr: Expr[] } }[] }).nftables.flatMap((i) => (i.rule ? [i.rule.expr] : []));
      const count = (drop: boolean): number =>
        rules.filter((e) => e.some((x) => "drop" in x) === drop).reduce((n, e) => n + e.reduce((m, x) => m + (x.counter?.packets ?? 0), 0), 0);
      return { seen: count(false), dropped: count(true) };
    }

    /** Tcp RetransSegs of a namespace, from its own /proc/net/snmp. */
    async function retransmits(ns: string): Promise<number> {
      const text = (await (pair as NetnsPair).exec.exec(ns, ["cat", "/proc/net/snmp"])).stdout;
      const [head, values] = text.split("\n").filter((l) => l.startsWith("Tcp:"));
      const i = head.split(/\s+/).indexOf("RetransSegs");
      return Number(values.split(/\s+/)[i]);
    }

    it(`~10% of the TCP segments dropped both ways: all ${FRAMES} frames arrive in each direction, in order, none lost`, async () => {
      pair = await createNetnsPair();
      const p = pair;
      const opts = (side: "client" | "headend") => ({
        side, localIp: side === "client" ? p.ipA : p.ipB, headendIp: p.ipB, port: PORT, inboundSpi: SPI, maxPacket: MAX_PACKET,
        ...(side === "headend" ? { tls: { certPem: cert.certPem, keyPem: cert.keyPem } } : { pinSha256: cert.spkiSha256 }),
      });
      const headend = await Peer.start(p.b);
      peers.push(headend);
      const client = await Peer.start(p.a);
      peers.push(client);
      // one MSS per packet at the hook (no GSO super-packets): the rule drops TCP segments, not 64 KiB bursts
      for (const [ns, dev] of [[p.a, p.devA], [p.b, p.devB]]) await p.exec.exec(ns, ["ip", "link", "set", "dev", dev, "gso_max_segs", "1"]);
      // lossy from the first SYN: the handshake crosses the same path
      for (const ns of [p.a, p.b]) await p.exec.exec(ns, ["nft", "-f", "-"], { input: lossRuleset });
      const retransBefore = (await retransmits(p.a)) + (await retransmits(p.b));
      await headend.request({ cmd: "start", transport: "anyconnect", opts: opts("headend") });
      await client.request({ cmd: "start", transport: "anyconnect", opts: opts("client") });

      const seen = (x: Peer) => x.packets().map((e) => e.index);
      const all = (x: Peer) => until(`${FRAMES} frames in ${x.ns}`, () => (x.packets().length >= FRAMES ? true : undefined), 40_000, () => ({ got: x.packets().length }));
      const frames = range(FRAMES).map((index) => ({ index, size: SIZE }));
      await client.request({ cmd: "send", spi: SPI, frames });
      await all(headend);
      await headend.request({ cmd: "confirm", peer: headend.packets()[0].peer });
      await headend.request({ cmd: "send", spi: SPI, frames });
      await all(client);

      const measured = {
        atClient: await segments(p.a),
        atHeadend: await segments(p.b),
        tcpRetransmits: (await retransmits(p.a)) + (await retransmits(p.b)) - retransBefore,
        client: await client.request({ cmd: "stats" }),
        headend: await headend.request({ cmd: "stats" }),
        upDelivered: headend.packets().length,
        downDelivered: client.packets().length,
      };
      const why = JSON.stringify(measured);
      console.log(`      measured: ${why}`);
      expect(seen(headend), `client → headend, in order, once each: ${why}`).to.deep.equal(range(FRAMES));
      expect(seen(client), `headend → client, in order, once each: ${why}`).to.deep.equal(range(FRAMES));
      // numgen mod 10: about one segment in ten, each way (binomial; 2%..25% is far outside any plausible draw at these counts)
      for (const [where, c] of [["up, at the headend", measured.atHeadend], ["down, at the client", measured.atClient]] as const) {
        expect(c.seen, `segments ${where}: ${why}`).to.be.greaterThan(300);
        expect(c.dropped / c.seen, `share of segments lost ${where}: ${why}`).to.be.within(0.02, 0.25);
      }
      expect(measured.tcpRetransmits, `the kernel retransmitted: ${why}`).to.be.at.least(1);
      expect(measured.client, why).to.include({ txPackets: FRAMES, rxPackets: FRAMES, reconnects: 0, badFrames: 0, dropped: 0 });
      expect(measured.headend, why).to.include({ txPackets: FRAMES, rxPackets: FRAMES, connections: 1, badFrames: 0, dropped: 0 });
    });
  });
});
