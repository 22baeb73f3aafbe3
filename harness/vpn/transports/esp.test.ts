import { expect } from "chai";
import type { AgentClient } from "../../agent/client";
import type { TunnelConfig } from "../../agent/protocol";
import type { NetnsPair } from "../../impair/testkit";
import { generateSaKeys, saKeysToJson } from "../esp";
import { encodeIpv4Header } from "../ipv4";
import { classifyEspPacket, IPPROTO_ESP } from "./esp";
import { espLike, until, useAgentPair, usePeerPair, type Peer } from "./testkit";

const SPI_C = 0xc1c1c1c1; // what the client receives
const SPI_H = 0x4e4e4e4e; // what the headend receives

/** An IPv4 packet of protocol `protocol` around `payload`, as a raw socket delivers it. */
function ipPacket(src: string, dst: string, payload: Buffer, protocol = IPPROTO_ESP): Buffer {
  return Buffer.concat([encodeIpv4Header({ src, dst, protocol, id: 1, payloadLength: payload.length }), payload]);
}

const WIRE_TABLE = "vlt_esp_wire";

/** Count, at `ns`'s input, what `from` sent: ESP, and everything else. */
async function countWire(pair: NetnsPair, ns: string, from: string): Promise<void> {
  const text = [`table inet ${WIRE_TABLE} {`, "  chain in {", "    type filter hook input priority -10; policy accept;",
    `    ip saddr ${from} meta l4proto esp counter`, `    ip saddr ${from} meta l4proto != esp counter`, "  }", "}", ""];
  await pair.exec.exec(ns, ["nft", "-f", "-"], { input: text.join("\n") });
}

/** What countWire counted so far: ESP packets and bytes (IP header included), other packets. */
async function wire(pair: NetnsPair, ns: string): Promise<{ esp: number; espBytes: number; other: number }> {
  const r = await pair.exec.exec(ns, ["nft", "-j", "list", "table", "inet", WIRE_TABLE]);
  const items = (JSON.parse(r.stdout) as { nftables: { rule?: { expr: { counter?: { packets: number; bytes: number } }[] } }[] }).nftables;
  const [esp, other] = items.flatMap((i) => (i.rule?.expr ?? []).flatMap((e) => (e.counter ? [e.counter] : [])));
  return { esp: esp.packets, espBytes: esp.bytes, other: other.packets };
}

describe("vpn/transports/esp classifyEspPacket", () => {
  const client = { localIp: "10.0.0.1", peerIp: "10.0.0.2", inboundSpi: SPI_C };
  const headend = { localIp: "10.0.0.2", inboundSpi: SPI_H };

  it("passes on the ESP packet (the IP payload, nothing else) from the headend with our SPI", () => {
    const esp = espLike(SPI_C, 7, 64);
    const v = classifyEspPacket(ipPacket("10.0.0.2", "10.0.0.1", esp), client);
    expect(v.kind).to.equal("esp");
    if (v.kind !== "esp") return;
    expect(v.esp.equals(esp)).to.equal(true);
    expect([v.src, v.wireBytes]).to.deep.equal(["10.0.0.2", 84]);
  });

  it("the headend takes any client address: the tunnel authenticates it", () => {
    const v = classifyEspPacket(ipPacket("192.0.2.9", "10.0.0.2", espLike(SPI_H, 1)), headend);
    expect(v).to.include({ kind: "esp", src: "192.0.2.9" });
  });

  it("ignores bytes after the IP total length", () => {
    const pkt = Buffer.concat([ipPacket("10.0.0.2", "10.0.0.1", espLike(SPI_C, 1, 40)), Buffer.alloc(6)]);
    const v = classifyEspPacket(pkt, client);
    expect(v.kind === "esp" ? v.esp.length : -1).to.equal(40);
  });

  it("drops another SPI, a runt, a stranger's or a misaddressed packet, and what is not ESP", () => {
    const cases: [string, Buffer, string][] = [
      ["another SPI", ipPacket("10.0.0.2", "10.0.0.1", espLike(SPI_H, 1)), "spi"],
      ["7 bytes of ESP", ipPacket("10.0.0.2", "10.0.0.1", espLike(SPI_C, 1).subarray(0, 7)), "runt"],
      ["not from the headend", ipPacket("10.0.0.3", "10.0.0.1", espLike(SPI_C, 1)), "address"],
      ["not to us", ipPacket("10.0.0.2", "10.0.0.9", espLike(SPI_C, 1)), "address"],
      ["protocol 17", ipPacket("10.0.0.2", "10.0.0.1", espLike(SPI_C, 1), 17), "not-esp"],
      ["shorter than its header says", ipPacket("10.0.0.2", "10.0.0.1", espLike(SPI_C, 1)).subarray(0, 30), "not-esp"],
    ];
    for (const [what, pkt, reason] of cases) {
      expect(classifyEspPacket(pkt, client), what).to.deep.equal({ kind: "drop", reason });
    }
  });
});

