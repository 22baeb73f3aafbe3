// One charon on one node: its files under the lab's run directory, the
// daemon started through the runtime with a private /run, swanctl against its
// own vici socket, and its log read as it grows (DPD probes, the end of an
// IKE_SA, the TUN device's name).
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { stopProcess, type ExecResult } from "../../../exec";
import { forUnixSocket, waitUntil } from "../../../wait";
import type { ImplContext, Side } from "../../impl";
import { CHARON, charonPaths, keptMountPoint, privateRunArgv, swanctlArgv, type CharonPaths } from "./config";
import { downReason, dpdLineKind, parseListSas, type IkeSa } from "./sas";
import { parseWireCounters, wireDeleteArgv, wireListArgv, wireRuleset, type WireCounters } from "./wire";

const SOCKET_TIMEOUT_MS = 10_000;
const SWANCTL_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 60;

export interface TunCounters {
  rxPackets: number; // written by charon: came out of the tunnel
  rxBytes: number;
  txPackets: number; // read by charon: went into the tunnel
  txBytes: number;
}

export class Charon {
  readonly paths: CharonPaths;
  private child?: ChildProcess;
  /** Why the daemon exited, once it has. */
  exited?: string;
  private readonly exitListeners = new Set<(why: string) => void>();
  private logOffset = 0;
  private partial = "";
  tunDevice?: string;
  dpdSent = 0;
  dpdAnswered = 0;
  private stopped = false;

  constructor(
    private readonly ctx: ImplContext,
    readonly side: Side,
    readonly node: string,
  ) {
    this.paths = charonPaths(ctx.dir, node);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The daemon's process once started (readiness waits fail at once when it exits). */
  get process(): ChildProcess | undefined {
    return this.child;
  }

  /** Where this charon shows up in evidence and faults. */
  get piece(): string {
    return `charon on ${this.node} (pid ${this.pid ?? "?"})`;
  }

  onExit(l: (why: string) => void): void {
    this.exitListeners.add(l);
  }

  /** Write the configs, start the daemon, wait for its vici socket, count its UDP, load the connection. */
  async start(strongswanConf: string, swanctlConf: string, port: number): Promise<void> {
    const p = this.paths;
    fs.mkdirSync(p.swanctlDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(p.privateRun, { recursive: true, mode: 0o700 });
    const real = fs.realpathSync(this.ctx.dir);
    const keep = real.startsWith("/run/") ? real : "";
    if (keep) fs.mkdirSync(keptMountPoint(p.privateRun, keep), { recursive: true, mode: 0o700 });
    fs.writeFileSync(p.conf, strongswanConf, { mode: 0o600 });
    fs.writeFileSync(p.swanctlConf, swanctlConf, { mode: 0o600 }); // holds the PSK
    fs.rmSync(p.vici, { force: true });
    fs.writeFileSync(p.log, "");

    await this.ctx.runtime.exec(this.node, ["nft", "-f", "-"], { input: wireRuleset(port) });
    const child = this.ctx.runtime.spawn(this.node, privateRunArgv(p.privateRun, keep, [CHARON]), {
      logFile: p.log,
      env: { STRONGSWAN_CONF: p.conf },
      capabilities: ["sys_admin"], // the private /run is a mount (a container's own processes lack it)
    });
    this.child = child;
    child.on("exit", (code, signal) => {
      this.exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
      for (const l of this.exitListeners) l(this.exited);
    });
    await waitUntil(forUnixSocket(p.vici), {
      what: `${this.piece} answering on its vici socket ${p.vici}`,
      timeoutMs: SOCKET_TIMEOUT_MS,
      intervalMs: 50,
      process: child,
      log: p.log,
    });
    await this.swanctl(["--load-all", "--noprompt", "--file", p.swanctlConf]);
  }

  swanctl(args: readonly string[], timeoutMs = SWANCTL_TIMEOUT_MS): Promise<ExecResult> {
    return this.ctx.runtime.exec(this.node, swanctlArgv(this.paths, args), { timeoutMs });
  }

  async listSas(): Promise<IkeSa[]> {
    return parseListSas((await this.swanctl(["--list-sas", "--raw"])).stdout);
  }

  async wire(): Promise<WireCounters> {
    const r = await this.ctx.runtime.exec(this.node, wireListArgv(), { allowFailure: this.stopped });
    // stopped: the table went with it
    return r.code === 0 ? parseWireCounters(r.stdout) : { sent: { packets: 0, bytes: 0 }, received: { packets: 0, bytes: 0 } };
  }

  async tun(): Promise<TunCounters | undefined> {
    if (!this.tunDevice) return undefined;
    const r = await this.ctx.runtime.exec(this.node, ["ip", "-j", "-s", "link", "show", "dev", this.tunDevice], { allowFailure: true });
    if (r.code !== 0) return undefined; // gone with its charon
    const s = (JSON.parse(r.stdout) as { stats64?: { rx?: Record<string, number>; tx?: Record<string, number> } }[])[0]?.stats64;
    return { rxPackets: s?.rx?.packets ?? 0, rxBytes: s?.rx?.bytes ?? 0, txPackets: s?.tx?.packets ?? 0, txBytes: s?.tx?.bytes ?? 0 };
  }

  /** Read what the log gained since the last call; returns the reasons of IKE_SA ends found in it. */
  readLog(): string[] {
    let text = "";
    try {
      const fd = fs.openSync(this.paths.log, "r");
      try {
        const buf = Buffer.alloc(64 * 1024);
        for (;;) {
          const n = fs.readSync(fd, buf, 0, buf.length, this.logOffset);
          if (n <= 0) break;
          this.logOffset += n;
          text += buf.toString("utf8", 0, n);
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return []; // the lab's teardown may have removed the directory
    }
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    const downs: string[] = [];
    for (const line of lines) {
      const tun = /created TUN device: (\S+)/.exec(line);
      if (tun) this.tunDevice = tun[1];
      const kind = dpdLineKind(line);
      if (kind === "sent") this.dpdSent++;
      else if (kind === "answered") this.dpdAnswered++;
      const why = downReason(line);
      if (why) downs.push(why);
    }
    return downs;
  }

  logTail(lines = LOG_TAIL_LINES): string {
    try {
      return fs.readFileSync(this.paths.log, "utf8").split("\n").slice(-lines - 1).join("\n");
    } catch {
      return "";
    }
  }

  /** SIGTERM by PID (charon deletes its SAs and its TUN device), then drop the counting table. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.child) await stopProcess(this.child, 3000);
    await this.ctx.runtime.exec(this.node, wireDeleteArgv(), { allowFailure: true });
  }
}
