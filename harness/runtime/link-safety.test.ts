// A namespace link left by a dead container names whatever process got its PID
// next. The cases run in link-safety.sandbox.js as PID 1 of its own PID, mount
// and network namespaces, so if teardown took the "host's" processes for the
// lab's, it could only kill the sandbox's own.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { newLabId } from "./state";

interface Case {
  stale?: string | null;
  removal?: { removed: string[]; left: string[] };
  sleepAlive?: boolean;
  linkLeft?: boolean;
  nodeAlive?: boolean;
  strayAlive?: boolean;
  listed?: string[];
  exec?: string;
  spawn?: string;
  configure?: string;
  wire?: string;
  enter?: string;
  bridgeLeft?: boolean;
  recordLeft?: boolean;
}

describe("runtime: namespace links of dead containers (root)", function () {
  let out: Record<string, Case> = {};
  let lab = "";

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // namespaces need root; the lab suites run as root
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-links-"));
    lab = newLabId();
    try {
      const r = spawnSync("unshare", ["-p", "-f", "--mount-proc", "-n", "--", process.execPath, path.join(__dirname, "link-safety.sandbox.js"), lab], {
        encoding: "utf8",
        env: { ...process.env, VPNLAB_STATE_DIR: stateDir },
        timeout: 60_000,
      });
      expect(r.status, `sandbox exit ${r.status}: ${r.stderr}`).to.equal(0);
      out = JSON.parse(r.stdout) as Record<string, Case>;
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
      for (const n of fs.readdirSync("/run/netns").filter((x) => x.startsWith(`vl-${lab}-`))) fs.rmSync(`/run/netns/${n}`, { force: true });
    }
  });

  it("a link into the host's namespace is only unlinked, even when its PID and start time match the record", () => {
    const c = out.hostNs;
    expect(c.stale, JSON.stringify(c)).to.match(/host's network namespace/);
    expect(c.sleepAlive, JSON.stringify(c)).to.equal(true);
    expect(c.linkLeft, JSON.stringify(c)).to.equal(false);
    expect(c.removal?.left, JSON.stringify(c)).to.deep.equal([]);
  });

  it("a PID whose start time is not the recorded one (recycled) is left alone; its link goes", () => {
    const c = out.recycled;
    expect(c.stale, JSON.stringify(c)).to.match(/no longer the process/);
    expect([c.sleepAlive, c.linkLeft], JSON.stringify(c)).to.deep.equal([true, false]);
  });

  it("a link with no record is only unlinked", () => {
    const c = out.unrecorded;
    expect(c.stale, JSON.stringify(c)).to.match(/no record/);
    expect([c.sleepAlive, c.linkLeft], JSON.stringify(c)).to.deep.equal([true, false]);
  });

  it("control: a live, recorded link's namespace is emptied (node and a stray host process killed) and unlinked", () => {
    const c = out.live;
    expect(c.stale, JSON.stringify(c)).to.equal(null);
    expect([c.nodeAlive, c.strayAlive, c.linkLeft], JSON.stringify(c)).to.deep.equal([false, false, false]);
  });

  it("the netns runtime neither lists nor removes a docker lab's link, even one in the lab's record", () => {
    const c = out.netns;
    expect(c.listed, JSON.stringify(c)).to.deep.equal([]);
    expect(c.removal, JSON.stringify(c)).to.deep.equal({ removed: [], left: [] });
    expect([c.sleepAlive, c.linkLeft], JSON.stringify(c)).to.deep.equal([true, true]);
  });

  it("a running lab whose container died refuses exec and host programs in that node", () => {
    const c = out.running;
    expect(c.exec, JSON.stringify(c)).to.match(/node client is gone .*host's network namespace/);
    expect(c.spawn, JSON.stringify(c)).to.match(/node client is gone/);
    // wiring and addressing go through the same check: never a foreign namespace's interfaces
    expect(c.configure, JSON.stringify(c)).to.match(/node client is gone .*host's network namespace/);
    expect(c.wire, JSON.stringify(c)).to.match(/node client is gone .*host's network namespace/);
    // a program started inside the container checks the init's recorded start first
    expect(c.enter, JSON.stringify(c)).to.match(/node client is gone \(its container's init, pid \d+, now started at \d+, not 1\)/);
  });

  it("a lab whose engine's socket is gone is swept: stale link, bridge namespace and record go", () => {
    const c = out.engineGone;
    expect({ left: c.removal?.left, linkLeft: c.linkLeft, bridgeLeft: c.bridgeLeft, recordLeft: c.recordLeft, sleepAlive: c.sleepAlive }, JSON.stringify(c)).to.deep.equal({ left: [], linkLeft: false, bridgeLeft: false, recordLeft: false, sleepAlive: true });
    expect(c.removal?.removed, JSON.stringify(c)).to.include.members([`namespace link vl-${lab}-client`, `namespace vl-${lab}-net-lan`]);
  });

  it("a lab whose engine refuses still loses its stale link and bridge namespace, and keeps its record (its containers may exist)", () => {
    const c = out.engineRefuses;
    expect({ linkLeft: c.linkLeft, bridgeLeft: c.bridgeLeft, recordLeft: c.recordLeft, sleepAlive: c.sleepAlive }, JSON.stringify(c)).to.deep.equal({ linkLeft: false, bridgeLeft: false, recordLeft: true, sleepAlive: true });
    expect(c.removal?.left.join("\n"), JSON.stringify(c)).to.match(/containers of lab \w+ on engine unix:\/\/.*docker\.sock \(unreachable: /);
  });
});
