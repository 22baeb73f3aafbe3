// Tests of the native addon through its typed wrapper.
// The unit part needs only the built addon; the namespace part needs root,
// `ip` and `nft`, and runs everything that creates interfaces or rules inside
// a throwaway network namespace — never in the host's own.
import { expect } from "chai";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as native from "./native";

describe("native addon (harness/native)", () => {
  describe("argument and error handling", () => {
    let fd = -1;
    before(() => {
      fd = fs.openSync("/dev/null", "r");
    });
    after(() => {
      if (fd >= 0) fs.closeSync(fd);
    });

    it("sendTo rejects a bad IPv4 string with a clear error, before any syscall", () => {
      for (const bad of ["10.0.0.300", "not-an-ip", "::1", "10.1", "", "1.2.3.4 "]) {
        expect(() => native.sendTo(fd, Buffer.alloc(20), bad), bad)
          .to.throw(TypeError, `sendTo(fd ${fd}): invalid IPv4 address "${bad}"`)
          .with.property("code", "ERR_INVALID_ARG_VALUE");
      }
    });

    it("rejects arguments of the wrong type", () => {
      expect(() => native.sendTo(fd, "x" as unknown as Buffer, "1.2.3.4")).to.throw(TypeError, /packet must be a Buffer/);
      expect(() => native.writeFd(-1, Buffer.alloc(1))).to.throw(TypeError, /fd must be an integer/);
      expect(() => native.rawSocket(256, false)).to.throw(TypeError, /protocol must be an integer in 0\.\.255/);
      expect(() => native.tunOpen("a-name-longer-than-15")).to.throw(TypeError, /interface name must be 1\.\.15 characters/);
      expect(() => native.watch(fd, 42 as unknown as () => void)).to.throw(TypeError, /onPacket must be a function/);
    });

    it("turns errno into an Error with code, errno, syscall and strerror text", () => {
      let err: NodeJS.ErrnoException | undefined;
      try {
        native.writeFd(fd, Buffer.from("x")); // /dev/null opened read-only
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(err).to.be.instanceOf(Error);
      expect(err!.message).to.equal(`writeFd(fd ${fd}): write: Bad file descriptor`);
      expect(err!.code).to.equal("EBADF");
      expect(err!.errno).to.equal(-9);
      expect(err!.syscall).to.equal("write");
    });

    it("originalDst on a non-socket fails with ENOTSOCK", () => {
      expect(() => native.originalDst(fd)).to.throw(/originalDst\(fd \d+\): getsockname: Socket operation on non-socket/);
    });

    it("socketFd gives the fd of a connected socket and refuses an unconnected one", async () => {
      expect(() => native.socketFd(new net.Socket())).to.throw(/socketFd: no fd behind this socket \(not connected\)/);
      const server = net.createServer((s) => s.destroy());
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
      try {
        await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
        const sfd = native.socketFd(client);
        expect(sfd).to.be.a("number").and.greaterThan(2);
        expect(fs.fstatSync(sfd).isSocket()).to.equal(true);
      } finally {
        client.destroy();
        server.close();
      }
    });

    it("watch() on a bad fd throws EBADF", () => {
      expect(() => native.watch(987654, () => undefined))
        .to.throw(/watch\(fd 987654\): fstat: Bad file descriptor/)
        .with.property("code", "EBADF");
    });
  });

  describe("in a throwaway network namespace (root)", function () {
    const ns = `vlt-${randomBytes(4).toString("hex")}`;
    let created = false;
    let result: Record<string, { ok: boolean; detail: string; [k: string]: unknown }> = {};

    before(async function () {
      if (process.getuid?.() !== 0) this.skip(); // needs root: netns, TUN, raw sockets, nft
      for (const tool of ["ip", "nft"]) {
        try {
          execFileSync(tool, ["-V"], { stdio: "ignore" });
        } catch {
          this.skip();
        }
      }
      execFileSync("ip", ["netns", "add", ns]);
      created = true;
      const fixture = path.join(__dirname, "native-fixture", "run.js");
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve, reject) => {
          const child = spawn("ip", ["netns", "exec", ns, process.execPath, fixture, ns], { stdio: ["ignore", "pipe", "pipe"] });
          let stdout = "";
          let stderr = "";
          const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
          child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
          child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
          child.on("error", reject);
          child.on("close", (c) => {
            clearTimeout(timer);
            resolve({ code: c, stdout, stderr });
          });
        },
      );
      const line = stdout.trim().split("\n").pop() ?? "";
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new Error(`fixture printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
      }
      if ((parsed as { fatal?: string }).fatal) throw new Error(`fixture failed: ${(parsed as { fatal: string }).fatal}\n${stderr}`);
      expect(code, `fixture exit code (stderr: ${stderr})`).to.equal(0);
      result = parsed as typeof result;
    });

    after(() => {
      if (created) execFileSync("ip", ["netns", "del", ns]);
    });

    const check = (step: string) => {
      const r = result[step];
      expect(r, `step ${step} did not run`).to.exist;
      expect(r.ok, `${step}: ${r.detail}`).to.equal(true);
      return r;
    };

    it("tunOpen opens a TUN device in the caller's namespace", () => {
      check("tunOpen");
    });
    it("watch() on the tun fd delivers the IPv4 packet of a UDP datagram routed into it", () => {
      const r = check("tunRead");
      expect(r.udpSumOk).to.equal(true);
    });
    it("writeFd() injects a hand-built IPv4/UDP packet that a local socket receives", () => {
      check("tunWrite");
    });
    it("a second tunOpen of the same device fails with EBUSY and errno text", () => {
      expect(check("tunBusy").code).to.equal("EBUSY");
    });
    it("rawSocket(6, true) + sendTo: a hand-built SYN gets a SYN-ACK, seen by a rawSocket(6, false) watch", () => {
      check("rawSyn");
    });
    it("originalDst gives the pre-redirect destination (127.0.0.1:7777), also on a dual-stack listener", () => {
      const r = check("originalDst");
      expect(r.v4).to.include({ address: "127.0.0.1", port: 7777 });
      expect(r.dual).to.include({ port: 7780 });
    });
    it("socketFd refuses a socket without a handle", () => {
      check("socketFdUnconnected");
    });
    it("exceptions thrown by onPacket reach onError, and closeFd() stops the watch", () => {
      check("watchErrors");
    });
    it("without onError, an exception thrown by onPacket becomes an uncaughtException", () => {
      check("watchUncaught");
    });
  });
});
