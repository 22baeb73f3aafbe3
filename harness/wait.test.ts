import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { forCommand, forCounter, forLogLine, forStdoutLine, forUnixSocket, waitUntil, WaitTimeout } from "./wait";

const rejection = (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error("resolved"); }, (e: Error) => e);

describe("wait: one readiness wait", () => {
  let dir = "";
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-wait-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("waits for a log line written later, and returns the match", async () => {
    const log = path.join(dir, "a.log");
    setTimeout(() => fs.writeFileSync(log, "starting\nlistening on 443\n"), 150);
    const m = await waitUntil(forLogLine(log, /listening on (\d+)/), { what: "the daemon", timeoutMs: 3000, intervalMs: 20 });
    expect(m[1]).to.equal("443");
  });

  it("times out saying what it waited for, the last error and the log tail", async () => {
    const log = path.join(dir, "b.log");
    fs.writeFileSync(log, "bind: address in use\n");
    const e = await rejection(waitUntil(async () => { throw new Error("connection refused"); }, { what: "haproxy on its stats socket", timeoutMs: 200, intervalMs: 20, log }));
    expect(e).to.be.instanceOf(WaitTimeout);
    expect(e.message).to.match(/^haproxy on its stats socket: not ready within 200 ms: connection refused \(log .*b\.log\)\n  bind: address in use$/);
  });

  it("fails at once when the program it waits for exits", async () => {
    const child = spawn(process.execPath, ["-e", "process.exit(3)"]);
    await new Promise((r) => child.once("exit", r));
    const t0 = Date.now();
    const e = await rejection(waitUntil(async () => undefined, { what: "the proxy", timeoutMs: 10000, process: child }));
    expect(e.message).to.match(/^the proxy: the program exited \(code 3\) before it was ready/);
    expect(Date.now() - t0).to.be.below(5000); // bound on a hang, not a timing claim
  });

  it("fails at once when any of several programs it waits on exits (a tunnel's two daemons)", async () => {
    const alive = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    const dead = spawn(process.execPath, ["-e", "process.exit(4)"]);
    try {
      await new Promise((r) => dead.once("exit", r));
      const e = await rejection(waitUntil(async () => undefined, { what: "the SA", timeoutMs: 10000, process: [alive, dead] }));
      expect(e.message).to.match(/^the SA: the program exited \(code 4\) before it was ready/);
    } finally {
      alive.kill();
    }
  });

  it("a stdout line, a unix socket, a command, a counter", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => console.log('{\"event\":\"listening\"}'), 100); setTimeout(() => {}, 2000)"]);
    try {
      expect(await waitUntil(forStdoutLine(child, /"listening"/), { what: "child", timeoutMs: 3000, process: child })).to.contain("listening");
    } finally {
      child.kill();
    }
    const sock = path.join(dir, "s.sock");
    const srv = net.createServer((c) => c.end());
    setTimeout(() => srv.listen(sock), 100);
    try {
      expect(await waitUntil(forUnixSocket(sock), { what: "socket", timeoutMs: 3000, intervalMs: 20 })).to.equal(true);
    } finally {
      srv.close();
    }
    let n = 0;
    expect(await waitUntil(forCommand(async () => ({ code: ++n >= 3 ? 0 : 1, stdout: `try ${n}` })), { what: "cmd", timeoutMs: 3000, intervalMs: 5 })).to.equal("try 3");
    let c = 0;
    expect(await waitUntil(forCounter(async () => (c += 2), 7), { what: "counter", timeoutMs: 3000, intervalMs: 5 })).to.equal(8);
  });
});
