import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { queryProxyStats, serveStats, TcpProxy, type OriginalDst, type ProxyConnection } from "./proxy";
import { stopProcess } from "../exec";
import { echoRoundTrip, ECHO_SERVER, isRoot, Netns, waitEvent } from "./testkit";

const PROXY_MAIN = path.join(__dirname, "proxy-main.js");

/** Plain echo server on 127.0.0.1, any port. */
async function echoServer(): Promise<{ server: net.Server; port: number; peers: string[] }> {
  const peers: string[] = [];
  const server = net.createServer((s) => {
    peers.push(`${s.remoteAddress}:${s.remotePort}`);
    s.on("error", () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as net.AddressInfo).port, peers };
}

/** Connect, send `bytes`, wait for them to come back; the client socket stays open. */
async function roundTrip(port: number, bytes: number): Promise<{ sock: net.Socket; got: number }> {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    sock.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= bytes) resolve();
    });
    sock.once("error", reject);
    sock.once("close", () => reject(new Error(`closed after ${got} of ${bytes} bytes`)));
    sock.write(Buffer.alloc(bytes, 0x78));
  });
  return { sock, got };
}

function closed(sock: net.Socket): Promise<number> {
  const t = Date.now();
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(0);
    sock.once("close", () => resolve(Date.now() - t));
    sock.on("error", () => undefined);
  });
}

