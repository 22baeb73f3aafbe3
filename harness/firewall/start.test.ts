// The firewall node for real: client — firewall — server namespaces, the
// policy and the proxy started by startFirewall, traffic from the client.
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { FirewallMode, FirewallSpec, ProxyImpl } from "../topology/model";
import { HAPROXY_BIN } from "./haproxy";
import type { HaproxyRaw } from "./proxies/haproxy";
import { FIREWALL_TABLE } from "./ruleset";
import { PROXY_PORT, startFirewall, type FirewallHandle, type FirewallRuntime } from "./start";
import { conntrackEntries, createLine3, echoRoundTrip, ECHO_SERVER, isRoot, type Line3 } from "./testkit";
import { hostHarnessArgv } from "../runtime/programs";


const SERVER = "10.201.2.2";
const INSPECTED = 9001;
const BYPASSED = 9002;

function spec(mode: FirewallMode, proxy: ProxyImpl): FirewallSpec {
  return {
    node: "firewall",
    mode,
    proxy,
    inspect: [
      { proto: "tcp", port: INSPECTED },
      { proto: "tcp", port: BYPASSED },
    ],
    bypass: [{ proto: "tcp", port: BYPASSED }],
    idleTimeoutMs: 30000,
  };
}

/**
 * A cTCP-like sender on a kernel stack: after the greeting it writes A (100 B),
 * B (350 B) and C (200 B). The firewall's ingress drops every segment of
 * 380+ bytes, so B and all its retransmissions are lost: what a peer that
 * never retransmits looks like to the proxy.
 */
const GAP_CLIENT = `
const net = require("net");
const c = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
c.setNoDelay(true);
let greeted = false;
c.on("data", () => {
  if (greeted) return;
  greeted = true;
  c.write(Buffer.alloc(100, 0x41));
  setTimeout(() => {
    c.write(Buffer.alloc(350, 0x42));
    setImmediate(() => c.write(Buffer.alloc(200, 0x43), () => console.log(JSON.stringify({ event: "ready" }))));
  }, 50);
});
c.on("error", (e) => { console.error(e.message); process.exit(2); });
`;

