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
});
