// scripts/dockerd.sh stop signals the PID of its pidfile only while that PID
// is still this engine's dockerd (comm dockerd, -H its socket): a stale
// pidfile's PID, reused by another process, is never signalled.
import { expect } from "chai";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processStart } from "../harness/runtime/state";
import { endChild } from "./host";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "dockerd.sh");

describe("scripts/dockerd.sh stop", function () {
  const name = `t${process.pid}`;
  const dir = `/run/vpnlab-${name}`;
  const sock = `unix://${dir}/docker.sock`;
  let tmp = "";
  const kids: ChildProcess[] = [];

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // its pidfile lives under /run
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-dockerd-"));
    fs.mkdirSync(dir, { recursive: true });
    // a program named dockerd (comm is the script's name) that only waits, with no child of its own: a
    // background sleep would outlive it when killed. `exec sleep` would rename it (comm "sleep"), so it
    // waits in bash's read on a FIFO it holds open read-write (never EOF, so read -t times out).
    execFileSync("mkfifo", [path.join(tmp, "wait.fifo")]);
    fs.writeFileSync(path.join(tmp, "dockerd"), '#!/bin/bash\nread -r -t 600 _ <>"${0%/*}/wait.fifo"\n', { mode: 0o755 });
  });
  after(async () => {
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill("SIGKILL");
    await Promise.all(kids.map(endChild));
    fs.rmSync(dir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function started(argv: string[]): Promise<ChildProcess> {
    const c = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
    kids.push(c);
    for (let i = 0; i < 100 && processStart(c.pid!) === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(`${dir}/docker.pid`, String(c.pid));
    return c;
  }
  /** The script, run asynchronously: our event loop must keep reaping the fake dockerd (our child), or it would stay a zombie that kill -0 still finds. */
  function stop(): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const c = spawn(SCRIPT, [name, "stop"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    return new Promise((resolve) => c.on("close", (status) => resolve({ status, stdout, stderr })));
  }
  const alive = (c: ChildProcess) => processStart(c.pid!) !== undefined;

  it("leaves a process that is not dockerd alone (exit 1, named)", async () => {
    const other = await started(["sleep", "600"]);
    const r = await stop();
    expect({ status: r.status, alive: alive(other) }, r.stdout + r.stderr).to.deep.equal({ status: 1, alive: true });
    expect(r.stderr).to.match(/not dockerd -H .*not signalled/);
  });

  it("leaves a dockerd of another socket alone", async () => {
    const other = await started([path.join(tmp, "dockerd"), "-H", "unix:///run/vpnlab-someone-else/docker.sock"]);
    const r = await stop();
    expect({ status: r.status, alive: alive(other) }, r.stdout + r.stderr).to.deep.equal({ status: 1, alive: true });
  });

  it("stops the dockerd of its own socket", async () => {
    const mine = await started([path.join(tmp, "dockerd"), "-H", sock, "--data-root", "/nowhere"]);
    const r = await stop();
    expect({ status: r.status, stdout: r.stdout.trim(), alive: alive(mine) }, r.stderr).to.deep.equal({ status: 0, stdout: `dockerd ${name}: stopped (pid ${mine.pid})`, alive: false });
  });
});
