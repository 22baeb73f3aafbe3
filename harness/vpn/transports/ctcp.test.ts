import { expect } from "chai";
import { nftDropCount } from "../../impair/testkit";
import { isRoot, Netns } from "../../testkit/netns";
import { seqAdd } from "../ctcp/segment";
import { frame } from "../ctcp/stream";
import { rstSuppressionRuleset, RST_TABLE } from "./ctcp";
import type { WireSegment } from "./peer-main";
import { espLike, until, usePeerPair, type Peer } from "./testkit";

describe("vpn/transports/ctcp RST suppression", function () {
  this.timeout(30000);

  it("drops only the kernel's RSTs from the raw socket's own port, in OUTPUT", () => {
    const text = rstSuppressionRuleset(10000);
    expect(text).to.contain(`table inet ${RST_TABLE}`);
    expect(text).to.contain("type filter hook output priority 0; policy accept;");
    expect(text).to.match(/tcp sport 10000 tcp flags & rst == rst counter drop/);
    expect(text).to.not.match(/hook (input|forward|prerouting)/);
  });

  it("is accepted by nft and keeps a kernel RST off the wire (root, throwaway namespace)", async function () {
    if (!isRoot()) this.skip(); // needs root: network namespaces
    const ns = await Netns.create("ctcp");
    try {
      await ns.exec(["nft", "-f", "-"], { input: rstSuppressionRuleset(7777) });
      // a connection to a closed port makes the kernel answer with a RST from port 7777
      const r = await ns.exec(
        [process.execPath, "-e", "const s=require('net').connect(7777,'127.0.0.1');s.on('error',e=>console.log(e.code));setTimeout(()=>{console.log('timeout');process.exit(0)},1500)"],
        { allowFailure: true },
      );
      // without the rule this is ECONNREFUSED at once; with it the RST is dropped and the SYN goes unanswered
      expect(r.stdout.trim(), r.stderr).to.equal("timeout");
      const counters = await ns.exec(["nft", "list", "table", "inet", RST_TABLE]);
      expect(counters.stdout).to.match(/counter packets [1-9]/);
    } finally {
      await ns.destroy();
    }
  });
});

/**
 * Two CtcpTransports, each in its own throwaway namespace (raw sockets and
 * nftables act on the namespace they run in), joined by a veth pair: the
 * client in a (10.200.0.1), the headend in b (10.200.0.2). Each namespace also
 * runs a sniffer (a raw TCP socket: what reached local delivery, i.e. passed
 * the input hook) and can craft segments. Losses are nftables drops at the
 * receiver's input, before the transport's raw socket sees the packet.
 */