/**
 * Two EspTransports, each in its own throwaway namespace (a raw socket acts on
 * the namespace it is opened in), joined by a veth pair: the client in a
 * (10.200.0.1), the headend in b (10.200.0.2). An nftables counter at each
 * side's input shows what crossed the veth: IP protocol 50, and nothing else.
 */
describe("vpn/transports/esp EspTransport between two namespaces (root)", function () {
  this.timeout(60000);
  const { pair: p, startPeer } = usePeerPair();
  const opts = (side: "client" | "headend") => ({
    side,
    localIp: side === "client" ? p().ipA : p().ipB,
    headendIp: p().ipB,
    port: 0, // ESP has no ports
    inboundSpi: side === "client" ? SPI_C : SPI_H,
    maxPacket: 1400,
  });
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const frames = (indexes: number[], size = 100) => indexes.map((index) => ({ index, size }));

  async function peer(ns: string, side: "client" | "headend"): Promise<Peer> {
    const x = await startPeer(ns);
    await x.request({ cmd: "start", transport: "esp", opts: opts(side) });
    return x;
  }
  const stats = (x: Peer) => x.request<Record<string, number | string>>({ cmd: "stats" });
  const delivered = (x: Peer, indexes: number[]) =>
    until(`${x.ns} delivers ${indexes.join(",")}`, () => {
      const got = new Set(x.packets().map((e) => e.index));
      return indexes.every((i) => got.has(i)) ? true : undefined;
    }, 15000, () => x.packets().map((e) => e.index));

  it("carries ESP both ways as IP protocol 50, the packet unchanged as the IP payload; the headend answers the confirmed peer", async () => {
    await countWire(p(), p().a, p().ipB);
    await countWire(p(), p().b, p().ipA);
    const headend = await peer(p().b, "headend");
    const client = await peer(p().a, "client");

    // nowhere to send yet: dropped and counted, not sent to a guess
    await headend.request({ cmd: "send", spi: SPI_C, frames: frames([99]) });
    expect(await stats(headend)).to.include({ dropped: 1, txPackets: 0, peer: "" });

    await client.request({ cmd: "send", spi: SPI_H, frames: frames(range(0, 4)) });
    await delivered(headend, range(0, 4));
    expect(headend.packets().map((e) => [e.index, e.length, e.peer])).to.deep.equal(range(0, 4).map((i) => [i, 100, p().ipA]));
    await headend.request({ cmd: "confirm", peer: headend.packets()[0].peer });
    await headend.request({ cmd: "send", spi: SPI_C, frames: frames(range(10, 14), 200) });
    await delivered(client, range(10, 14));
    expect(client.packets().map((e) => [e.index, e.length, e.peer])).to.deep.equal(range(10, 14).map((i) => [i, 200, p().ipB]));

    const c = await stats(client);
    const h = await stats(headend);
    const keys = ["txPackets", "txBytes", "bytesSent", "rxPackets", "rxBytes", "bytesReceived", "dropped", "sendErrors"];
    const pick = (s: Record<string, unknown>) => keys.map((k) => s[k]);
    expect(pick(c), JSON.stringify(c)).to.deep.equal([5, 500, 600, 5, 1000, 1100, 0, 0]);
    expect(pick(h), JSON.stringify(h)).to.deep.equal([5, 1000, 1100, 5, 500, 600, 1, 0]);
    expect([c.peer, h.peer]).to.deep.equal([p().ipB, p().ipA]);
    // what crossed the veth: protocol 50 only, byte for byte what each side says it put on the wire
    // (no ICMP protocol-unreachable either: the raw socket takes every ESP packet in)
    const atB = await wire(p(), p().b);
    const atA = await wire(p(), p().a);
    expect([atB.esp, atB.espBytes, atB.other], `at the headend: ${JSON.stringify(atB)}`).to.deep.equal([5, c.bytesSent, 0]);
    expect([atA.esp, atA.espBytes, atA.other], `at the client: ${JSON.stringify(atA)}`).to.deep.equal([5, h.bytesSent, 0]);
  });

  it("drops and counts a packet with another SPI, a runt (< 8 bytes) and ESP from a stranger; the ESP after them arrives", async () => {
    const headend = await peer(p().b, "headend");
    const client = await peer(p().a, "client");
    await client.request({ cmd: "send", spi: SPI_H, frames: frames([0]) });
    await delivered(headend, [0]);
    await headend.request({ cmd: "confirm", peer: p().ipA });

    // at the headend: an SPI it does not receive, then a 5-byte ESP payload crafted in a, then a good one
    await client.request({ cmd: "send", spi: SPI_C, frames: frames([1]) });
    const runt = ipPacket(p().ipA, p().ipB, Buffer.from([0x4e, 0x4e, 0x4e, 0x4e, 0]));
    await client.request({ cmd: "emit-ip", packetHex: runt.toString("hex") });
    await client.request({ cmd: "send", spi: SPI_H, frames: frames([2]) });
    // veth delivers in order: once 2 is in, 1 and the runt have been judged
    await delivered(headend, [2]);

    // at the client: right SPI, but from an address on the link that is not the headend; then the headend's own
    const spoofed = ipPacket("10.200.0.3", p().ipA, espLike(SPI_C, 20));
    await headend.request({ cmd: "emit-ip", packetHex: spoofed.toString("hex") });
    await headend.request({ cmd: "send", spi: SPI_C, frames: frames([21]) });
    await delivered(client, [21]);

    const h = await stats(headend);
    const c = await stats(client);
    expect(headend.packets().map((e) => e.index), "passed on at the headend").to.deep.equal([0, 2]);
    expect(client.packets().map((e) => e.index), "passed on at the client").to.deep.equal([21]);
    expect([h.rxPackets, h.dropped, h.droppedSpi, h.droppedRunt, h.droppedAddress], JSON.stringify(h)).to.deep.equal([2, 2, 1, 1, 0]);
    expect([c.rxPackets, c.dropped, c.droppedSpi, c.droppedRunt, c.droppedAddress], JSON.stringify(c)).to.deep.equal([1, 1, 0, 0, 1]);
  });
});

