// HAProxy as the firewall's full TCP proxy (`proxy: haproxy`). Pure: config
// text and parsers for what its stats socket says. Running it is the
// harness's business: `haproxy -db -f <cfg>` as a child inside the firewall's
// namespace, killed by PID.
//
// How the original destination is found: the ruleset redirects inspected
// flows to `listenPort` (nft `redirect`, a DNAT). The backend's single server
// is `0.0.0.0` with no port, which HAProxy documents as "forward to the same
// IP address as the one from the client connection" and "if [the port is]
// unset, the same port the client connected to". The "address the client
// connected to" is read with SO_ORIGINAL_DST on Linux builds with
// USE_NETFILTER (Debian's 2.6 has it: `haproxy -vv` lists +NETFILTER), so it
// is the pre-redirect destination, not the proxy's own listening address.
// firewall/haproxy.test.ts proves this with a real redirect.
import type { FirewallSpec } from "../topology/model";
import { unixRequest } from "./unix-request";

export const HAPROXY_BIN = "/usr/sbin/haproxy";
export const HAPROXY_FRONTEND = "fw_in";
export const HAPROXY_BACKEND = "orig_dst";
export const HAPROXY_SERVER = "orig";

export interface HaproxyOptions {
  listenPort: number;
  /** Unix socket for the admin CLI (`show stat`, `show sess`). */
  statsSocket: string;
  /** Written by HAProxy only in daemon or master-worker mode; we run it in the foreground and know the PID from spawn. */
  pidFile: string;
  /** No data either way for this long closes both sides (client and server timeouts). */
  idleTimeoutMs: number;
}

/** argv that runs HAProxy in the foreground (no daemon, no master-worker), logging to stderr. */
export function haproxyArgv(configFile: string): string[] {
  return [HAPROXY_BIN, "-db", "-f", configFile];
}

