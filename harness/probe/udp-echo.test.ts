import { expect } from "chai";
import * as dgram from "node:dgram";
import { decodeProbe, ProbeSender } from "./udp-echo";

describe("probe/udp-echo: the sender's per-seq echo counts and arrival order", function () {
  this.timeout(10000);

  it("a responder that echoes seq 3 twice and holds seq 5 back until seq 7 is in: echoes and arrivals say so", async () => {
    const responder = dgram.createSocket("udp4");
    let held: { msg: Buffer; port: number } | undefined;
    responder.on("message", (msg, rinfo) => {
      const seq = decodeProbe(msg)?.seq;
      if (seq === 5) {
        held = { msg, port: rinfo.port };
        return;
      }
      responder.send(msg, rinfo.port, "127.0.0.1");
      if (seq === 3) responder.send(msg, rinfo.port, "127.0.0.1");
      if (seq === 7 && held) responder.send(held.msg, held.port, "127.0.0.1");
    });
    await new Promise<void>((r) => responder.bind(0, "127.0.0.1", () => r()));
    const sender = new ProbeSender({ to: "127.0.0.1", port: responder.address().port, ratePerSec: 100, payloadBytes: 64 });
    await sender.start();
    await new Promise((r) => setTimeout(r, 120));
    const rec = await sender.stop(200);
    responder.close();
    const n = rec.sent.length;
    expect(n, "probes sent in 120 ms at 100/s").to.be.at.least(10);
    expect(rec.echoes?.slice(0, 9), `echoes per seq: ${JSON.stringify(rec.echoes)}`).to.deep.equal([1, 1, 1, 2, 1, 1, 1, 1, 1]);
    expect(rec.duplicates).to.equal(1);
    const order = rec.arrivals ?? [];
    expect(order.indexOf(5), `arrival order ${JSON.stringify(order)}`).to.equal(order.indexOf(7) + 1);
    expect([...order].sort((a, b) => a - b), "each seq's first echo once").to.deep.equal(Array.from({ length: order.length }, (_, i) => i));
  });

  it("a sender held past the timeout (its process frozen) keeps the schedule: what fell due too long ago is never sent and counted unsent, the rest goes out late", async () => {
    const responder = dgram.createSocket("udp4");
    responder.on("message", (msg, rinfo) => responder.send(msg, rinfo.port, "127.0.0.1"));
    await new Promise<void>((r) => responder.bind(0, "127.0.0.1", () => r()));
    const timeoutMs = 200;
    const sender = new ProbeSender({ to: "127.0.0.1", port: responder.address().port, ratePerSec: 100, payloadBytes: 64, timeoutMs });
    await sender.start();
    await new Promise((r) => setTimeout(r, 50));
    // hold this very process, as SIGSTOP or a starved CPU would: no timer runs for 700 ms
    const frozeAt = Date.now();
    while (Date.now() - frozeAt < 700);
    const thawedAt = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    const rec = await sender.stop(200);
    responder.close();
    const due = rec.due ?? [];
    const unsent = rec.unsent ?? [];
    const msg = `froze ${frozeAt}..${thawedAt}; unsent ${JSON.stringify(unsent)}; due ${due.length}`;
    // the schedule: one due every 10 ms, none skipped, whatever the sender could do
    expect(due.length, msg).to.equal(rec.sent.length);
    due.forEach((t, i) => i && expect(t - due[i - 1], `${msg}; seq ${i}`).to.be.within(9, 11));
    // every probe due before (thaw − timeout) was never sent; every probe sent left at most timeout after its due time
    // (the sender decides at the start of its catch-up loop; SLACK_MS covers that loop's own run on a busy host)
    const SLACK_MS = 50;
    const mustSkip = due.map((t, i) => [t, i] as const).filter(([t]) => t >= frozeAt && t < thawedAt - timeoutMs - 10).map(([, i]) => i);
    expect(mustSkip.length, msg).to.be.at.least(40);
    for (const i of mustSkip) expect(unsent, `${msg}; seq ${i}`).to.include(i);
    rec.sent.forEach((t, i) => {
      if (!unsent.includes(i)) expect(t - due[i], `${msg}; seq ${i} sent late`).to.be.at.most(timeoutMs + SLACK_MS);
      else expect(rec.received[i], `${msg}; unsent seq ${i}`).to.equal(null);
    });
  });
});
