// Pure pieces of the ocserv implementation: where its files live under the
// lab's directory, ocserv.conf, openconnect's argv, the hook script that
// replaces vpnc-script, and the parsers for what the daemons write. Tested
// without root in ocserv.test.ts.
import * as path from "node:path";
import type { Cidr, DpdSpec } from "../../../topology/model";
import { intToAddr, maskOf, networkOf, networkText } from "../../../topology/units";

/** The tun device openconnect creates on the client. */
export const CLIENT_TUN = "tun-vpn";
/** ocserv numbers its devices from this prefix (vpns0, vpns1, ...). */
export const HEADEND_TUN_PREFIX = "vpns";
export const VPN_USER = "vpnlab";
/**
 * ocserv reads `dpd = 0` as "the default, 90 s": there is no off switch. Off is
 * a year, for DPD and keepalive alike: neither end sends a probe of its own
 * nor declares the other dead within any scenario.
 */
export const DPD_OFF_S = 365 * 24 * 3600;
/**
 * ocserv kicks a client after at least this many DPD intervals without a word
 * from it (worker-vpn.c DPD_MAX_TRIES; its periodic check makes it later: at
 * dpd 2 s the kick came after about 10 s).
 */
export const OCSERV_DPD_MAX_TRIES = 3;

export interface OcservPaths {
  conf: string;
  passwd: string;
  socket: string; // ocserv appends its own suffixes
  occtlSocket: string;
  pid: string;
  log: string;
  clientLog: string;
  hook: string;
  events: string;
}

export function ocservPaths(dir: string): OcservPaths {
  const p = (f: string): string => path.join(dir, f);
  return {
    conf: p("ocserv.conf"),
    passwd: p("ocserv.passwd"),
    socket: p("ocserv.sock"),
    occtlSocket: p("occtl.sock"),
    pid: p("ocserv.pid"),
    log: p("ocserv.log"),
    clientLog: p("openconnect.log"),
    hook: p("openconnect-hook.js"),
    events: p("openconnect-events.jsonl"),
  };
}

export interface DpdMapping {
  off: boolean;
  /** ocserv's dpd and mobile-dpd, whole seconds (it knows no finer unit). */
  dpdS: number;
  keepaliveS: number;
  /** What of the scenario's DPD ocserv cannot express, for the log; empty when exact. */
  notes: string[];
}

/**
 * The shortest DPD interval ocserv may hand openconnect. openconnect repeats an
 * unanswered DPD request every `dpd / 2` whole seconds (mainloop.c
 * keepalive_action), which is 0 at 1 s: from the first unanswered request
 * until the answer lands in a later second it sends one per main-loop turn,
 * megabytes of 8-byte CSTP (or DTLS) DPD packets that bury the answer and the
 * data behind them, and it declares the peer dead and reconnects over and over.
 * It also takes the smaller of the server's X-CSTP-DPD and --force-dpd, so the
 * floor has to be in ocserv's config.
 */
export const OPENCONNECT_MIN_DPD_S = 2;

export function dpdMapping(dpd: DpdSpec | null): DpdMapping {
  if (!dpd) return { off: true, dpdS: DPD_OFF_S, keepaliveS: DPD_OFF_S, notes: [] };
  const wholeS = Math.max(1, Math.ceil(dpd.intervalMs / 1000));
  const dpdS = Math.max(OPENCONNECT_MIN_DPD_S, wholeS);
  const notes: string[] = [];
  if (wholeS * 1000 !== dpd.intervalMs) notes.push(`dpd interval ${dpd.intervalMs} ms rounded up to ${wholeS} s (ocserv counts whole seconds)`);
  if (dpdS !== wholeS) {
    notes.push(`dpd interval raised to ${dpdS} s: at ${wholeS} s openconnect floods DPD requests while one is unanswered (it repeats them every interval/2 whole seconds)`);
  }
  if (dpd.retries !== OCSERV_DPD_MAX_TRIES) {
    notes.push(`dpd retries ${dpd.retries} not expressible: ocserv kicks a silent client after at least ${OCSERV_DPD_MAX_TRIES} intervals, openconnect decides on its own`);
  }
  // keepalive only keeps an idle path warm; as often as DPD so a quiet tunnel still carries a packet per interval
  return { off: false, dpdS, keepaliveS: dpdS, notes };
}

export interface OcservConfInput {
  paths: OcservPaths;
  certPath: string;
  keyPath: string;
  listenIp: string;
  port: number;
  dtls: boolean;
  pool: Cidr;
  routes: readonly Cidr[];
  dpd: DpdMapping;
}

const dotted = (prefix: number): string => intToAddr(maskOf(prefix));

