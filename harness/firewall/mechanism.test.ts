import { expect } from "chai";
import type { SsSocket } from "./evidence";
import { measureProxy } from "./mechanism";
import { PROXY_PORT, type FirewallEvidence } from "./start";

/** One ss record: every counter zero unless given. */
function sock(s: Partial<SsSocket> & Pick<SsSocket, "state" | "localPort">): SsSocket {
  return {
    local: `198.51.100.1:${s.localPort ?? 0}`,
    peer: "203.0.113.10:40000",
    peerPort: 40000,
    recvQ: 0,
    sendQ: 0,
    bytesReceived: 0,
    bytesSent: 0,
    bytesAcked: 0,
    bytesRetrans: 0,
    segsIn: 0,
    segsOut: 0,
    dataSegsIn: 0,
    dataSegsOut: 0,
    rcvOooPackets: 0,
    rmemAlloc: 0,
    rcvBuf: 0,
    wmemQueued: 0,
    drops: 0,
    retrans: 0,
    retransNow: 0,
    lost: 0,
    unacked: 0,
    sacked: 0,
    notsent: 0,
    processes: [],
    ...s,
  };
}

function evidence(sockets: SsSocket[], accepted?: number): FirewallEvidence {
  const proxy = { name: "builtin" as const, label: "the builtin proxy", connections: [], ...(accepted === undefined ? {} : { accepted }) };
  return { node: "firewall", mode: "full-proxy", proxy, ruleset: "", conntrack: [], sockets, outOfOrder: [], errors: [] };
}

const clientStats = (bytesSent: number): number => bytesSent;
const proxyProc = [{ name: "node", pid: 4242, fd: 21 }];

describe("firewall/mechanism measureProxy", () => {
  it("sums the client-facing sockets on the proxy port and the proxy's own onward connections apart", () => {
    const fw = evidence([
      sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 5000, rcvOooPackets: 3, rmemAlloc: 4608, processes: proxyProc }),
      sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 700, rcvOooPackets: 1, rmemAlloc: 1024, processes: proxyProc }),
      // onward to the headend: an ephemeral local port, owned by the proxy process
      sock({ state: "ESTAB", localPort: 41000, peerPort: 10000, bytesSent: 4100, bytesRetrans: 0, processes: proxyProc }),
      sock({ state: "ESTAB", localPort: 41001, peerPort: 10000, bytesSent: 600, processes: proxyProc }),
    ]);
    const m = measureProxy(fw, clientStats(9000), 1234);
    expect(m).to.deep.equal({
      atMs: 1234,
      proxied: true,
      clientBytesSent: 9000,
      proxyBytesReceived: 5700,
      stalledBytes: 3300,
      oooPackets: 4,
      heldMemory: 5632,
      forwardedOut: 4700,
    });
  });

  it("leaves the LISTEN socket out: a listening proxy with no connection proxied nothing", () => {
    const fw = evidence([
      sock({ state: "LISTEN", localPort: PROXY_PORT, bytesReceived: 0, rmemAlloc: 512, processes: proxyProc }),
      sock({ state: "LISTEN", localPort: 8080, bytesSent: 0, processes: proxyProc }),
    ]);
    const m = measureProxy(fw, clientStats(800));
    expect(m.proxied, JSON.stringify(m)).to.equal(false);
    expect(m.heldMemory).to.equal(0);
    expect(m.forwardedOut).to.equal(0);
    expect(m.stalledBytes).to.equal(800);
  });

  it("counts a LISTEN socket's fields nowhere even when they are non-zero", () => {
    const listening = sock({ state: "LISTEN", localPort: PROXY_PORT, bytesReceived: 777, rcvOooPackets: 5, rmemAlloc: 999 });
    const conn = sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 100, processes: proxyProc });
    const m = measureProxy(evidence([listening, conn]), clientStats(100));
    expect(m.proxyBytesReceived).to.equal(100);
    expect(m.oooPackets).to.equal(0);
    expect(m.heldMemory).to.equal(0);
  });

  it("forwardedOut excludes retransmitted bytes: the proxy's own resends are not new data", () => {
    const fw = evidence([
      sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 3000 }),
      sock({ state: "ESTAB", localPort: 41000, bytesSent: 3500, bytesRetrans: 500, processes: proxyProc }),
    ]);
    expect(measureProxy(fw, clientStats(3000)).forwardedOut).to.equal(3000);
  });

  it("an onward-looking socket owned by no process (not the proxy's) is not forwarded traffic", () => {
    const fw = evidence([
      sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 10 }),
      sock({ state: "TIME-WAIT", localPort: 41002, bytesSent: 9999, processes: [] }),
      sock({ state: "ESTAB", localPort: 41003, bytesSent: 50, processes: proxyProc }),
    ]);
    expect(measureProxy(fw, clientStats(10)).forwardedOut).to.equal(50);
  });

  it("proxied=false when no socket sits on the proxy port (a bypassed flow, or another transport)", () => {
    const fw = evidence([sock({ state: "ESTAB", localPort: 22, bytesReceived: 4000, processes: [{ name: "sshd", pid: 1, fd: 3 }] })]);
    const m = measureProxy(fw, clientStats(4000));
    expect(m.proxied).to.equal(false);
    expect(m.proxyBytesReceived).to.equal(0);
  });

  it("stalledBytes is never negative: the proxy may count more than the client's snapshot", () => {
    const fw = evidence([sock({ state: "ESTAB", localPort: PROXY_PORT, bytesReceived: 6000 })]);
    const m = measureProxy(fw, clientStats(5000));
    expect(m.stalledBytes, JSON.stringify(m)).to.equal(0);
    expect(m.proxyBytesReceived).to.equal(6000);
  });

  it("accepted is the proxy's own count from the evidence, whichever proxy; absent when it could not say", () => {
    expect(measureProxy(evidence([], 3)).accepted).to.equal(3);
    expect(measureProxy(evidence([], 0)).accepted).to.equal(0);
    expect(measureProxy(evidence([])).accepted).to.equal(undefined);
  });

  it("without evidence or client stats everything is zero and nothing was proxied", () => {
    expect(measureProxy(undefined, undefined)).to.deep.equal({
      atMs: undefined,
      proxied: false,
      clientBytesSent: 0,
      proxyBytesReceived: 0,
      stalledBytes: 0,
      oooPackets: 0,
      heldMemory: 0,
      forwardedOut: 0,
    });
    // no client counter given (an implementation that cannot say) reads as zero
    expect(measureProxy(evidence([])).clientBytesSent).to.equal(0);
  });
});
