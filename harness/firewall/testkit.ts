// Test support for the firewall tests: throwaway network namespaces
// (vlt-<hex>-<tag>), small node programs run inside them, and a three-node
// client — firewall — server line. Everything started here is killed by PID
// and every namespace deleted in destroy(), also after a failed test.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { run, type ExecOptions, type ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";

export const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0;

/** NodeExec whose node names are namespace names. */
export const netnsExec: NodeExec = {
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(["ip", "netns", "exec", node, ...argv], { timeoutMs: 30_000, ...opts });
  },
};

export class Netns {
  private readonly children = new Set<ChildProcess>();
  private constructor(readonly name: string) {}

  static async create(tag: string, hex = randomBytes(3).toString("hex")): Promise<Netns> {
    const ns = new Netns(`vlt-${hex}-${tag}`);
    await run(["ip", "netns", "add", ns.name]);
    try {
      await ns.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
      await ns.exec(["ip", "link", "set", "lo", "up"]);
    } catch (e) {
      await ns.destroy();
      throw e;
    }
    return ns;
  }

  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return netnsExec.exec(this.name, argv, opts);
  }

  /** A long-running program in the namespace; `ip netns exec` execs it, so child.pid is its PID. */
  spawn(argv: readonly string[], logFile?: string): ChildProcess {
    const stderr = logFile ? fs.openSync(logFile, "a") : "pipe";
    const child = spawn("ip", ["netns", "exec", this.name, ...argv], { stdio: ["pipe", "pipe", stderr] });
    if (typeof stderr === "number") fs.closeSync(stderr);
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    child.stdin?.on("error", () => undefined);
    return child;
  }

  /** `node -e script args...` in the namespace; resolves once it prints a JSON line with event "ready". */
  async node(script: string, args: readonly string[] = []): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
    const child = this.spawn([process.execPath, "-e", script, "--", ...args]);
    const ready = await waitEvent(child, "ready", 10_000);
    return { child, ready };
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => killByPid(c)));
    await run(["ip", "netns", "del", this.name], { allowFailure: true });
  }
}

/** Resolve with the first stdout JSON line whose `event` is `event`; reject on exit or timeout (with stderr). */
export function waitEvent(child: ChildProcess, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onErr = (b: Buffer): void => {
      err += b.toString();
    };
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onOut);
      child.stderr?.off("data", onErr);
      child.off("exit", onExit);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`process exited (${signal ?? `code ${code}`}) before "${event}": ${out}${err}`));
    };
    const onOut = (b: Buffer): void => {
      out += b.toString();
      for (const line of out.split("\n")) {
        if (!line.trim().startsWith("{")) continue;
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.event === event) {
            done();
            resolve(msg);
            return;
          }
        } catch {
          // a partial line: wait for more
        }
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${event}" within ${timeoutMs} ms: ${out}${err}`));
    }, timeoutMs);
    child.stdout?.on("data", onOut);
    child.stderr?.on("data", onErr);
    child.on("exit", onExit);
  });
}

/** SIGTERM by PID, SIGKILL after 2 s; resolves when it has exited. */
export async function killByPid(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
  }, 2000);
  await exited;
  clearTimeout(timer);
}

/**
 * TCP echo server: greets each connection with `{"from":"<listen ip:port>","peer":"<ip:port>"}\n`
 * (so a test sees which address it reached and who connected), then echoes.
 * Prints {"event":"ready"}.
 */
export const ECHO_SERVER = `
const net = require("net");
const [host, port] = [process.argv[1], Number(process.argv[2])];
net.createServer((s) => {
  s.on("error", () => {});
  s.write(JSON.stringify({ from: host + ":" + port, peer: s.remoteAddress.replace(/^::ffff:/, "") + ":" + s.remotePort }) + "\\n");
  s.pipe(s);
}).listen(port, host, () => console.log(JSON.stringify({ event: "ready" })));
`;

/**
 * TCP client: connects to host:port (optionally from localAddress), sends
 * `bytes` bytes, reads the greeting line and the echo, then prints
 * {"event":"ready","greeting":{...},"echoed":N} and exits.
 */
export const ECHO_CLIENT = `
const net = require("net");
const [host, port, bytes, localAddress] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), process.argv[4] || undefined];
const c = net.connect({ host, port, localAddress });
let buf = Buffer.alloc(0);
c.on("connect", () => c.write(Buffer.alloc(bytes, 0x61)));
c.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  const nl = buf.indexOf(10);
  if (nl >= 0 && buf.length - nl - 1 >= bytes) {
    console.log(JSON.stringify({ event: "ready", greeting: JSON.parse(buf.subarray(0, nl).toString()), echoed: buf.length - nl - 1 }));
    c.end();
  }
});
c.on("error", (e) => { console.error(e.message); process.exit(2); });
setTimeout(() => { console.error("timeout, got " + buf.length + " bytes"); process.exit(3); }, 8000);
`;

/**
 * client (10.201.1.2) — fw (10.201.1.1 | 10.201.2.1) — server (10.201.2.2):
 * veth pairs created inside the namespaces, the firewall forwards.
 */
export interface Line3 {
  client: Netns;
  fw: Netns;
  server: Netns;
  destroy(): Promise<void>;
}

export async function createLine3(): Promise<Line3> {
  const hex = randomBytes(3).toString("hex");
  const made: Netns[] = [];
  const destroy = async (): Promise<void> => {
    for (const ns of made.splice(0).reverse()) await ns.destroy();
  };
  try {
    const client = await Netns.create("c", hex);
    made.push(client);
    const fw = await Netns.create("fw", hex);
    made.push(fw);
    const server = await Netns.create("s", hex);
    made.push(server);
    await run(["ip", "link", "add", "e0", "netns", client.name, "type", "veth", "peer", "name", "c0", "netns", fw.name]);
    await run(["ip", "link", "add", "s0", "netns", fw.name, "type", "veth", "peer", "name", "e0", "netns", server.name]);
    const cfg: [Netns, string, string][] = [
      [client, "e0", "10.201.1.2/24"],
      [fw, "c0", "10.201.1.1/24"],
      [fw, "s0", "10.201.2.1/24"],
      [server, "e0", "10.201.2.2/24"],
    ];
    for (const [ns, dev, ip] of cfg) {
      await ns.exec(["ip", "addr", "add", ip, "dev", dev]);
      await ns.exec(["ip", "link", "set", dev, "up"]);
    }
    await client.exec(["ip", "route", "add", "default", "via", "10.201.1.1"]);
    await server.exec(["ip", "route", "add", "default", "via", "10.201.2.1"]);
    await fw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    return { client, fw, server, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** Entries in a namespace's conntrack table that mention `port` (as sport= or dport=). */
export async function conntrackEntries(ns: Netns, port: number): Promise<string[]> {
  const r = await ns.exec(["cat", "/proc/net/nf_conntrack"], { allowFailure: true });
  return r.stdout.split("\n").filter((l) => l.includes(`port=${port} `));
}

export interface EchoResult {
  greeting: { from: string; peer: string };
  echoed: number;
}

/** One ECHO_CLIENT connection from `ns` to host:port; what the server said and how much came back. */
export async function echoRoundTrip(ns: Netns, host: string, port: number, bytes: number, localAddress?: string): Promise<EchoResult> {
  const { child, ready } = await ns.node(ECHO_CLIENT, [host, String(port), String(bytes), ...(localAddress ? [localAddress] : [])]);
  await killByPid(child);
  return ready as unknown as EchoResult;
}