export function haproxyConfig(spec: FirewallSpec, opts: HaproxyOptions): string {
  if (!Number.isInteger(opts.listenPort) || opts.listenPort < 1 || opts.listenPort > 65535) {
    throw new Error(`haproxy config: listenPort ${opts.listenPort} is not a port (1..65535)`);
  }
  if (!Number.isInteger(opts.idleTimeoutMs) || opts.idleTimeoutMs < 1) {
    throw new Error(`haproxy config: idleTimeoutMs ${opts.idleTimeoutMs} must be a positive integer`);
  }
  for (const path of [opts.statsSocket, opts.pidFile]) {
    // HAProxy's config tokenizer splits on blanks and treats # as a comment.
    if (!path.startsWith("/") || /[\s#"'\\]/.test(path)) {
      throw new Error(`haproxy config: ${JSON.stringify(path)} must be an absolute path without blanks, quotes or #`);
    }
  }
  const inspected = spec.inspect.map((f) => `${f.proto}/${f.port}`).join(", ") || "none";
  return [
    `# vpnlab firewall node ${spec.node}: full TCP proxy (HAProxy, mode tcp)`,
    `# inspected flows (redirected here by the ruleset): ${inspected}`,
    "global",
    "    # foreground child of the harness (`haproxy -db`): no daemon, no master-worker",
    `    pidfile ${opts.pidFile}`,
    `    stats socket ${opts.statsSocket} mode 600 level admin`,
    "    # never syslog: one line per connection on stderr, collected by the harness",
    "    log stderr format raw local0",
    "    nbthread 1",
    "",
    "defaults",
    "    mode tcp",
    "    log global",
    "    option tcplog",
    "    timeout connect 2s",
    "    # idle timeout: no data from the client / from the server for this long",
    `    timeout client ${opts.idleTimeoutMs}ms`,
    `    timeout server ${opts.idleTimeoutMs}ms`,
    "",
    `frontend ${HAPROXY_FRONTEND}`,
    `    bind 0.0.0.0:${opts.listenPort}`,
    `    default_backend ${HAPROXY_BACKEND}`,
    "",
    `backend ${HAPROXY_BACKEND}`,
    "    # 0.0.0.0 without a port: the original destination address and port of",
    "    # the intercepted connection (SO_ORIGINAL_DST), never a fixed address",
    `    server ${HAPROXY_SERVER} 0.0.0.0`,
    "",
  ].join("\n");
}

/** One admin-CLI command over the stats socket (`show stat`, `show sess`); the reply text. */
export function haproxyCommand(statsSocket: string, command: string, timeoutMs = 3000): Promise<string> {
  return unixRequest(statsSocket, `${command}\n`, timeoutMs);
}

// ---------------------------------------------------------------------------
// `show stat` (CSV)

export type HaproxyStatType = "frontend" | "backend" | "server" | "listener";

export interface HaproxyStatRow {
  proxy: string; // pxname
  name: string; // svname: FRONTEND, BACKEND or the server's name
  type: HaproxyStatType;
  status: string; // OPEN, UP, "no check", ...
  scur: number; // current sessions
  stot: number; // total sessions
  bin: number; // bytes in (from the client, for a frontend; towards the server, for a backend/server)
  bout: number; // bytes out
}

const STAT_TYPES: Record<string, HaproxyStatType> = {
  "0": "frontend",
  "1": "backend",
  "2": "server",
  "3": "listener",
};

export function parseHaproxyStat(csv: string): HaproxyStatRow[] {
  const lines = csv.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const headerLine = lines.find((l) => l.startsWith("#"));
  if (!headerLine) throw new Error(`haproxy show stat: no "# pxname,..." header in: ${csv.slice(0, 200)}`);
  const header = headerLine.replace(/^#\s*/, "").split(",");
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`haproxy show stat: no column ${name} in the header`);
    return i;
  };
  const c = {
    pxname: col("pxname"),
    svname: col("svname"),
    status: col("status"),
    scur: col("scur"),
    stot: col("stot"),
    bin: col("bin"),
    bout: col("bout"),
    type: col("type"),
  };
  const num = (s: string | undefined): number => (s === undefined || s === "" ? 0 : Number(s));
  const rows: HaproxyStatRow[] = [];
  for (const l of lines) {
    if (l.startsWith("#")) continue;
    const f = l.split(",");
    const type = STAT_TYPES[f[c.type] ?? ""];
    if (!type) throw new Error(`haproxy show stat: unknown type ${JSON.stringify(f[c.type])} in: ${l.slice(0, 120)}`);
    rows.push({
      proxy: f[c.pxname] ?? "",
      name: f[c.svname] ?? "",
      type,
      status: f[c.status] ?? "",
      scur: num(f[c.scur]),
      stot: num(f[c.stot]),
      bin: num(f[c.bin]),
      bout: num(f[c.bout]),
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------
// `show sess` (one line per stream)

export interface HaproxySession {
  id: string; // stream pointer, e.g. 0x55657f452a80
  proto: string; // tcpv4, tcpv6, unix_stream
  src: string; // client ip:port
  frontend: string;
  backend: string;
  server: string;
  ageSec: number;
  /** Bytes sitting in HAProxy's request buffer (read from the client, not yet sent to the server). */
  reqBuffered: number;
  /** Bytes sitting in HAProxy's response buffer. */
  resBuffered: number;
}

/** Proxied TCP streams from `show sess`; the CLI's own session (fe=GLOBAL) is left out. */
export function parseHaproxySess(text: string): HaproxySession[] {
  const out: HaproxySession[] = [];
  for (const line of text.split("\n")) {
    const m = /^(0x[0-9a-f]+):\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const rest = m[2];
    const kv = (key: string): string | undefined => {
      const r = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(rest);
      return r ? r[1] : undefined;
    };
    const buffered = (chan: "rq" | "rp"): number => {
      const r = new RegExp(`(?:^|\\s)${chan}\\[[^\\]]*?\\bi=(\\d+)`).exec(rest);
      return r ? Number(r[1]) : 0;
    };
    const frontend = kv("fe") ?? "";
    if (frontend === "GLOBAL") continue;
    out.push({
      id: m[1],
      proto: kv("proto") ?? "",
      src: kv("src") ?? "",
      frontend,
      backend: kv("be") ?? "",
      server: kv("srv") ?? "",
      ageSec: parseHaproxyAge(kv("age") ?? ""),
      reqBuffered: buffered("rq"),
      resBuffered: buffered("rp"),
    });
  }
  return out;
}

/** HAProxy's human_time: "0s", "45s", "2m5s", "1h3m", "3d4h". */
function parseHaproxyAge(text: string): number {
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  for (const m of text.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * unit[m[2]];
  return total;
}
