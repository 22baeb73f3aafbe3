import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { removeTree, Scratch } from "./scratch";

describe("runtime/docker/scratch (root: mounts, /var/cache/vpnlab)", () => {
  it("removes a build tree with something mounted in it (as debootstrap leaves proc) without touching the mount's source", function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting needs root; CI is root
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-tree-"));
    const source = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-src-"));
    try {
      fs.writeFileSync(path.join(source, "keep"), "x");
      fs.mkdirSync(path.join(dir, "rootfs/proc"), { recursive: true });
      const m = spawnSync("mount", ["--bind", source, path.join(dir, "rootfs/proc")]);
      expect(m.status, String(m.stderr)).to.equal(0);
      removeTree(dir);
      expect(fs.existsSync(dir)).to.equal(false);
      expect(fs.readFileSync(path.join(source, "keep"), "utf8")).to.equal("x");
    } finally {
      spawnSync("umount", ["-l", path.join(dir, "rootfs/proc")]);
      fs.rmSync(source, { recursive: true, force: true });
    }
  });

  it("cleanup (a failure, a signal) ends each child's whole process group and removes its temp dirs", async function () {
    if (process.getuid?.() !== 0) this.skip(); // the temp dirs live under /var/cache/vpnlab; CI is root
    const scratch = new Scratch();
    const dir = scratch.dir("test");
    fs.writeFileSync(path.join(dir, "partial"), "x");
    // like debootstrap: a parent with a child of its own (which a plain kill of the parent would leave running)
    const c = spawn("sh", ["-c", "sleep 60 & echo $!; wait"], { stdio: ["ignore", "pipe", "ignore"], detached: true });
    scratch.children.add(c);
    const grandchild = Number(await new Promise<string>((resolve) => c.stdout.once("data", (b: Buffer) => resolve(b.toString().trim()))));
    // "gone", or the state letter in /proc/PID/stat (a zombie, "Z", has ended and waits to be reaped)
    const stateOf = (pid: number): string => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0];
      } catch {
        return "gone";
      }
    };
    // alive before the cleanup: sleeping, running, or (a process just exec'd on a busy disk) in uninterruptible wait
    expect(stateOf(grandchild), `grandchild ${grandchild}`).to.be.oneOf(["S", "R", "D"]);
    await scratch.cleanup();
    expect(c.exitCode !== null || c.signalCode !== null, "the child ended").to.equal(true);
    for (let i = 0; i < 50 && !["gone", "Z"].includes(stateOf(grandchild)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(stateOf(grandchild), `grandchild ${grandchild}`).to.be.oneOf(["gone", "Z"]);
    expect(fs.existsSync(dir), dir).to.equal(false);
    expect(scratch.abort.signal.aborted).to.equal(true);
  });
});
