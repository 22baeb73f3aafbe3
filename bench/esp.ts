// ESP seal/open and pseudo-TCP framing throughput: how much of a core the
// reference datapath costs per packet. Prints numbers; asserts nothing.
//   node dist/bench/esp.js [packets]
import { EspInbound, EspOutbound, generateSaKeys, NEXT_HEADER_IPV4 } from "../harness/vpn/esp";
import { encodeSegment } from "../harness/vpn/ctcp/segment";
import { StreamReceiver, StreamSender, frame } from "../harness/vpn/ctcp/stream";

const N = Number(process.argv[2] ?? 200000);

function measure(name: string, size: number, fn: () => void): void {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const ns = Number(process.hrtime.bigint() - t);
  const pps = (N / ns) * 1e9;
  console.log(`${name.padEnd(34)} ${size.toString().padStart(5)} B  ${Math.round(pps).toString().padStart(9)} pkt/s  ${((pps * size * 8) / 1e6).toFixed(0).padStart(6)} Mbit/s  ${(ns / N / 1000).toFixed(2)} µs/pkt`);
}

for (const size of [64, 512, 1300]) {
  const keys = generateSaKeys();
  const out = new EspOutbound(keys);
  const inb = new EspInbound(keys, 1024);
  const payload = Buffer.alloc(size, 0xab);
  measure("esp seal (AES-128-GCM)", size, () => out.seal(NEXT_HEADER_IPV4, payload));
  const sealed: Buffer[] = [];
  const out2 = new EspOutbound(keys);
  for (let i = 0; i < N; i++) sealed.push(out2.seal(NEXT_HEADER_IPV4, payload));
  let i = 0;
  measure("esp open (AES-128-GCM + replay)", size, () => inb.open(sealed[i++]));
  const tx = new StreamSender(1000);
  const rx = new StreamReceiver(1000);
  const esp = sealed[0];
  measure("ctcp frame + segment + reassemble", size, () => {
    const { seq, payload: p } = tx.next(frame(esp));
    encodeSegment({ src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, seq, ack: 0, flags: { ack: true, psh: true }, window: 65535, payload: p }, 1);
    rx.accept(seq, p);
  });
}
