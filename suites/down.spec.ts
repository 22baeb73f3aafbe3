// `vpnlab down` on a lab held by `vpnlab up`: it asks the owner to tear the
// lab down, and sweeps only once the owner is gone. An owner that does not
// exit (here: stopped with SIGSTOP, so its SIGTERM waits) is reported, the
// command fails, and the lab is left whole for its owner.
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { STATE_ROOT } from "../harness/runtime/state";
import { exited, labNamespaces, waitForLine } from "./host";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");

function vpnlab(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const nsOf = (labId: string) => labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`));

describe("vpnlab down: never sweeps under a live owner", function () {
  this.timeout(120000);
  let up: ChildProcess | undefined;

  afterEach(async () => {
    // whatever happened, the lab we started ends with its owner (ours, by PID)
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill("SIGCONT");
      up.kill("SIGTERM");
      await exited(up);
    }
    up = undefined;
  });

  it("an owner still alive after the wait: says so, exits 1, sweeps nothing; the owner tears down once it runs again", async function () {
    up = spawn(BIN, ["up", TOPO, "--variant", "natt", "--runtime", "netns"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/natt\) is up/, 60000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    const before = nsOf(labId);
    expect(before.length, `namespaces of lab ${labId}`).to.equal(5);

    up.kill("SIGSTOP"); // its SIGTERM stays pending: an owner that does not exit in time
    const down = vpnlab(["down", labId]);
    expect(down.code, `down: ${down.stdout}${down.stderr}`).to.equal(1);
    expect(down.stderr).to.match(new RegExp(`lab ${labId}: its \`vpnlab up\` \\(pid ${up.pid}\\) is still alive 10 s after SIGTERM; nothing swept`));
    expect(down.stdout, "no success line").not.to.contain(`lab ${labId} down`);
    expect(nsOf(labId), "the lab is whole: down swept nothing").to.deep.equal(before);
    expect(fs.existsSync(path.join(STATE_ROOT, labId)), "its record stays").to.equal(true);

    up.kill("SIGCONT"); // the pending SIGTERM is delivered: the owner tears its lab down
    await exited(up);
    expect(up.exitCode ?? up.signalCode).to.equal(143);
    expect(nsOf(labId), "the owner removed its namespaces").to.deep.equal([]);
  });

  it("an owner that exits: down sweeps what is left and says the lab is down, exit 0", async function () {
    up = spawn(BIN, ["up", TOPO, "--variant", "natt", "--runtime", "netns"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/natt\) is up/, 60000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    const down = vpnlab(["down", labId]);
    expect(down.code, `down: ${down.stdout}${down.stderr}`).to.equal(0);
    expect(down.stdout).to.contain(`lab ${labId} down`);
    await exited(up);
    expect(nsOf(labId)).to.deep.equal([]);
    expect(fs.existsSync(path.join(STATE_ROOT, labId))).to.equal(false);
  });
});
