// One end of a reference VPN tunnel: inner IPv4 from a TUN device, sealed as
// ESP with a statically keyed SA, carried by a Transport, with dead-peer
// detection on top. The same code serves every reference transport.
import { run } from "../exec";
import type { AgentEvent } from "../agent/protocol";
import type { TunnelConfig } from "./tunnel-config";
import { Dpd } from "./dpd";
import { EspInbound, EspOutbound, EspError, NEXT_HEADER_CONTROL, NEXT_HEADER_IPV4, saKeysFromJson } from "./esp";
import { TunDevice } from "./tun";
import { createTransport } from "./transports";
import type { Transport } from "./transports/transport";
import { addrToInt, intToAddr } from "../topology/units";

type Control =
  | { t: "hello" }
  | { t: "config"; inner: string; prefix: number; gateway: string }
  | { t: "dpd-req"; n: number }
  | { t: "dpd-ack"; n: number };

const HELLO_RETRY_MS = 500;
const ESP_OVERHEAD_MAX = 4 + 4 + 8 + 3 + 2 + 16;

export class Tunnel {
  private readonly transport: Transport;
  private readonly out: EspOutbound;
  private readonly inb: EspInbound;
  private tun?: TunDevice;
  private dpd?: Dpd;
  private dpdTimer?: NodeJS.Timeout;
  private helloTimer?: NodeJS.Timeout;
  private state: "connecting" | "up" | "down" = "connecting";
  private dpdSeq = 0;
  private readonly counters = { tunRx: 0, tunTx: 0, espSent: 0, espAccepted: 0, dpdSent: 0, dpdAcked: 0, droppedWhileDown: 0 };
  private readonly startedAt = Date.now();

  constructor(
    private readonly cfg: TunnelConfig,
    private readonly emit: (e: AgentEvent) => void,
    private readonly log: (msg: string) => void,
  ) {
    this.transport = createTransport(cfg.transport, {
      side: cfg.side,
      localIp: cfg.localIp,
      headendIp: cfg.headendIp,
      port: cfg.port,
      inboundSpi: cfg.in.spi,
      // SPI, sequence number, IV (8), padding (≤ 3), pad length, next header, ICV (16)
      maxPacket: cfg.mtu + ESP_OVERHEAD_MAX,
      log,
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      ...(cfg.pinSha256 ? { pinSha256: cfg.pinSha256 } : {}),
    });
    this.out = new EspOutbound(saKeysFromJson(cfg.out));
    this.inb = new EspInbound(saKeysFromJson(cfg.in));
  }

  async start(): Promise<void> {
    this.transport.onPacket((esp, peer) => this.onEsp(esp, peer));
    if (this.cfg.side === "headend") {
      // the headend takes the pool's first address and routes the pool into the tunnel
      await this.openTun(intToAddr(addrToInt(this.cfg.pool.addr) + 1), this.cfg.pool.prefix, []);
      await this.transport.start();
      return;
    }
    await this.transport.start();
    const hello = () => this.sendControl({ t: "hello" });
    hello();
    this.helloTimer = setInterval(hello, HELLO_RETRY_MS);
  }

  private async openTun(addr: string, prefix: number, routes: { addr: string; prefix: number }[]): Promise<void> {
    this.tun = await TunDevice.open(this.cfg.tunName, this.cfg.mtu, `${addr}/${prefix}`);
    for (const r of routes) await run(["ip", "route", "replace", `${r.addr}/${r.prefix}`, "dev", this.cfg.tunName]);
    this.tun.onPacket((pkt) => this.fromTun(pkt));
  }

  private fromTun(pkt: Buffer): void {
    this.counters.tunRx++;
    if (pkt.length < 20 || pkt[0] >> 4 !== 4) return; // IPv4 only: the lab runs no IPv6 inside the tunnel
    if (this.state !== "up") {
      this.counters.droppedWhileDown++;
      return;
    }
    this.sendEsp(NEXT_HEADER_IPV4, pkt);
  }

