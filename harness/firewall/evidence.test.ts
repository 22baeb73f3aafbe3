import { expect } from "chai";
import { holdsOutOfOrder, parseSs, SS_ARGV, type SsSocket } from "./evidence";
import { isRoot, Netns } from "./testkit";

// Real `ss -tanimpHO` output (iproute2 6.1) from a loopback connection after
// the receiver's input dropped one segment: the receiver (:7100) holds the
// 200 bytes after the gap out of order (rcv_ooopack:1, skmem r1032, Recv-Q 0,
// bytes_received stuck at 100); the sender keeps retransmitting.
const OOO_SAMPLE = [
  `LISTEN 0      511    127.0.0.1:7100    0.0.0.0:*     users:(("node",pid=6748,fd=19)) skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0) bbr cwnd:10          `,
  `ESTAB  0      550    127.0.0.1:42774 127.0.0.1:7100  users:(("node",pid=6748,fd=20)) skmem:(r0,rb131072,t0,tb3939840,f1882,w2214,o0,bl0,d0) bbr wscale:10,10 rto:816 backoff:2 rtt:0.035/0.018 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:1 bytes_sent:1700 bytes_retrans:1050 bytes_acked:101 segs_out:8 segs_in:3 data_segs_out:6 bbr:(bw:11915625000bps,mrtt:0.022,pacing_gain:2.88672,cwnd_gain:2.88672) send 7489828571bps lastsnd:36 lastrcv:720 lastack:664 pacing_rate 187137836008bps delivery_rate 11915636360bps delivered:3 app_limited busy:668ms unacked:2 retrans:1/3 lost:1 sacked:1 rcv_space:65495 rcv_ssthresh:65495 minrtt:0.022 snd_wnd:65536`,
  `ESTAB  0      0      127.0.0.1:7100  127.0.0.1:42774 users:(("node",pid=6748,fd=21)) skmem:(r1032,rb263032,t0,tb3939840,f3064,w0,o0,bl0,d0) bbr wscale:10,10 rto:204 rtt:0.025/0.012 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_received:100 segs_out:2 segs_in:4 data_segs_in:2 bbr:(bw:0bps,mrtt:0.025) send 104857600000bps lastsnd:720 lastrcv:716 lastack:664 pacing_rate 299667438136bps delivered:1 app_limited rcv_space:65483 rcv_ssthresh:65536 minrtt:0.025 rcv_ooopack:1 snd_wnd:65536      `,
].join("\n");

function byPorts(sockets: SsSocket[], local: number, peer: number): SsSocket {
  const s = sockets.find((x) => x.localPort === local && x.peerPort === peer);
  if (!s) throw new Error(`no socket ${local} -> ${peer} in ${JSON.stringify(sockets.map((x) => `${x.local} ${x.peer}`))}`);
  return s;
}

