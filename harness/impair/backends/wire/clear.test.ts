// A clear returns only once what it removes is gone: the wire's program has
// exited and both TUN devices have vanished. The kernel removes TUN B some
// time after TUN A (measured 17-22 ms on a loaded host, up to 500 ms on a
// fresh one), and a check right after the clear must never see either. No
// root: a stand-in node (a NodeExec answering `ip -j link show` from a script),
// a stand-in control socket, and a real process as the wire's program.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { ExecResult } from "../../../exec";
import type { NodeExec } from "../../../runtime/runtime";
import { processStart } from "../../../runtime/state";
import { wireBackend } from "./index";
import { wireNames, type WireNames, type WireState } from "./plan";

describe("impair/backends/wire: clear waits for what it removes", function () {
  this.timeout(20_000);
  let dir: string;
  let n: WireNames;
  let server: net.Server | undefined;
  let program: ChildProcess | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vl-wire-clear-"));
    n = wireNames(dir, "r", "ry", "egress");
    // the wire's control socket: answers the stop request, as main.ts does
    server = net.createServer((c) => c.on("data", () => c.end(JSON.stringify({ ok: true, queued: 0 }) + "\n")));
    await new Promise<void>((r) => server!.listen(n.socket, r));
  });

  afterEach(async () => {
    program?.kill("SIGKILL");
    program = undefined;
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A node whose links are LINKS() at each look, every other command a success with nothing to say. */
  function node(links: () => string[]): { exec: NodeExec; looks: () => number } {
    let looks = 0;
    const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
    const exec: NodeExec = {
      async exec(_node, argv) {
        const a = argv.join(" ");
        if (a === "ip -j link show") {
          looks++;
          return ok(JSON.stringify(links().map((ifname) => ({ ifname }))));
        }
        if (a.startsWith("ip link show dev ")) return links().includes(argv[4]) ? ok() : { code: 1, stdout: "", stderr: `Device "${argv[4]}" does not exist.` };
        if (a === "ip -j -4 rule show") return ok(JSON.stringify([{ priority: 0, table: "local" }]));
        return ok();
      },
    };
    return { exec, looks: () => looks };
  }

  function writeState(s: WireState): void {
    fs.writeFileSync(n.stateFile, JSON.stringify(s));
  }

  it("returns after TUN B is gone, not when TUN A is (TUN B outlives A by a few looks)", async () => {
    writeState({ node: "r", dev: "ry", direction: "egress", saved: {} });
    let tunBLooks = 4;
    const stand = node(() => (tunBLooks-- > 0 ? ["lo", "ry", n.tunB] : ["lo", "ry"]));
    await wireBackend.clear({ exec: stand.exec, dir }, "r", "ry", "egress");
    const after = await stand.exec.exec("r", ["ip", "-j", "link", "show"]);
    expect(after.stdout, `links right after the clear (${stand.looks()} looks)`).to.not.contain(n.tunB);
    expect(stand.looks(), "looks until TUN B was gone, then this test's").to.equal(6);
  });

  it("returns after the wire's program has exited, even when its devices went first", async () => {
    program = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = program.pid!;
    writeState({ node: "r", dev: "ry", direction: "egress", saved: {}, hostPid: pid, hostStart: processStart(pid) });
    let looks = 0;
    const stand = node(() => {
      // the program exits on the third look (its devices are long gone)
      if (++looks === 3) program!.kill("SIGTERM");
      return ["lo", "ry"];
    });
    await wireBackend.clear({ exec: stand.exec, dir }, "r", "ry", "egress");
    expect(processStart(pid), `the wire's program (pid ${pid}) right after the clear`).to.equal(undefined);
    expect(looks, "looks until the program was gone").to.be.at.least(3);
  });
});