describe("firewall/start: the firewall node for real (root)", function () {
  let line: Line3 | undefined;
  let runtime: FirewallRuntime;
  let dir = "";

  before(async function () {
    if (!isRoot()) return this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-fw-"));
    line = await createLine3();
    const fw = line.fw;
    runtime = {
      exec: (_node, argv, opts) => fw.exec(argv, opts),
      spawn: (_node, argv, opts) => fw.spawn(argv, opts?.logFile),
      harnessArgv: hostHarnessArgv,
    };
    for (const port of [INSPECTED, BYPASSED]) await line.server.node(ECHO_SERVER, [SERVER, String(port)]);
  });
  after(async () => {
    await line?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stateful: forwards, no proxy, the server sees the client", async () => {
    const fw = await startFirewall(runtime, spec("stateful", "builtin"), dir);
    try {
      expect(fw.proxyPort).to.equal(undefined);
      const r = await echoRoundTrip(line!.client, SERVER, INSPECTED, 2000);
      expect(r.echoed).to.equal(2000);
      expect(r.greeting.peer.startsWith("10.201.1.2:")).to.equal(true);
      const ev = await fw.evidence();
      expect(ev).to.include({ mode: "stateful" });
      expect(ev.errors).to.deep.equal([]);
    } finally {
      await fw.stop();
    }
    expect((await line!.fw.exec(["nft", "list", "tables"])).stdout).to.not.contain(FIREWALL_TABLE);
  });

  for (const proxy of ["haproxy", "builtin"] as const) {
    describe(`full-proxy with proxy: ${proxy}`, function () {
      let fw: FirewallHandle | undefined;
      before(async function () {
        if (proxy === "haproxy" && !fs.existsSync(HAPROXY_BIN)) return this.skip(); // host lacks haproxy
        await line!.fw.exec(["conntrack", "-F"], { allowFailure: true });
        fw = await startFirewall(runtime, spec("full-proxy", proxy), dir);
      });
      after(async () => {
        await fw?.stop();
        await line?.fw.exec(["nft", "delete", "table", "inet", "vlt_loss"], { allowFailure: true });
      });

      it("terminates the inspected flow and opens its own connection to the original destination", async () => {
        const r = await echoRoundTrip(line!.client, SERVER, INSPECTED, 4000);
        expect(r.echoed).to.equal(4000);
        expect(r.greeting.from).to.equal(`${SERVER}:${INSPECTED}`);
        expect(r.greeting.peer.startsWith("10.201.2.1:"), `the server's peer is the firewall: ${r.greeting.peer}`).to.equal(true);
        let ev = await fw!.evidence();
        // A proxy's counters are settled once the connection is over (HAProxy: scur back to 0).
        const settled = (): boolean =>
          ev.proxy?.accepted === 1 &&
          ev.proxy.connections.every((c) => c.state === "closed") &&
          (proxy !== "haproxy" || ((ev.proxy.raw as HaproxyRaw | undefined)?.stat ?? []).every((x) => x.type !== "frontend" || x.scur === 0));
        // up to 10 s: on a loaded CI host HAProxy still held the finished session (scur 1, bin 0) after 1 s
        for (const until = Date.now() + 10_000; !settled() && Date.now() < until; ) {
          await new Promise((res) => setTimeout(res, 20));
          ev = await fw!.evidence();
        }
        expect(ev.errors).to.deep.equal([]);
        const p = ev.proxy!;
        expect(p, JSON.stringify(p)).to.include({ name: proxy, accepted: 1 });
        if (proxy === "haproxy") {
          // HAProxy lists live streams only: the closed one's bytes are in its frontend's counters
          const fe = (p.raw as HaproxyRaw).stat.find((s) => s.type === "frontend");
          expect(fe, JSON.stringify(p.raw)).to.include({ stot: 1, bin: 4000 });
        } else {
          const c = p.connections;
          expect(c, JSON.stringify(c)).to.have.length(1);
          expect(c[0]).to.include({ server: `${SERVER}:${INSPECTED}` });
          expect(c[0].clientSide.bytesIn, JSON.stringify(c[0])).to.equal(4000);
          expect(c[0].serverSide.bytesOut, JSON.stringify(c[0])).to.equal(4000);
          expect(c[0].client.startsWith("10.201.1.2:")).to.equal(true);
        }
      });

      it("leaves the bypassed flow alone: forwarded, not proxied, not tracked", async () => {
        const r = await echoRoundTrip(line!.client, SERVER, BYPASSED, 3000);
        expect(r.echoed).to.equal(3000);
        expect(r.greeting.peer.startsWith("10.201.1.2:"), `the server's peer is the client: ${r.greeting.peer}`).to.equal(true);
        expect(await conntrackEntries(line!.fw, BYPASSED)).to.deep.equal([]);
        const ev = await fw!.evidence();
        // still only the one inspected connection of the test before
        expect(ev.proxy?.accepted, JSON.stringify(ev.proxy)).to.equal(1);
      });

      it("after a lost segment, holds the bytes behind the gap out of order and forwards nothing after it", async () => {
        await line!.fw.exec(["nft", "-f", "-"], {
          input: `table inet vlt_loss {\n  chain pre {\n    type filter hook prerouting priority -400; policy accept;\n    iifname "c0" tcp dport ${INSPECTED} ip length 380-65535 drop\n  }\n}\n`,
        });
        await line!.client.node(GAP_CLIENT, [SERVER, String(INSPECTED)]);
        let ev = await fw!.evidence();
        for (let i = 0; i < 40 && ev.outOfOrder.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          ev = await fw!.evidence();
        }
        const held = ev.outOfOrder;
        expect(held, JSON.stringify(ev.sockets, null, 1)).to.have.length(1);
        expect(held[0].local).to.equal(`10.201.1.1:${PROXY_PORT}`);
        expect(held[0].peer.startsWith("10.201.1.2:")).to.equal(true);
        expect(held[0].bytesReceived, "in-order bytes: A only").to.equal(100);
        expect(held[0].rcvOooPackets).to.be.greaterThan(0);
        expect(held[0].rmemAlloc).to.be.greaterThan(0);
        // The proxy's own connection to the server carried A and nothing after it.
        const upstream = ev.sockets.find((s) => s.state === "ESTAB" && s.peer === `${SERVER}:${INSPECTED}` && s.bytesAcked > 0 && s.bytesAcked < 4000);
        expect(upstream, JSON.stringify(ev.sockets, null, 1)).to.not.equal(undefined);
        expect(upstream!.bytesAcked, "A and the SYN").to.equal(101);
        const live = ev.proxy!.connections.filter((c) => c.state !== "closed");
        expect(live, JSON.stringify(ev.proxy)).to.have.length(1);
        expect(live[0].buffered, "nothing waits in the proxy's own buffers: the kernel holds it").to.equal(0);
        if (proxy === "builtin") {
          // HAProxy does not count a live stream's bytes; the builtin proxy does
          expect(live[0].clientSide.bytesIn, JSON.stringify(live[0])).to.equal(100);
          expect(live[0].serverSide.bytesOut, JSON.stringify(live[0])).to.equal(100);
        }
      });

      it("stop() ends the proxy and removes the policy", async () => {
        await fw!.stop();
        const tables = (await line!.fw.exec(["nft", "list", "tables"])).stdout;
        expect(tables).to.not.contain(FIREWALL_TABLE);
        const ss = (await line!.fw.exec(["ss", "-tlnH"])).stdout;
        expect(ss).to.not.contain(`:${PROXY_PORT}`);
        await fw!.stop(); // idempotent
      });
    });
  }
});
