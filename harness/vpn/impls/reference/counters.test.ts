import { expect } from "chai";
import { referenceCounters } from "./index";

describe("vpn/impls/reference: counters from the agent's stats", () => {
  it("maps a ctcp end's stats (stream bytes) onto the common counters", () => {
    const stats = { tunnel: { tunRx: 120, tunTx: 118, dpdSent: 2, dpdAcked: 1, wire: { bytesSent: 45898, bytesReceived: 40000, segmentsSent: 450 } } };
    const c = referenceCounters(stats);
    expect(c).to.deep.include({ innerSent: 120, innerReceived: 118, wireBytesSent: 45898, wireBytesReceived: 40000, dpdSent: 2, dpdAcked: 1 });
    expect(c.detail).to.equal(stats.tunnel);
  });
  it("a datagram transport's tx/rx bytes; nothing known is zero, never NaN", () => {
    expect(referenceCounters({ tunnel: { wire: { txBytes: 900, rxBytes: 800 } } })).to.deep.include({ wireBytesSent: 900, wireBytesReceived: 800, innerSent: 0 });
    expect(referenceCounters(undefined)).to.deep.include({ innerSent: 0, wireBytesSent: 0, dpdSent: 0 });
    expect(referenceCounters({ tunnel: { wire: { bytesSent: "n/a" } } }).wireBytesSent).to.equal(0);
  });
});