async function until<T>(what: string, f: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("firewall/proxy (builtin)", () => {
  describe("TcpProxy with an injected original-destination resolver", () => {
    let echo: Awaited<ReturnType<typeof echoServer>>;
    const proxies: TcpProxy[] = [];
    const sockets: net.Socket[] = [];
    const start = async (idleTimeoutMs: number, resolve: (s: net.Socket) => OriginalDst): Promise<TcpProxy> => {
      const p = new TcpProxy({ port: 0, host: "127.0.0.1", idleTimeoutMs, resolveOriginalDst: resolve });
      proxies.push(p);
      await p.listen();
      return p;
    };
    const toEcho = (): OriginalDst => ({ address: "127.0.0.1", port: echo.port });
    const only = (p: TcpProxy): ProxyConnection => {
      const c = p.stats().connections;
      expect(c, JSON.stringify(c)).to.have.length(1);
      return c[0];
    };

    before(async () => {
      echo = await echoServer();
    });
    afterEach(async () => {
      for (const s of sockets.splice(0)) s.destroy();
      for (const p of proxies.splice(0)) await p.close();
    });
    after(() => {
      echo.server.close();
    });

    it("carries bytes both ways through its own connection and counts them", async () => {
      const proxy = await start(5000, toEcho);
      const { sock, got } = await roundTrip(proxy.port, 100_000);
      sockets.push(sock);
      expect(got).to.equal(100_000);
      const c = only(proxy);
      expect(c).to.include({ bytesIn: 100_000, bytesOut: 100_000, bytesBack: 100_000, bytesBackOut: 100_000, held: 0, state: "open" });
      expect(c.client).to.equal(`127.0.0.1:${sock.localPort}`);
      expect(c.server).to.equal(`127.0.0.1:${echo.port}`);
      expect(echo.peers.at(-1), "the echo server's peer is the proxy's own socket").to.not.equal(`127.0.0.1:${sock.localPort}`);

      sock.end();
      await closed(sock);
      const done = await until("closed", () => (only(proxy).state === "closed" ? only(proxy) : undefined));
      expect(done.closeReason).to.equal("client closed first");
      expect(done.closed).to.be.a("number");
    });

    it("closes both sides after idleTimeoutMs without data either way", async () => {
      const proxy = await start(300, toEcho);
      const { sock } = await roundTrip(proxy.port, 10);
      sockets.push(sock);
      const ms = await closed(sock);
      expect(ms).to.be.within(150, 1500);
      const c = only(proxy);
      expect(c).to.include({ state: "closed", closeReason: "idle", bytesIn: 10, bytesBack: 10 });
    });

    it("data in either direction keeps the connection alive", async () => {
      const proxy = await start(300, toEcho);
      const { sock } = await roundTrip(proxy.port, 1);
      sockets.push(sock);
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 150));
        sock.write("x");
      }
      expect(only(proxy).state).to.equal("open");
    });

    it("refuses a connection whose original destination is unknown, saying why", async () => {
      const proxy = await start(5000, () => {
        throw new Error("ENOENT: no conntrack entry");
      });
      const sock = net.connect(proxy.port, "127.0.0.1");
      sockets.push(sock);
      await closed(sock);
      expect(only(proxy).closeReason).to.match(/no original destination: ENOENT/);
    });

    it("refuses a direct (not redirected) connection instead of looping to itself", async () => {
      let self: TcpProxy | undefined;
      const proxy = await start(5000, () => ({ address: "127.0.0.1", port: self!.port }));
      self = proxy;
      const sock = net.connect(proxy.port, "127.0.0.1");
      sockets.push(sock);
      await closed(sock);
      await new Promise((r) => setTimeout(r, 50));
      expect(proxy.stats().connections.map((c) => c.closeReason)).to.deep.equal(["not a redirected connection (original destination is the proxy itself)"]);
    });

    it("closes the client when the original destination refuses", async () => {
      const dead = net.createServer();
      await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
      const deadPort = (dead.address() as net.AddressInfo).port;
      await new Promise<void>((r) => dead.close(() => r()));
      const proxy = await start(5000, () => ({ address: "127.0.0.1", port: deadPort }));
      const sock = net.connect(proxy.port, "127.0.0.1");
      sockets.push(sock);
      await closed(sock);
      expect(only(proxy).closeReason).to.match(/server error: .*ECONNREFUSED/);
    });

    it("serves its stats on a unix socket: `stats\\n` → one JSON line", async () => {
      const proxy = await start(5000, toEcho);
      const { sock } = await roundTrip(proxy.port, 1234);
      sockets.push(sock);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-pxs-"));
      const file = path.join(dir, "s.sock");
      const srv = await serveStats(file, () => proxy.stats());
      try {
        expect((fs.statSync(file).mode & 0o777).toString(8)).to.equal("600");
        const stats = await queryProxyStats(file);
        expect(stats.port).to.equal(proxy.port);
        expect(stats.connections[0]).to.include({ bytesIn: 1234, bytesBack: 1234, state: "open" });
        const { unixRequest } = await import("./unix-request");
        expect(await unixRequest(file, "hello\n")).to.match(/unknown command/);
      } finally {
        await new Promise<void>((r) => srv.close(() => r()));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("proxy-main (the process the harness starts)", () => {
    let dir = "";
    const children: ChildProcess[] = [];
    const main = (extra: string[] = []): ChildProcess => {
      const c = spawn(process.execPath, [PROXY_MAIN, "--host", "127.0.0.1", "--port", "0", "--idle-ms", "5000", "--stats", path.join(dir, "p.sock"), ...extra], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      children.push(c);
      return c;
    };
    const exit = (c: ChildProcess): Promise<number | null> =>
      new Promise((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once("exit", (code) => resolve(code))));

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-pxm-"));
    });
    afterEach(async () => {
      for (const c of children.splice(0)) await stopProcess(c);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('prints {"event":"listening","port":N}, serves stats, and exits 0 on SIGTERM removing its socket', async () => {
      const c = main();
      const ev = await waitEvent(c, "listening", 10_000);
      expect(ev.port).to.be.a("number").and.greaterThan(0);
      expect((await queryProxyStats(path.join(dir, "p.sock"))).connections).to.deep.equal([]);
      c.kill("SIGTERM");
      expect(await exit(c)).to.equal(0);
      expect(fs.existsSync(path.join(dir, "p.sock"))).to.equal(false);
    });

    it("exits 0 when its stdin closes (it never outlives the harness)", async () => {
      const c = main();
      await waitEvent(c, "listening", 10_000);
      c.stdin?.end();
      expect(await exit(c)).to.equal(0);
    });

    it("says what is wrong with its arguments and exits 1", async () => {
      const c = spawn(process.execPath, [PROXY_MAIN, "--port", "x", "--idle-ms", "1", "--stats", "/tmp/x"], { stdio: ["pipe", "pipe", "pipe"] });
      children.push(c);
      const ev = await waitEvent(c, "error", 10_000);
      expect(String(ev.message)).to.match(/--port x: expected an integer/);
      expect(await exit(c)).to.equal(1);
    });
  });

  // The real thing: SO_ORIGINAL_DST through the native addon, after an nft
  // redirect, inside a throwaway namespace (same layout as the HAProxy test).
  describe("proxy-main forwards a redirected connection to its original destination (root, native addon)", function () {
    let ns: Netns | undefined;
    let dir = "";
    let sock = "";
    before(async function () {
      if (!isRoot()) return this.skip(); // needs root: network namespaces, nftables (a missing addon is a failure, not a skip)
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-pxr-"));
      sock = path.join(dir, "p.sock");
      ns = await Netns.create("pxr");
      await ns.exec(["ip", "addr", "add", "10.77.0.1/32", "dev", "lo"]);
      const c = ns.spawn([process.execPath, PROXY_MAIN, "--port", "0", "--idle-ms", "5000", "--stats", sock]);
      const { port } = await waitEvent(c, "listening", 10_000);
      await ns.exec(["nft", "-f", "-"], {
        input: `table ip vlt_redirect {\n  chain out {\n    type nat hook output priority -100; policy accept;\n    ip saddr 127.0.0.2 ip daddr 10.77.0.1 tcp dport 9001 redirect to :${String(port)}\n  }\n}\n`,
      });
      await ns.node(ECHO_SERVER, ["10.77.0.1", "9001"]);
    });
    after(async () => {
      await ns?.destroy();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the echo comes back from 10.77.0.1:9001 through the proxy, which counted it", async () => {
      const r = await echoRoundTrip(ns!, "10.77.0.1", 9001, 5000, "127.0.0.2");
      expect(r.greeting.from).to.equal("10.77.0.1:9001");
      expect(r.echoed).to.equal(5000);
      expect(r.greeting.peer.startsWith("127.0.0.2:")).to.equal(false);
      const stats = await queryProxyStats(sock);
      expect(stats.connections).to.have.length(1);
      const c = stats.connections[0];
      expect(c.server).to.equal("10.77.0.1:9001");
      expect(c.client.startsWith("127.0.0.2:")).to.equal(true);
      expect(c).to.include({ bytesIn: 5000, bytesOut: 5000 });
      expect(c.bytesBack).to.equal(5000 + JSON.stringify(r.greeting).length + 1);
    });
  });
});
