import { expect } from "chai";
import * as dgram from "node:dgram";
import { classifyNatt, NattTransport, type NattTuning } from "./natt";
import { espLike, until } from "./testkit";
import type { TransportOptions } from "./transport";

describe("vpn/transports/natt classifyNatt (RFC 3948 §2.2)", () => {
  it("a single 0xFF byte is a NAT-keepalive", () => {
    expect(classifyNatt(Buffer.from([0xff]))).to.deep.equal({ kind: "keepalive" });
  });
  it("a zero non-ESP marker means IKE, which the reference endpoints do not speak", () => {
    expect(classifyNatt(Buffer.from([0, 0, 0, 0, 1, 2, 3, 4]))).to.deep.equal({ kind: "ike" });
  });
  it("anything else of at least SPI + sequence number is ESP, passed on as is", () => {
    const esp = Buffer.from("0000a5f8000000010102030405060708", "hex");
    expect(classifyNatt(esp)).to.deep.equal({ kind: "esp", esp });
  });
  it("a runt is neither", () => {
    expect(classifyNatt(Buffer.from([1, 2, 3, 4, 5]))).to.deep.equal({ kind: "runt" });
  });
});

/** Over real UDP sockets on loopback (no root needed). */
describe("vpn/transports/natt NattTransport on loopback", function () {
  this.timeout(20000);
  const SPI = 0x1234abcd;
  let open: NattTransport[] = [];
  let sockets: dgram.Socket[] = [];

  interface Received {
    esp: Buffer;
    peer: string;
  }

  async function transport(side: TransportOptions["side"], port: number, tuning?: NattTuning): Promise<{ t: NattTransport; got: Received[] }> {
    const t = new NattTransport(
      { side, localIp: "127.0.0.1", headendIp: "127.0.0.1", port, inboundSpi: SPI, maxPacket: 1400, log: () => undefined },
      tuning,
    );
    const got: Received[] = [];
    t.onPacket((esp, peer) => got.push({ esp, peer }));
    open.push(t);
    await t.start();
    return { t, got };
  }

  /** A headend on a free port and a client sending to it. */
  async function pair(tuning?: NattTuning) {
    const headend = await transport("headend", 0);
    const port = headend.t.stats().localPort as number;
    const client = await transport("client", port, tuning);
    return { headend, client, port };
  }

  /** A plain UDP socket: a client whose NAT mapping moved to another address and port, or a stray sender. */
  async function udp(address: string): Promise<{ s: dgram.Socket; got: Buffer[]; port: number }> {
    const s = dgram.createSocket("udp4");
    sockets.push(s);
    const got: Buffer[] = [];
    s.on("message", (m) => got.push(m));
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    return { s, got, port: s.address().port };
  }

  afterEach(async () => {
    await Promise.all(open.map((t) => t.close()));
    for (const s of sockets) s.close();
    open = [];
    sockets = [];
  });

  it("carries ESP both ways; the headend answers only once a peer is confirmed", async () => {
    const { headend, client, port } = await pair();
    const up = espLike(SPI, 1, 100);
    client.t.send(up);
    const first = await until("the client's packet at the headend", () => headend.got[0]);
    expect(first.esp.equals(up)).to.equal(true);
    expect(first.peer).to.equal(`127.0.0.1:${client.t.stats().localPort}`);

    // nowhere to send yet: dropped and counted, not sent to a guess
    headend.t.send(espLike(SPI, 2));
    expect(headend.t.stats()).to.include({ dropped: 1, txPackets: 0, peer: "" });

    headend.t.confirmPeer(first.peer);
    const down = espLike(SPI, 3, 200);
    headend.t.send(down);
    const back = await until("the headend's packet at the client", () => client.got[0]);
    expect(back.esp.equals(down)).to.equal(true);
    expect(back.peer).to.equal(`127.0.0.1:${port}`);
    expect(client.got).to.have.length(1);
    expect(client.t.stats()).to.include({ txPackets: 1, txBytes: 100, rxPackets: 1, rxBytes: 200, dropped: 0 });
    expect(headend.t.stats()).to.include({ txPackets: 1, txBytes: 200, rxPackets: 1, rxBytes: 100, peer: first.peer });
  });

  it("the client sends NAT-keepalives on its interval; the headend counts them and passes none on as ESP", async () => {
    const { headend, client } = await pair({ keepaliveMs: 50 });
    await until("3 keepalives seen by the headend", () => ((headend.t.stats().keepalivesSeen as number) >= 3 ? true : undefined), 10_000, () => headend.t.stats());
    expect(client.t.stats().keepalivesSent as number).to.be.at.least(3);
    expect(client.t.stats()).to.include({ txPackets: 0, txBytes: 0 });
    expect(headend.got, "a keepalive is not a packet").to.have.length(0);
    expect(headend.t.stats()).to.include({ rxPackets: 0, dropped: 0, keepalivesSent: 0 });
  });

  it("drops and counts datagrams that are not ESP (IKE marker, runt); ESP after them still arrives", async () => {
    // no keepalive can land in the middle of the count, however slow the machine
    const { headend, port } = await pair({ keepaliveMs: 3_600_000 });
    const stray = await udp("127.0.0.1");
    stray.s.send(Buffer.from([0, 0, 0, 0, 9, 9, 9, 9, 9]), port, "127.0.0.1");
    stray.s.send(Buffer.from([1, 2, 3]), port, "127.0.0.1");
    const esp = espLike(SPI, 7);
    stray.s.send(esp, port, "127.0.0.1"); // sent last: once it is in, the two before it have been judged
    await until("the ESP datagram", () => headend.got[0]);
    expect(headend.got.map((g) => g.esp.toString("hex"))).to.deep.equal([esp.toString("hex")]);
    expect(headend.t.stats()).to.include({ dropped: 2, rxPackets: 1, keepalivesSeen: 0 });
  });

  it("follows a NAT rebinding only when told: the headend sends where confirmPeer() last pointed", async () => {
    const { headend, client, port } = await pair();
    client.t.send(espLike(SPI, 1));
    const a = (await until("packet from mapping A", () => headend.got[0])).peer;
    headend.t.confirmPeer(a);

    // the NAT rebinds: the client's packets now come from another address and port (B)
    const moved = await udp("127.0.0.2");
    moved.s.send(espLike(SPI, 2), port, "127.0.0.1");
    const b = (await until("packet from mapping B", () => headend.got[1])).peer;
    expect(b).to.equal(`127.0.0.2:${moved.port}`);
    expect(b).to.not.equal(a);

    // not yet confirmed (the tunnel has not authenticated it): still to A
    headend.t.send(espLike(SPI, 100));
    expect(headend.t.stats().peer).to.equal(a);
    headend.t.confirmPeer(b);
    headend.t.send(espLike(SPI, 101));
    // loopback delivers in send order: once 101 is at B, 100 would have been there first had it gone to B
    await until("packet 101 at B", () => moved.got[0]);
    await until("packet 100 at A", () => client.got[0]);
    expect(moved.got.map((p) => p.readUInt32BE(4)), "what reached B").to.deep.equal([101]);
    expect(client.got.map((p) => p.esp.readUInt32BE(4)), "what reached A").to.deep.equal([100]);
    expect(headend.t.stats().peer).to.equal(b);
  });

  it("confirmPeer on the client changes nothing: it always sends to the headend", async () => {
    const { headend, client } = await pair();
    client.t.confirmPeer("127.0.0.9:9");
    client.t.send(espLike(SPI, 1));
    await until("packet at the headend", () => headend.got[0]);
    expect(client.t.stats().peer).to.equal(`127.0.0.1:${headend.t.stats().localPort}`);
  });
});