/**
 * The Tunnel over esp, end to end: two agents in two namespaces, TUN devices,
 * inner traffic (ping and the agent's UDP echo probe) and DPD, with nothing
 * but protocol 50 between the outer addresses.
 */
describe("vpn/tunnel over esp (root, two agents, two namespaces)", function () {
  this.timeout(60000);
  const POOL = { addr: "172.30.0.0", prefix: 24 };
  const HEADEND_INNER = "172.30.0.1";
  const ECHO_PORT = 7;
  const { pair, startAgent } = useAgentPair();

  interface TunnelStats {
    state: string;
    espSent: number;
    espAccepted: number;
    dpdSent: number;
    dpdAcked: number;
    tunTx: number;
    wire: Record<string, number | string>;
  }
  const stats = async (a: AgentClient): Promise<TunnelStats> => (await a.request<{ tunnel: TunnelStats }>({ cmd: "stats" })).tunnel;
  const echoed = async (a: AgentClient): Promise<number> => (await a.request<{ echoed?: number }>({ cmd: "stats" })).echoed ?? 0;

  async function tunnel(dpd: TunnelConfig["dpd"]): Promise<{ client: AgentClient; headend: AgentClient }> {
    const p = pair();
    const c2h = saKeysToJson(generateSaKeys());
    const h2c = saKeysToJson(generateSaKeys());
    const common = { transport: "esp", headendIp: p.ipB, port: 0, pool: POOL, tunName: "tun-vpn", mtu: 1300 } as const;
    const headend = await startAgent(p.b, "headend");
    const client = await startAgent(p.a, "client");
    await headend.request({ cmd: "tunnel", config: { ...common, side: "headend", localIp: p.ipB, routes: [], dpd, out: h2c, in: c2h } });
    await headend.request({ cmd: "echo-server", port: ECHO_PORT });
    await client.request({ cmd: "tunnel", config: { ...common, side: "client", localIp: p.ipA, routes: [], dpd, out: c2h, in: h2c } });
    const ev = await client.waitFor((e) => e.event === "tunnel-up" || e.event === "tunnel-error", 15000, "client tunnel-up");
    expect(ev.event, JSON.stringify(ev)).to.equal("tunnel-up");
    return { client, headend };
  }

  it("comes up; ping and the UDP echo cross the TUNs; with traffic stopped both sides' R-U-THEREs are ACKed", async () => {
    const p = pair();
    await countWire(p, p.a, p.ipB);
    await countWire(p, p.b, p.ipA);
    const dpd = { intervalMs: 200, retries: 3 };
    const { client, headend } = await tunnel(dpd);

    const ping = await p.exec.exec(p.a, ["ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2", HEADEND_INNER], { allowFailure: true });
    const received = /(\d+) received/.exec(ping.stdout)?.[1];
    expect(Number(received), `ping through the tunnel: ${ping.stdout}${ping.stderr}`).to.equal(5);

    await client.request({ cmd: "probe-start", config: { to: HEADEND_INNER, port: ECHO_PORT, ratePerSec: 100, payloadBytes: 64 } });
    await until("100 echoes", async () => ((await echoed(headend)) >= 100 ? true : undefined), 20000, () => echoed(headend));
    await client.request({ cmd: "probe-stop", graceMs: 200 });

    const c0 = await stats(client);
    const h0 = await stats(headend);
    const acked = (a: AgentClient, n: number) =>
      until(`${a.node} dpdAcked >= ${n}`, async () => {
        const s = await stats(a);
        return s.dpdAcked >= n ? s : undefined;
      }, 15000, () => stats(a));
    const c1 = await acked(client, c0.dpdAcked + dpd.retries + 1);
    const h1 = await acked(headend, h0.dpdAcked + dpd.retries + 1);
    expect([c1.state, h1.state], JSON.stringify({ c1, h1 })).to.deep.equal(["up", "up"]);
    expect(client.events.concat(headend.events).filter((e) => e.event === "tunnel-down")).to.deep.equal([]);

    const atA = await wire(p, p.a);
    const atB = await wire(p, p.b);
    const c2 = await stats(client);
    const h2 = await stats(headend);
    expect(h2.wire.peer, "the headend answers the client's outer address").to.equal(p.ipA);
    // everything between the outer addresses was protocol 50, and every packet there was ESP a tunnel end sent
    expect([atA.other, atB.other], JSON.stringify({ atA, atB })).to.deep.equal([0, 0]);
    expect(atB.esp, `ESP at the headend ${JSON.stringify(atB)} vs client ${JSON.stringify(c2)}`).to.be.within(c1.espSent, c2.espSent);
    expect(atA.esp, `ESP at the client ${JSON.stringify(atA)} vs headend ${JSON.stringify(h2)}`).to.be.within(h1.espSent, h2.espSent);
    expect(c2.wire.dropped, JSON.stringify(c2.wire)).to.equal(0);
    expect(h2.wire.dropped, JSON.stringify(h2.wire)).to.equal(0);
  });

  it("without DPD, once quiet: every byte a side says it sent is what the other's input counted as ESP", async () => {
    const p = pair();
    await countWire(p, p.a, p.ipB);
    await countWire(p, p.b, p.ipA);
    const { client, headend } = await tunnel(null);
    await client.request({ cmd: "probe-start", config: { to: HEADEND_INNER, port: ECHO_PORT, ratePerSec: 100, payloadBytes: 200 } });
    await until("50 echoes", async () => ((await echoed(headend)) >= 50 ? true : undefined), 20000, () => echoed(headend));
    await client.request({ cmd: "probe-stop", graceMs: 300 });
    // quiet now (no DPD, hellos stopped at config): the client's last packet has been counted once the headend accepted it
    const c = await stats(client);
    await until("the headend accepted all the client sent", async () => ((await stats(headend)).espAccepted === c.espSent ? true : undefined), 10000, () => stats(headend));
    const h = await stats(headend);
    await until("the client accepted all the headend sent", async () => ((await stats(client)).espAccepted === h.espSent ? true : undefined), 10000, () => stats(client));
    const atA = await wire(p, p.a);
    const atB = await wire(p, p.b);
    const measured = { atA, atB, client: c.wire, headend: h.wire };
    expect([atB.esp, atB.espBytes, atB.other], JSON.stringify(measured)).to.deep.equal([c.wire.txPackets, c.wire.bytesSent, 0]);
    expect([atA.esp, atA.espBytes, atA.other], JSON.stringify(measured)).to.deep.equal([h.wire.txPackets, h.wire.bytesSent, 0]);
    expect(c.wire.txPackets, "one ESP packet per tunnel packet").to.equal(c.espSent);
  });
});
