// ocserv on the headend, openconnect on the client, as one VpnImplementation.
// Everything lives under the lab's directory: config, password file, the
// certificate, sockets, pid files, logs and the hook script that replaces
// vpnc-script. Up/down events come from the hook's JSON lines, ocserv's log
// and the daemons' exits; counters from the tun devices, `ss` and occtl.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { run, stopProcess } from "../../../exec";
import type { VpnSpec } from "../../../topology/model";
import { forCommand, waitUntil } from "../../../wait";
import { generateHeadendCert } from "../../certs";
import type { ImplContext, Side, TunnelCounters, TunnelDown, TunnelHandle, VpnImplementation } from "../../impl";
import { tunnelPlan, type TunnelPlan } from "../../plan";
import {
  CLIENT_TUN,
  dpdMapping,
  hookScript,
  ocservConf,
  ocservPaths,
  openconnectArgv,
  parseHookEvent,
  parseLinkStats,
  parseOcctlUsers,
  parseOcservDisconnect,
  ssStreamBytes,
  VPN_USER,
  type DpdMapping,
  type HookEvent,
  type OcservPaths,
} from "./config";
import { ocservSpec } from "./spec";

const LISTEN_TIMEOUT_MS = 10_000;
const UP_TIMEOUT_MS = 20_000;
const WATCH_MS = 250;
const LOG_TAIL = 4000;

/** Lines appended to a file since the last read (a partial last line waits for its end). */
class FileTail {
  private offset = 0;
  private partial = "";
  constructor(private readonly file: string) {}

  lines(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, "r");
    } catch {
      return []; // not written yet
    }
    try {
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        this.offset += n;
      }
      const text = this.partial + Buffer.concat(chunks).toString();
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      return parts;
    } finally {
      fs.closeSync(fd);
    }
  }
}

function tail(file: string, max = LOG_TAIL): string {
  try {
    return fs.readFileSync(file, "utf8").slice(-max);
  } catch {
    return "";
  }
}

/** A child's stdout appended to its log (a pipe nobody reads would block the daemon once full). */
function drainTo(child: ChildProcess, file: string): void {
  child.stdout?.on("data", (b: Buffer) => fs.appendFileSync(file, b));
}

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `exited (${signal})` : `exited (code ${code})`;
}

const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/** A crypt(3) SHA-512 hash, the form ocserv's plain password file holds. */
async function passwordHash(password: string): Promise<string> {
  return (await run(["openssl", "passwd", "-6", "-stdin"], { input: `${password}\n`, timeoutMs: 10_000 })).stdout.trim();
}

class OcservTunnel implements TunnelHandle {
  inner = "";
  upAt = 0;
  private readonly downList: TunnelDown[] = [];
  private readonly listeners: ((d: TunnelDown) => void)[] = [];
  private readonly events: FileTail;
  private readonly serverLog: FileTail;
  private readonly hookEvents: HookEvent[] = [];
  private client?: ChildProcess;
  private stopping?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private headendDisconnects = 0;

  constructor(
    private readonly ctx: ImplContext,
    private readonly paths: OcservPaths,
    private readonly plan: TunnelPlan,
    private readonly dpd: DpdMapping,
    private readonly server: ChildProcess,
  ) {
    this.events = new FileTail(paths.events);
    this.serverLog = new FileTail(paths.log);
  }

  private get vpn(): VpnSpec {
    return this.ctx.scenario.vpn;
  }