export function ocservConf(c: OcservConfInput): string {
  const lines = [
    `auth = "plain[passwd=${c.paths.passwd}]"`,
    `listen-host = ${c.listenIp}`,
    `tcp-port = ${c.port}`,
    // no udp-port line at all: ocserv then opens no UDP socket and offers no DTLS
    ...(c.dtls ? [`udp-port = ${c.port}`] : []),
    // workers stay root: they connect to sec-mod's socket in the lab's directory, which only root may enter (0700)
    "run-as-user = root",
    "run-as-group = root",
    `socket-file = ${c.paths.socket}`,
    `occtl-socket-file = ${c.paths.occtlSocket}`,
    "use-occtl = true",
    // never write the host's utmp/wtmp: `ip netns exec` isolates mounts only, so those files are the host's
    "use-utmp = false",
    `pid-file = ${c.paths.pid}`,
    `server-cert = ${c.certPath}`,
    `server-key = ${c.keyPath}`,
    // seccomp isolation is not under test; without it a kernel/filter mismatch cannot fail a scenario
    "isolate-workers = false",
    "max-clients = 16",
    "max-same-clients = 4",
    // a chaos run reconnects often: no connection rate limit, no ban for repeated logins
    "rate-limit-ms = 0",
    "max-ban-score = 0",
    `keepalive = ${c.dpd.keepaliveS}`,
    `dpd = ${c.dpd.dpdS}`,
    `mobile-dpd = ${c.dpd.dpdS}`,
    "try-mtu-discovery = false",
    "cookie-timeout = 300",
    "log-level = 2",
    `device = ${HEADEND_TUN_PREFIX}`,
    "predictable-ips = true",
    `ipv4-network = ${networkText(c.pool)}`,
    "ping-leases = false",
    ...c.routes.map((r) => `route = ${intToAddr(networkOf(r))}/${dotted(r.prefix)}`),
    "cisco-client-compat = true",
    "dtls-legacy = true",
  ];
  return lines.join("\n") + "\n";
}

export interface OpenconnectInput {
  headendIp: string;
  port: number;
  pin: string;
  hook: string;
  dtls: boolean;
}

export function openconnectArgv(o: OpenconnectInput): string[] {
  return [
    "openconnect",
    "--protocol=anyconnect",
    `--servercert=pin-sha256:${o.pin}`,
    `--script=${o.hook}`,
    `--interface=${CLIENT_TUN}`,
    "--passwd-on-stdin",
    `--user=${VPN_USER}`,
    "--non-inter",
    ...(o.dtls ? [] : ["--no-dtls"]),
    `${o.headendIp}:${o.port}`,
  ];
}

/**
 * The script openconnect runs instead of vpnc-script, inside the client's
 * namespace: it configures the tun device and the split-include routes and
 * appends one JSON line per call to `events`. It never touches
 * /etc/resolv.conf, the default route or anything of the host.
 */
export function hookScript(events: string, nodePath: string): string {
  return `#!${nodePath}
"use strict";
// written by vpnlab (harness/vpn/impls/ocserv): replaces vpnc-script
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const EVENTS = ${JSON.stringify(events)};
const env = process.env;
const reason = env.reason || "";
const record = (extra) => fs.appendFileSync(EVENTS, JSON.stringify({ reason, at: Date.now(), ...extra }) + "\\n");
const ip = (...args) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
try {
  const dev = env.TUNDEV;
  if (reason === "connect" || reason === "reconnect") {
    const inner = env.INTERNAL_IP4_ADDRESS;
    const mtu = env.INTERNAL_IP4_MTU || "1300";
    ip("link", "set", "dev", dev, "mtu", mtu);
    ip("address", "replace", inner + "/32", "dev", dev);
    ip("link", "set", "dev", dev, "up");
    const routes = [];
    for (let i = 0; i < Number(env.CISCO_SPLIT_INC || 0); i++) {
      const to = env["CISCO_SPLIT_INC_" + i + "_ADDR"] + "/" + env["CISCO_SPLIT_INC_" + i + "_MASKLEN"];
      ip("route", "replace", to, "dev", dev);
      routes.push(to);
    }
    record({ dev, inner, mtu: Number(mtu), routes });
  } else {
    record({ dev });
  }
} catch (e) {
  record({ error: String((e && e.stderr && e.stderr.toString().trim()) || (e && e.message) || e) });
  process.exit(1);
}
`;
}

export interface HookEvent {
  reason: string; // pre-init, connect, disconnect, reconnect, attempt-reconnect
  at: number;
  dev?: string;
  inner?: string;
  mtu?: number;
  routes?: string[];
  error?: string;
}

export function parseHookEvent(line: string): HookEvent | undefined {
  try {
    const v = JSON.parse(line) as Partial<HookEvent>;
    return typeof v.reason === "string" && typeof v.at === "number" ? (v as HookEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** ocserv's main process on a session's end: `main[user]:ip:port user disconnected (reason: R, rx: N, tx: N)`. */
export function parseOcservDisconnect(line: string): { peer: string; reason: string } | undefined {
  const m = /main\[[^\]]*\]:(\S+) user disconnected \(reason: ([^,)]+)/.exec(line);
  return m ? { peer: m[1], reason: m[2] } : undefined;
}

/** Sum of bytes_sent / bytes_received over `ss -tinH` output (one TCP stream per AnyConnect session). */
export function ssStreamBytes(text: string): { sent: number; received: number } {
  let sent = 0;
  let received = 0;
  for (const m of text.matchAll(/\bbytes_sent:(\d+)/g)) sent += Number(m[1]);
  for (const m of text.matchAll(/\bbytes_received:(\d+)/g)) received += Number(m[1]);
  return { sent, received };
}

export interface LinkStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
}

/** `ip -s -j link show dev X` output; undefined when the device is not there. */
export function parseLinkStats(json: string): LinkStats | undefined {
  try {
    const [l] = JSON.parse(json) as { stats64?: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } } }[];
    if (!l?.stats64) return undefined;
    return { rxPackets: l.stats64.rx.packets, txPackets: l.stats64.tx.packets, rxBytes: l.stats64.rx.bytes, txBytes: l.stats64.tx.bytes };
  } catch {
    return undefined;
  }
}

/** `occtl --json show users`: an array of objects (empty or unparsable: none). */
export function parseOcctlUsers(text: string): Record<string, unknown>[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
  } catch {
    return [];
  }
}