describe("vpn/transports/ctcp CtcpTransport between two namespaces (root)", function () {
  this.timeout(60000);
  const PORT = 10000;
  const SPI_C = 0xc1c1c1c1; // what the client receives
  const SPI_H = 0x4e4e4e4e; // what the headend receives
  const TEST_TABLE = "vlt_ctcp_test";
  const { pair: p, startPeer } = usePeerPair();
  const opts = (side: "client" | "headend") => ({
    side,
    localIp: side === "client" ? p().ipA : p().ipB,
    headendIp: p().ipB,
    port: PORT,
    inboundSpi: side === "client" ? SPI_C : SPI_H,
    maxPacket: 1400,
  });
  const frames = (indexes: number[], size = 100) => indexes.map((index) => ({ index, size }));
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  async function peer(ns: string, transport?: "client" | "headend"): Promise<Peer> {
    const x = await startPeer(ns);
    await x.request({ cmd: "sniff" });
    if (transport) await x.request({ cmd: "start", transport: "ctcp", opts: opts(transport) });
    return x;
  }

  const stats = (x: Peer) => x.request<Record<string, number>>({ cmd: "stats" });

  /** Wait until `x` has delivered the packets with these indexes (and maybe others). */
  const delivered = (x: Peer, indexes: number[]) =>
    until(`${x.ns} delivers ${indexes.join(",")}`, () => {
      const got = new Set(x.packets().map((e) => e.index));
      return indexes.every((i) => got.has(i)) ? true : undefined;
    }, 15000, () => x.packets().map((e) => e.index));

  async function nft(ns: string, chainBody: string[], table = TEST_TABLE, priority = 0): Promise<void> {
    const text = [`table inet ${table} {`, "  chain in {", `    type filter hook input priority ${priority}; policy accept;`, ...chainBody.map((l) => `    ${l}`), "  }", "}", ""];
    await p().exec.exec(ns, ["nft", "-f", "-"], { input: text.join("\n") });
  }

  /** Packets counted by every counter in a table (nftDropCount counts only the rules that drop). */
  async function counted(ns: string, table: string): Promise<number> {
    const r = await p().exec.exec(ns, ["nft", "-j", "list", "table", "inet", table]);
    const items = (JSON.parse(r.stdout) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] }).nftables;
    return items.flatMap((i) => i.rule?.expr ?? []).reduce((n, e) => n + (e.counter?.packets ?? 0), 0);
  }

  /** A connected pair, the headend confirmed on the client (as the tunnel does after authenticating packet 0). */
  async function connected() {
    const headend = await peer(p().b, "headend");
    const client = await peer(p().a, "client");
    const cport = (await stats(client)).localPort;
    const fromClient = (s: WireSegment) => s.src === p().ipA && s.sport === cport;
    const syn = await until("the client's SYN at the headend", () => headend.segments((s) => fromClient(s) && !!s.flags.syn)[0]);
    const synAck = await until("the SYN-ACK at the client", () => client.segments((s) => s.sport === PORT && !!s.flags.syn)[0]);
    return { headend, client, cport, fromClient, syn, synAck };
  }

  async function confirmFirst(headend: Peer, client: Peer): Promise<string> {
    await client.request({ cmd: "send", spi: SPI_H, frames: frames([0]) });
    await delivered(headend, [0]);
    const from = headend.packets()[0].peer;
    await headend.request({ cmd: "confirm", peer: from });
    return from;
  }

  it("three-way handshake (SYN, SYN-ACK acking isn+1, ACK), then frames both ways in advancing sequence", async () => {
    const { headend, client, cport, fromClient, syn, synAck } = await connected();
    expect(syn.flags, "the SYN").to.deep.equal({ syn: true });
    expect(syn.mss).to.equal(1360);
    expect(synAck.flags, "the SYN-ACK").to.deep.equal({ syn: true, ack: true });
    expect(synAck.ack, "SYN-ACK acks the client's isn+1").to.equal(seqAdd(syn.seq, 1));
    expect(synAck.dport).to.equal(cport);
    const ack = await until("the handshake ACK", () => headend.segments((s) => fromClient(s) && !s.flags.syn && s.payloadHex === "")[0]);
    expect(ack.flags).to.deep.equal({ ack: true });
    expect([ack.seq, ack.ack], "ACK: seq isn+1, ack the headend's isn+1").to.deep.equal([seqAdd(syn.seq, 1), seqAdd(synAck.seq, 1)]);
    expect((await stats(client)).synSent).to.equal(1);
    expect((await stats(headend)).synAckSent).to.equal(1);

    await client.request({ cmd: "send", spi: SPI_H, frames: frames(range(0, 4)) });
    await delivered(headend, range(0, 4));
    expect(headend.packets().map((e) => [e.index, e.length, e.peer])).to.deep.equal(range(0, 4).map((i) => [i, 100, `${p().ipA}:${cport}`]));
    // the sniffer's copy of each segment comes on its own raw socket: it may report a moment after the transport delivered
    const data = await until("the sniffer's copy of the five data segments", () => {
      const got = headend.segments((s) => fromClient(s) && s.payloadHex !== "");
      return got.length >= 5 ? got : undefined;
    });
    // one frame (2-byte length + 100) per segment, seq advancing by the payload
    expect(data.map((s) => s.seq)).to.deep.equal(range(0, 4).map((i) => seqAdd(syn.seq, 1 + i * 102)));

    await headend.request({ cmd: "confirm", peer: headend.packets()[0].peer });
    await headend.request({ cmd: "send", spi: SPI_C, frames: frames(range(10, 14), 200) });
    await delivered(client, range(10, 14));
    expect(client.packets().map((e) => [e.index, e.length, e.peer])).to.deep.equal(range(10, 14).map((i) => [i, 200, `${p().ipB}:${PORT}`]));
    const c = await stats(client);
    const h = await stats(headend);
    expect([c.segmentsSent, c.segmentsReceived, c.bytesSent, c.bytesReceived, c.gaps], JSON.stringify(c)).to.deep.equal([5, 5, 510, 1010, 0]);
    expect([h.segmentsSent, h.segmentsReceived, h.bytesSent, h.bytesReceived, h.gaps], JSON.stringify(h)).to.deep.equal([5, 5, 1010, 510, 0]);
  });

  it("answers a repeated SYN with the same SYN-ACK (same ISN); a SYN with another ISN opens a new connection", async () => {
    const headend = await peer(p().b, "headend");
    const crafter = await peer(p().a); // a client made by hand: sniffs and crafts, no transport
    const sport = 33333;
    const seg = (seq: number, ack: number, flags: WireSegment["flags"], payload: Buffer = Buffer.alloc(0)): WireSegment => ({
      src: p().ipA, dst: p().ipB, sport, dport: PORT, seq, ack, flags, window: 65535, payloadHex: payload.toString("hex"),
    });
    const synAcks = () => crafter.segments((s) => s.sport === PORT && s.dport === sport && !!s.flags.syn && !!s.flags.ack);
    const isn1 = 1_000_000;
    await crafter.request({ cmd: "emit", segment: seg(isn1, 0, { syn: true }) });
    await until("first SYN-ACK", () => synAcks()[0]);
    await crafter.request({ cmd: "emit", segment: seg(isn1, 0, { syn: true }) });
    await until("second SYN-ACK", () => synAcks()[1]);
    const isn2 = 3_000_000_000;
    await crafter.request({ cmd: "emit", segment: seg(isn2, 0, { syn: true }) });
    const [a, b, c] = await until("third SYN-ACK", () => (synAcks().length >= 3 ? synAcks() : undefined));
    expect([a.ack, b.ack], "both answers to the repeated SYN ack its isn+1").to.deep.equal([isn1 + 1, isn1 + 1]);
    expect(b.seq, "the repeated SYN gets the same ISN back").to.equal(a.seq);
    expect(c.ack).to.equal(isn2 + 1);
    expect(c.seq, "another ISN: a new connection with its own ISN").to.not.equal(a.seq);
    expect((await stats(headend)).synAckSent).to.equal(3);

    // complete the new connection and carry a frame on it: the headend delivers it
    await crafter.request({ cmd: "emit", segment: seg(isn2 + 1, seqAdd(c.seq, 1), { ack: true }) });
    await crafter.request({ cmd: "emit", segment: seg(isn2 + 1, seqAdd(c.seq, 1), { ack: true, psh: true }, frame(espLike(SPI_H, 42, 80))) });
    await delivered(headend, [42]);
    expect(headend.packets().map((e) => [e.index, e.peer])).to.deep.equal([[42, `${p().ipA}:${sport}`]]);
  });

  it("a client whose SYN-ACKs are lost sends its SYN again (same ISN) and connects once one gets through", async () => {
    const headend = await peer(p().b, "headend");
    await nft(p().a, [`ip saddr ${p().ipB} tcp sport ${PORT} tcp flags & (syn | ack) == (syn | ack) counter drop`]);
    const client = await peer(p().a);
    const started = client.request({ cmd: "start", transport: "ctcp", opts: opts("client") });
    // a SYN-ACK dropped, and a SYN sent again after it
    await until("a second SYN after a dropped SYN-ACK", async () => {
      const dropped = await nftDropCount(p().exec, p().a, TEST_TABLE);
      return dropped >= 1 && (await stats(client))?.synSent >= 2 ? true : undefined;
    }, 15000);
    await p().exec.exec(p().a, ["nft", "delete", "table", "inet", TEST_TABLE]);
    await started;

    const c = await stats(client);
    expect(c.synSent).to.be.at.least(2);
    const syns = await until("every SYN seen at the headend", () => {
      const seen = headend.segments((s) => s.src === p().ipA && s.sport === c.localPort && !!s.flags.syn);
      return seen.length >= c.synSent ? seen : undefined;
    });
    expect(syns.length, "SYNs on the wire").to.equal(c.synSent);
    expect(new Set(syns.map((s) => s.seq)).size, "every attempt carries the same ISN").to.equal(1);
    expect((await stats(headend)).synAckSent).to.equal(c.synSent);
    await client.request({ cmd: "send", spi: SPI_H, frames: frames(range(1, 3)) });
    await delivered(headend, range(1, 3));
  });

  it("never resends data: a lost segment is skipped, later frames still arrive, duplicate ACKs asking for it are ignored", async () => {
    const { headend, client, cport, syn, synAck } = await connected();
    // what reached the headend's wire from the client with data in it (pure ACKs are 40 bytes), counted before the loss
    await nft(p().b, [`ip saddr ${p().ipA} tcp dport ${PORT} ip length > 40 counter`], "vlt_ctcp_wire", -10);
    // the loss: the only frame of 300 bytes (IP 20 + TCP 20 + length 2 + 300)
    await nft(p().b, [`ip saddr ${p().ipA} tcp dport ${PORT} ip length 342 counter drop`]);
    await confirmFirst(headend, client);
    await client.request({ cmd: "send", spi: SPI_H, frames: [...frames(range(1, 3)), { index: 4, size: 300 }, ...frames(range(5, 9))] });
    await delivered(headend, range(5, 9));
    expect(headend.packets().map((e) => e.index), "the lost frame is skipped, not waited for").to.deep.equal([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    const h1 = await stats(headend);
    expect([h1.gaps, h1.gapBytes], JSON.stringify(h1)).to.deep.equal([1, 302]);

    // three duplicate ACKs, as a TCP receiver asks for the lost segment (ack = its seq)
    const lostSeq = seqAdd(syn.seq, 1 + 4 * 102);
    const dupAck: WireSegment = { src: p().ipB, dst: p().ipA, sport: PORT, dport: cport, seq: seqAdd(synAck.seq, 1), ack: lostSeq, flags: { ack: true }, window: 65535, payloadHex: "" };
    for (let i = 0; i < 3; i++) await headend.request({ cmd: "emit", segment: dupAck });
    // the client's acksIgnored counts the headend's own ACK of every data segment plus the three duplicates
    await until("the client ignored every ACK", async () => {
      const [c, h] = [await stats(client), await stats(headend)];
      return c.acksIgnored === h.acksSent + 3 ? true : undefined;
    }, 15000, async () => [await stats(client), await stats(headend)]);
    // a last frame after them: any resend the duplicate ACKs caused would be on the wire before it
    await client.request({ cmd: "send", spi: SPI_H, frames: frames([10]) });
    await delivered(headend, [10]);

    const c = await stats(client);
    const wire = await counted(p().b, "vlt_ctcp_wire");
    const lost = await nftDropCount(p().exec, p().b, TEST_TABLE);
    expect(c.segmentsSent, JSON.stringify(c)).to.equal(11);
    expect(wire, "data segments on the wire: one per frame, none again").to.equal(11);
    expect(lost, "the 300-byte frame crossed the wire once").to.equal(1);
    expect(c.bytesSent).to.equal(10 * 102 + 302);
    const h2 = await stats(headend);
    expect([h2.segmentsReceived, h2.gaps, h2.gapBytes], JSON.stringify(h2)).to.deep.equal([10, 1, 302]);
  });

  it("ignores RSTs from the peer (counted as rstsIgnored): the connection keeps carrying frames both ways", async () => {
    const { headend, client, cport, syn, synAck } = await connected();
    await confirmFirst(headend, client);
    const rst = (src: string, dst: string, sport: number, dport: number, seq: number): WireSegment => ({ src, dst, sport, dport, seq, ack: 0, flags: { rst: true }, window: 0, payloadHex: "" });
    // Each RST is injected in the receiver's own namespace (looped back to its address): the sender's namespace drops
    // every RST from its transport's port on output — that is the kernel-RST suppression, and it would catch these too.
    await client.request({ cmd: "emit", segment: rst(p().ipB, p().ipA, PORT, cport, seqAdd(synAck.seq, 1)) });
    await headend.request({ cmd: "emit", segment: rst(p().ipA, p().ipB, cport, PORT, seqAdd(syn.seq, 1 + 102)) });
    await until("both RSTs ignored", async () => {
      const [c, h] = [await stats(client), await stats(headend)];
      return c.rstsIgnored === 1 && h.rstsIgnored === 1 ? true : undefined;
    }, 15000, async () => [await stats(client), await stats(headend)]);
    await client.request({ cmd: "send", spi: SPI_H, frames: frames(range(1, 3)) });
    await headend.request({ cmd: "send", spi: SPI_C, frames: frames(range(1, 3)) });
    await delivered(headend, range(0, 3));
    await delivered(client, range(1, 3));
    const c = await stats(client);
    const h = await stats(headend);
    expect([c.rstsIgnored, h.rstsIgnored, c.gaps, h.gaps], JSON.stringify({ c, h })).to.deep.equal([1, 1, 0, 0]);
  });
});