describe("firewall/evidence (ss)", () => {
  it("SS_ARGV asks for TCP, all states, numeric, tcp_info, skmem, processes, one line each, no header", () => {
    expect(SS_ARGV).to.deep.equal(["ss", "-t", "-a", "-n", "-i", "-m", "-p", "-H", "-O"]);
  });

  describe("parseSs on a fixed sample", () => {
    const sockets = parseSs(OOO_SAMPLE);

    it("reads one socket per line, with state, queues, addresses and processes", () => {
      expect(sockets.map((s) => [s.state, s.local, s.peer])).to.deep.equal([
        ["LISTEN", "127.0.0.1:7100", "0.0.0.0:*"],
        ["ESTAB", "127.0.0.1:42774", "127.0.0.1:7100"],
        ["ESTAB", "127.0.0.1:7100", "127.0.0.1:42774"],
      ]);
      expect(sockets[0]).to.include({ recvQ: 0, sendQ: 511, localPort: 7100, peerPort: undefined });
      expect(sockets[1].processes).to.deep.equal([{ name: "node", pid: 6748, fd: 20 }]);
    });

    it("reads the out-of-order evidence of the receiver", () => {
      const rx = byPorts(sockets, 7100, 42774);
      expect(rx).to.include({
        recvQ: 0,
        bytesReceived: 100,
        rcvOooPackets: 1,
        rmemAlloc: 1032,
        rcvBuf: 263032,
        segsIn: 4,
        segsOut: 2,
        dataSegsIn: 2,
        retrans: 0,
        lastRcvMs: 716,
      });
      expect(holdsOutOfOrder(rx)).to.equal(true);
    });

    it("reads the sender's side: unacknowledged, retransmitted, lost", () => {
      const tx = byPorts(sockets, 42774, 7100);
      expect(tx).to.include({
        sendQ: 550,
        bytesSent: 1700,
        bytesAcked: 101,
        bytesRetrans: 1050,
        retrans: 3,
        retransNow: 1,
        lost: 1,
        sacked: 1,
        unacked: 2,
        wmemQueued: 2214,
        rcvOooPackets: 0,
      });
      expect(holdsOutOfOrder(tx)).to.equal(false);
      expect(holdsOutOfOrder(sockets[0])).to.equal(false);
    });

    it("accepts ss's two-line layout, IPv6 addresses and process names with blanks", () => {
      const two = parseSs(
        [
          "ESTAB 0      0      [::1]:7000  [::1]:49776",
          '\t users:(("my proc",pid=7,fd=3),("haproxy",pid=8,fd=9)) skmem:(r0,rb131072,t0,tb3939840,f0,w0,o0,bl0,d0) cubic bytes_acked:5000 bytes_received:5000 segs_out:2 segs_in:4',
          "",
        ].join("\n"),
      );
      expect(two).to.have.length(1);
      expect(two[0]).to.include({ state: "ESTAB", local: "[::1]:7000", localPort: 7000, peerPort: 49776, bytesAcked: 5000, segsIn: 4 });
      expect(two[0].processes.map((p) => p.name)).to.deep.equal(["my proc", "haproxy"]);
    });

    it("says which line it cannot read", () => {
      expect(() => parseSs("ESTAB x y 1.2.3.4:5 6.7.8.9:10")).to.throw(/cannot parse socket line: ESTAB x y/);
    });
  });

  describe("on real sockets (root, throwaway netns)", function () {
    let ns: Netns | undefined;
    before(async function () {
      if (!isRoot()) return this.skip();
      ns = await Netns.create("ss");
    });
    after(async () => {
      await ns?.destroy();
    });

    it("parses a loopback connection that moved 5000 bytes each way", async () => {
      const { child } = await ns!.node(`
        const net = require("net");
        net.createServer((c) => c.pipe(c)).listen(7000, "127.0.0.1", () => {
          const c = net.connect(7000, "127.0.0.1", () => c.write(Buffer.alloc(5000)));
          let got = 0;
          c.on("data", (d) => { got += d.length; if (got === 5000) console.log(JSON.stringify({ event: "ready", port: c.localPort })); });
        });`);
      const out = (await ns!.exec(SS_ARGV)).stdout;
      const sockets = parseSs(out);
      const listen = sockets.find((s) => s.state === "LISTEN" && s.localPort === 7000);
      expect(listen, out).to.not.equal(undefined);
      const srv = sockets.find((s) => s.state === "ESTAB" && s.localPort === 7000);
      const cli = sockets.find((s) => s.state === "ESTAB" && s.peerPort === 7000);
      expect(srv, out).to.include({ bytesReceived: 5000, recvQ: 0, sendQ: 0, rcvOooPackets: 0 });
      expect(cli, out).to.include({ bytesReceived: 5000, bytesAcked: 5001 });
      expect(srv!.segsIn).to.be.greaterThan(0);
      expect(srv!.processes.map((p) => p.pid)).to.include(child.pid);
      expect(holdsOutOfOrder(srv!)).to.equal(false);
    });

    // The stall itself, made for real: the receiver's INPUT drops every
    // segment of 380+ bytes (a drop on the receiving side, as on a lossy
    // path; a drop in the sender's own OUTPUT would be reported to its TCP
    // stack instead). A (100 B) arrives, B (350 B) and all its retransmissions
    // are lost, C (200 B) arrives after the gap and waits out of order.
    it("shows bytes held out of order behind a lost segment", async () => {
      await ns!.exec(["nft", "-f", "-"], {
        input: "table inet vlt_loss {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    tcp dport 7100 ip length 380-65535 drop\n  }\n}\n",
      });
      await ns!.node(`
        const net = require("net");
        net.createServer((c) => c.resume()).listen(7100, "127.0.0.1", () => {
          const c = net.connect(7100, "127.0.0.1", () => {
            c.setNoDelay(true);
            c.write(Buffer.alloc(100, 0x41));
            setTimeout(() => {
              c.write(Buffer.alloc(350, 0x42));
              setImmediate(() => c.write(Buffer.alloc(200, 0x43), () => console.log(JSON.stringify({ event: "ready" }))));
            }, 50);
          });
        });`);
      let rx: SsSocket | undefined;
      let out = "";
      for (let i = 0; i < 20 && !(rx && holdsOutOfOrder(rx)); i++) {
        await new Promise((r) => setTimeout(r, 50));
        out = (await ns!.exec(SS_ARGV)).stdout;
        rx = parseSs(out).find((s) => s.state === "ESTAB" && s.localPort === 7100);
      }
      expect(rx, out).to.not.equal(undefined);
      expect(rx, out).to.include({ recvQ: 0, bytesReceived: 100 });
      expect(rx!.rcvOooPackets, out).to.be.greaterThan(0);
      expect(rx!.rmemAlloc, out).to.be.greaterThan(0);
      expect(holdsOutOfOrder(rx!)).to.equal(true);
      const tx = parseSs(out).find((s) => s.state === "ESTAB" && s.peerPort === 7100);
      expect(tx!.sendQ, "the sender still has B and C unacknowledged").to.equal(550);
    });
  });
});
