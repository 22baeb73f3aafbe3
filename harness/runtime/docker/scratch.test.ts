import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { removeTree } from "./scratch";

describe("runtime/docker/scratch", () => {
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
});