  private sendEsp(nextHeader: number, payload: Buffer): void {
    this.transport.send(this.out.seal(nextHeader, payload));
    this.counters.espSent++;
  }

  private sendControl(msg: Control): void {
    this.sendEsp(NEXT_HEADER_CONTROL, Buffer.from(JSON.stringify(msg)));
  }

  private onEsp(esp: Buffer, peer: string): void {
    if (this.state === "down") return;
    let opened: { nextHeader: number; payload: Buffer };
    try {
      opened = this.inb.open(esp);
    } catch (e) {
      if (!(e instanceof EspError)) throw e;
      return; // counted by EspInbound.stats
    }
    this.counters.espAccepted++;
    // only an authenticated packet may move the headend's idea of where the client is
    this.transport.confirmPeer(peer);
    if (opened.nextHeader === NEXT_HEADER_IPV4) {
      this.dpd?.proof(Date.now());
      if (this.tun && this.state === "up") {
        this.tun.write(opened.payload);
        this.counters.tunTx++;
      }
      return;
    }
    if (opened.nextHeader !== NEXT_HEADER_CONTROL) return;
    let msg: Control;
    try {
      msg = JSON.parse(opened.payload.toString()) as Control;
    } catch {
      return;
    }
    this.onControl(msg, peer).catch((e: Error) => {
      // e.g. the client could not configure its TUN: say so, rather than leave the harness waiting
      this.state = "down";
      this.emit({ event: "tunnel-error", at: Date.now(), error: e.message });
    });
  }

  private async onControl(msg: Control, peer: string): Promise<void> {
    switch (msg.t) {
      case "hello": {
        if (this.cfg.side !== "headend") return;
        const base = addrToInt(this.cfg.pool.addr);
        this.sendControl({ t: "config", inner: intToAddr(base + 2), prefix: this.cfg.pool.prefix, gateway: intToAddr(base + 1) });
        if (this.state === "connecting") this.up(intToAddr(base + 2), peer);
        return;
      }
      case "config": {
        if (this.cfg.side !== "client" || this.state !== "connecting") return;
        clearInterval(this.helloTimer);
        this.state = "up"; // before the TUN exists, so a second config is ignored
        await this.openTun(msg.inner, msg.prefix, this.cfg.routes);
        this.up(msg.inner, peer);
        return;
      }
      case "dpd-req":
        this.sendControl({ t: "dpd-ack", n: msg.n });
        return;
      case "dpd-ack":
        this.counters.dpdAcked++;
        this.dpd?.proof(Date.now());
        return;
    }
  }

  private up(inner: string, peer: string): void {
    this.state = "up";
    if (this.cfg.dpd) {
      this.dpd = new Dpd(this.cfg.dpd, Date.now());
      this.dpdTimer = setInterval(() => this.dpdTick(), this.cfg.dpd.intervalMs);
    }
    this.emit({ event: "tunnel-up", at: Date.now(), inner, peer });
  }

  private dpdTick(): void {
    const dpd = this.dpd;
    const cfg = this.cfg.dpd;
    if (!dpd || !cfg) return;
    const action = dpd.tick(Date.now());
    if (action === "probe") {
      this.sendControl({ t: "dpd-req", n: ++this.dpdSeq });
      this.counters.dpdSent++;
    } else if (action === "down") {
      this.state = "down";
      clearInterval(this.dpdTimer);
      this.emit({
        event: "tunnel-down",
        at: Date.now(),
        reason: `dead peer: ${cfg.retries} R-U-THERE unanswered, ${cfg.intervalMs} ms apart`,
        lastRxAt: dpd.lastProofAt,
        missed: dpd.missedProbes,
      });
    }
  }

  stats(): Record<string, unknown> {
    return {
      side: this.cfg.side,
      transport: this.cfg.transport,
      state: this.state,
      uptimeMs: Date.now() - this.startedAt,
      ...this.counters,
      esp: { sent: this.out.sent, ...this.inb.stats },
      wire: this.transport.stats(),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.helloTimer);
    clearInterval(this.dpdTimer);
    this.tun?.close();
    await this.transport.close();
  }
}
