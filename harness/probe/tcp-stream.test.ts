import { expect } from "chai";
import * as fc from "fast-check";
import * as net from "node:net";
import { BlockClock, CHUNK, TcpSink, TcpStreamSender } from "./tcp-stream";

/** Blocks as the sender writes them: an 8-byte send time, then filler. */
function blocks(times: number[]): Buffer {
  return Buffer.concat(
    times.map((t) => {
      const b = Buffer.alloc(CHUNK, 0x5a);
      b.writeDoubleBE(t, 0);
      return b;
    }),
  );
}

describe("probe/tcp-stream: bytes by send time", () => {
  it("gives every byte to its block's send time however the stream is cut into reads", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }),
        (times, cuts) => {
          const stream = blocks(times);
          const got = new Map<number, number>();
          const clock = new BlockClock();
          let i = 0;
          for (let k = 0; i < stream.length; k++) {
            const n = cuts[k % cuts.length];
            clock.feed(stream.subarray(i, i + n), (t, c) => got.set(t, (got.get(t) ?? 0) + c));
            i += n;
          }
          const want = new Map<number, number>();
          for (const t of times) want.set(t, (want.get(t) ?? 0) + CHUNK);
          expect([...got.entries()].sort()).to.deep.equal([...want.entries()].sort());
        },
      ),
    );
  });

  it("a partial last block counts what arrived of it, to its send time", () => {
    const clock = new BlockClock();
    const got: [number, number][] = [];
    clock.feed(blocks([1000, 2000]).subarray(0, CHUNK + 5), (t, n) => got.push([t, n]));
    expect(got.reduce((m, [t, n]) => (t === 1000 ? m + n : m), 0)).to.equal(CHUNK);
    expect(got.filter(([t]) => t === 2000)).to.deep.equal([]); // its stamp is not complete yet
    clock.feed(blocks([1000, 2000]).subarray(CHUNK + 5, CHUNK + 20), (t, n) => got.push([t, n]));
    expect(got.filter(([t]) => t === 2000).reduce((m, [, n]) => m + n, 0)).to.equal(20);
  });

  it("over loopback: the sink's send-time buckets hold every byte the sender wrote; reportWhen waits for the last ones", async () => {
    const sink = new TcpSink();
    const probe = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => probe.once("listening", r));
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    await sink.start(port);
    const sender = new TcpStreamSender({ to: "127.0.0.1", port, bytesPerSec: 50_000 });
    const t0 = Date.now();
    await sender.start();
    // until the kernel took 20 blocks, however slowly this host runs us (the test is about accounting, not speed)
    while (sender.bytesHandedOver() < 20 * CHUNK) await new Promise((r) => setTimeout(r, 50));
    const rec = sender.stop();
    const report = await sink.reportWhen(rec.bytesWritten, 30_000); // returns as soon as they are all in
    sink.close();
    const bySent = report.sentBuckets.reduce((n, [, b]) => n + b, 0);
    const info = `written ${rec.bytesWritten}, received ${report.bytes}, by send time ${bySent}, buckets ${JSON.stringify(report.sentBuckets)}`;
    expect(rec.bytesWritten, info).to.be.at.least(20 * CHUNK);
    expect(report.bytes, info).to.equal(rec.bytesWritten);
    expect(bySent, info).to.equal(report.bytes);
    for (const [t] of report.sentBuckets) expect(t, info).to.be.within(Math.floor(t0 / 100) * 100, Date.now());
  });

  it("reportWhen gives up after waitMs when the bytes never come", async () => {
    const sink = new TcpSink();
    await sink.start(0);
    const r = await sink.reportWhen(1, 50);
    sink.close();
    expect(r.bytes).to.equal(0);
  });
});
