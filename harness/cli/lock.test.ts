import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { withLockFile } from "./lock";

// A child that takes the lock `rounds` times and, inside, writes "+pid", yields, writes "-pid".
const CHILD = `
const fs = require("node:fs");
const { withLockFile } = require(process.argv[2]);
const [lock, out, rounds] = process.argv.slice(3);
(async () => {
  for (let i = 0; i < Number(rounds); i++) {
    await withLockFile(lock, async () => {
      fs.appendFileSync(out, "+" + process.pid + "\\n");
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      fs.appendFileSync(out, "-" + process.pid + "\\n");
    }, { pollMs: 1, waitMs: 60000 });
  }
})().catch((e) => { console.error(e.stack); process.exit(1); });
`;

/** The critical sections that overlapped: a "+" not followed by its own "-". */
function interleavings(lines: string[]): number {
  let bad = 0;
  for (let i = 0; i < lines.length; i += 2) if (!lines[i].startsWith("+") || lines[i + 1] !== `-${lines[i].slice(1)}`) bad++;
  return bad;
}

describe("cli/lock: an exclusive lock file between processes", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "vl-lock-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("8 processes racing, from a stale lock of a dead holder: every critical section alone, none lost", async () => {
    const lock = path.join(dir, "faults.lock");
    const out = path.join(dir, "out");
    const script = path.join(dir, "child.js");
    fs.writeFileSync(script, CHILD);
    // a dead holder's lock: a process that has exited (its pid no longer runs with that start time)
    const dead = spawnSync(process.execPath, ["-e", "0"]);
    fs.writeFileSync(lock, `${dead.pid} 12345 deadbeef`);
    const rounds = 25;
    const codes = await Promise.all(
      Array.from({ length: 8 }, () => {
        const c = spawn(process.execPath, [script, path.join(__dirname, "lock.js"), lock, out, String(rounds)], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        return new Promise<string>((r) => c.on("close", (code) => r(`${code}${stderr ? `: ${stderr}` : ""}`)));
      }),
    );
    expect(codes, "children's exit codes").to.deep.equal(Array(8).fill("0"));
    const lines = fs.readFileSync(out, "utf8").trim().split("\n");
    expect(lines.length, "lines written").to.equal(8 * rounds * 2);
    expect(interleavings(lines), `overlapping critical sections among ${lines.length / 2}`).to.equal(0);
    expect(fs.readdirSync(dir).sort(), "what is left beside the output").to.deep.equal(["child.js", "out"]);
  });

  it("a live holder's lock is waited for, then the waiter gives up naming the holder", async () => {
    const lock = path.join(dir, "faults.lock");
    let inner = "";
    await withLockFile(lock, async () => {
      inner = fs.readFileSync(lock, "utf8");
      await withLockFile(lock, async () => undefined, { waitMs: 30, pollMs: 5, what: "lab x: its fault record" }).then(
        () => expect.fail("took a lock a live process holds"),
        (e: Error) => expect(e.message).to.equal(`lab x: its fault record is locked by pid ${process.pid} for more than 0.03 s`),
      );
    });
    expect(inner.split(" ")[0]).to.equal(String(process.pid));
    expect(fs.existsSync(lock), "the lock after its holder let go").to.equal(false);
  });

  it("an empty lock file (no holder named) is debris: taken over", async () => {
    const lock = path.join(dir, "faults.lock");
    fs.writeFileSync(lock, "");
    expect(await withLockFile(lock, async () => 42, { waitMs: 1000 })).to.equal(42);
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });
});