  static async start(ctx: ImplContext): Promise<OcservTunnel> {
    const { vpn } = ctx.scenario;
    if (vpn.transport !== "anyconnect") throw new Error(`impl ocserv carries transport anyconnect only, not ${vpn.transport}`);
    const plan = tunnelPlan(ctx.scenario);
    const paths = ocservPaths(ctx.dir);
    const dpd = dpdMapping(vpn.dpd);
    for (const n of dpd.notes) ctx.log(`ocserv: ${n}`);
    fs.mkdirSync(ctx.dir, { recursive: true });
    fs.rmSync(paths.events, { force: true }); // a connect of an earlier run in this directory is no news

    const cert = await generateHeadendCert(ctx.dir, { stem: "ocserv" });
    const password = randomBytes(12).toString("hex");
    fs.writeFileSync(paths.passwd, `${VPN_USER}:*:${await passwordHash(password)}\n`, { mode: 0o600 });
    fs.writeFileSync(paths.conf, ocservConf({ paths, certPath: cert.certPath, keyPath: cert.keyPath, listenIp: plan.headendIp,
      port: vpn.port, dtls: vpn.dtls, pool: vpn.pool, routes: plan.protectedNets, dpd }));
    fs.writeFileSync(paths.hook, hookScript(paths.events, ctx.runtime.harnessArgv("node")[0]), { mode: 0o700 });
    fs.chmodSync(paths.hook, 0o700); // an existing file keeps its mode on write

    const server = ctx.runtime.spawn(vpn.headend, ["ocserv", "--foreground", "--config", paths.conf], { logFile: paths.log });
    drainTo(server, paths.log);
    const t = new OcservTunnel(ctx, paths, plan, dpd, server);
    try {
      await t.waitListening();
      await t.connect(password, cert.spkiSha256);
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  /** Poll `ss -ltn` in the headend until ocserv listens on its port; fail at once if it exits. */
  private async waitListening(): Promise<void> {
    const want = `${this.plan.headendIp}:${this.vpn.port}`;
    const ss = () => this.ctx.runtime.exec(this.vpn.headend, ["ss", "-ltnH", "sport", "=", `:${this.vpn.port}`], { allowFailure: true, timeoutMs: 5000 });
    await waitUntil(forCommand(ss, (out) => out.includes(want)), {
      what: `ocserv on ${this.vpn.headend} listening on ${want}`,
      timeoutMs: LISTEN_TIMEOUT_MS,
      process: this.server,
      log: this.paths.log,
    });
  }

  /** Start openconnect and wait for the hook's connect (or its error, or openconnect's exit). */
  private async connect(password: string, pin: string): Promise<void> {
    const argv = openconnectArgv({ headendIp: this.plan.headendIp, port: this.vpn.port, pin, hook: this.paths.hook,
      dtls: this.vpn.dtls });
    const client = this.ctx.runtime.spawn(this.vpn.client, argv, { logFile: this.paths.clientLog });
    this.client = client;
    drainTo(client, this.paths.clientLog);
    client.stdin?.on("error", () => undefined);
    client.stdin?.end(`${password}\n`);

    // the hook's connect ends the wait; its error, or ocserv's exit, too (and fail it at once)
    const outcome = await waitUntil(async () => {
      this.readHook();
      const bad = this.hookEvents.find((e) => e.error);
      if (bad) return `the hook script failed (${bad.reason}): ${bad.error}`;
      if (exited(this.server)) return `ocserv ${exitText(this.server.exitCode, this.server.signalCode)}:\n${tail(this.paths.log, 1500)}`;
      return this.hookEvents.find((e) => e.reason === "connect" && e.inner);
    }, {
      what: `openconnect on ${this.vpn.client} bringing the tunnel to ${this.plan.headendIp}:${this.vpn.port} up`,
      timeoutMs: UP_TIMEOUT_MS,
      process: client,
      log: this.paths.clientLog,
    });
    if (typeof outcome === "string") throw new Error(`openconnect on ${this.vpn.client} did not bring the tunnel up: ${outcome}`);
    this.inner = outcome.inner ?? "";
    this.upAt = outcome.at;
    this.serverLog.lines(); // what ocserv logged while connecting is no down event
    this.watch();
  }

  private readHook(): HookEvent[] {
    const fresh = this.events.lines().map(parseHookEvent).filter((e): e is HookEvent => e !== undefined);
    this.hookEvents.push(...fresh);
    return fresh;
  }

  private down(side: Side, reason: string, at = Date.now()): void {
    if (this.stopping) return;
    const d = { side, at, reason };
    this.downList.push(d);
    for (const l of this.listeners) l(d);
  }

  /** After up: hook events and ocserv's log become downs; a daemon's unexpected exit a down and a fault. */
  private watch(): void {
    const poll = (): void => {
      if (this.stopping) return;
      for (const e of this.readHook()) {
        if (e.reason === "disconnect") this.down("client", "openconnect: disconnected", e.at);
        if (e.reason === "attempt-reconnect") this.down("client", "openconnect: lost the session to ocserv, reconnecting", e.at);
      }
      for (const line of this.serverLog.lines()) {
        const d = parseOcservDisconnect(line);
        if (!d) continue;
        this.headendDisconnects++;
        this.down("headend", `ocserv: client ${d.peer} disconnected (${d.reason})`);
      }
    };
    this.timer = setInterval(poll, WATCH_MS);
    this.timer.unref();
    const client = this.client as ChildProcess;
    client.once("exit", (code, signal) => {
      if (this.stopping) return;
      poll();
      const how = exitText(code, signal);
      // openconnect ending the session itself (its hook said disconnect) is the VPN's verdict; any other exit is a harness fault
      const gaveUp = this.hookEvents.some((e) => e.reason === "disconnect");
      this.down("client", `openconnect ${how}`);
      if (!gaveUp) this.ctx.reportFault(`openconnect on ${this.vpn.client} (pid ${client.pid ?? "?"})`, how);
    });
    this.server.once("exit", (code, signal) => {
      if (this.stopping) return;
      poll();
      const how = exitText(code, signal);
      this.down("headend", `ocserv ${how}`);
      this.ctx.reportFault(`ocserv on ${this.vpn.headend} (pid ${this.server.pid ?? "?"})`, how);
    });
  }

  downs(): TunnelDown[] {
    return [...this.downList];
  }

  onDown(l: (d: TunnelDown) => void): void {
    this.listeners.push(l);
  }

  async counters(side: Side): Promise<TunnelCounters> {
    const rt = this.ctx.runtime;
    const opts = { allowFailure: true, timeoutMs: 5000 };
    const node = side === "client" ? this.vpn.client : this.vpn.headend;
    const detail: Record<string, unknown> = {
      dpdSeconds: this.dpd.off ? "off" : this.dpd.dpdS,
      keepaliveSeconds: this.dpd.off ? "off" : this.dpd.keepaliveS,
    };
    let device = CLIENT_TUN;
    if (side === "headend") {
      const users = await rt.exec(node, this.occtlShowUsers, opts);
      const user = parseOcctlUsers(users.stdout).find((u) => u["Username"] === VPN_USER);
      device = typeof user?.["Device"] === "string" ? user["Device"] : "";
      Object.assign(detail, {
        sessions: parseOcctlUsers(users.stdout).length,
        state: user?.["State"] ?? "no session",
        dtlsCipher: user?.["DTLS cipher"] ?? "",
        occtlDpd: user?.["DPD"] ?? "",
        occtlRxBytes: Number(user?.["RX"] ?? 0),
        occtlTxBytes: Number(user?.["TX"] ?? 0),
        clientDisconnects: this.headendDisconnects,
      });
    } else {
      const clientLog = tail(this.paths.clientLog, 1 << 20);
      Object.assign(detail, {
        dtlsEstablished: clientLog.includes("Established DTLS connection"),
        connects: this.hookEvents.filter((e) => e.reason === "connect").length,
        reconnects: this.hookEvents.filter((e) => e.reason === "reconnect").length,
        attemptedReconnects: this.hookEvents.filter((e) => e.reason === "attempt-reconnect").length,
      });
    }
    detail.device = device || "none";
    const link = device ? parseLinkStats((await rt.exec(node, ["ip", "-s", "-j", "link", "show", "dev", device], opts)).stdout) : undefined;
    // the TCP (CSTP) stream between the two outside addresses; DTLS datagrams have no such counter
    const filter = side === "client" ? "dst" : "src";
    const ss = await rt.exec(node, ["ss", "-tinH", "state", "established", filter, `${this.plan.headendIp}:${this.vpn.port}`], opts);
    const stream = ssStreamBytes(ss.stdout);
    return {
      innerSent: link?.txPackets ?? 0,
      innerReceived: link?.rxPackets ?? 0,
      wireBytesSent: stream.sent,
      wireBytesReceived: stream.received,
      dpdSent: 0, // neither daemon exposes its DPD counts
      dpdAcked: 0,
      detail,
    };
  }

  private get occtlShowUsers(): string[] {
    return ["occtl", "-s", this.paths.occtlSocket, "--json", "show", "users"];
  }

  /** ocserv's own view: its sessions, through its occtl socket. */
  async state(): Promise<Record<string, string>> {
    const r = await this.ctx.runtime.exec(this.vpn.headend, this.occtlShowUsers, { timeoutMs: 5000 });
    return { "occtl show users": r.stdout };
  }

  logs(): Record<string, string> {
    return { ocserv: tail(this.paths.log), openconnect: tail(this.paths.clientLog), "openconnect-hook": tail(this.paths.events) };
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      // the client first: it says BYE and ocserv ends the session cleanly
      if (this.client) await stopProcess(this.client, 3000);
      await stopProcess(this.server, 3000);
    })();
    return this.stopping;
  }
}

export const ocserv: VpnImplementation = {
  ...ocservSpec,
  start: (ctx) => OcservTunnel.start(ctx),
};
