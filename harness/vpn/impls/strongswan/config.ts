// What one charon on one node is given, as text and argv: its strongswan.conf,
// its swanctl.conf, the wrapper that gives it a private /run, and the swanctl
// command line that reaches it. Pure (the files' places are computed from the
// lab's run directory), so it is tested without root.
import * as path from "node:path";
import type { Side } from "../../impl";
import type { Cidr, DpdSpec } from "../../../topology/model";
import { broadcastOf, cidrText, intToAddr, networkOf } from "../../../topology/units";

/** Where Debian installs the daemon (not on PATH). */
export const CHARON = "/usr/lib/ipsec/charon";
/** The connection and child SA name in every swanctl.conf. */
export const CONN = "vpn";

export interface CharonPaths {
  conf: string; // strongswan.conf
  swanctlDir: string; // SWANCTL_DIR: swanctl never reads /etc/swanctl
  swanctlConf: string;
  vici: string; // the control socket
  viciUri: string;
  log: string; // charon's own log (its stderr)
  privateRun: string; // mounted over /run for charon only
}

export function charonPaths(dir: string, node: string): CharonPaths {
  const swanctlDir = path.join(dir, `swanctl-${node}`);
  const vici = path.join(dir, `charon-${node}.vici`);
  return {
    conf: path.join(dir, `strongswan-${node}.conf`),
    swanctlDir,
    swanctlConf: path.join(swanctlDir, "swanctl.conf"),
    vici,
    viciUri: `unix://${vici}`,
    log: path.join(dir, `charon-${node}.log`),
    privateRun: path.join(dir, `run-${node}`),
  };
}

/**
 * How the topology's DPD maps onto charon. IKEv2 DPD is an empty
 * INFORMATIONAL exchange sent after `dpd_delay` of silence and retransmitted
 * like any request: with a constant timeout of one interval and retries-1
 * retransmits, charon gives up `retries` intervals after its first probe —
 * the reference endpoints' rule. dpd_delay takes whole seconds only.
 */
export interface CharonDpd {
  delayS: number; // 0: no DPD
  retransmit?: { timeoutS: number; tries: number };
}

export function charonDpd(dpd: DpdSpec | null): CharonDpd {
  if (!dpd) return { delayS: 0 }; // charon's default retransmission for IKE's own exchanges
  return {
    delayS: Math.max(1, Math.ceil(dpd.intervalMs / 1000)),
    retransmit: { timeoutS: dpd.intervalMs / 1000, tries: Math.max(0, dpd.retries - 1) },
  };
}

/** The addresses a client may get: the pool without its network, broadcast and .1 (the headend's, as with the reference). */
export function poolRange(pool: Cidr): string {
  const first = networkOf(pool) + 2;
  const last = broadcastOf(pool) - 1;
  if (last < first) throw new Error(`vpn pool ${cidrText(pool)} is too small for a client address`);
  return `${intToAddr(first)}-${intToAddr(last)}`;
}

export interface CharonConfInput {
  viciUri: string;
  port: number; // UDP port for IKE and ESP-in-UDP (NAT-T)
  dpd: CharonDpd;
}

/** strongswan.conf for one charon: only the plugins it needs, no include of the host's /etc/strongswan.d. */
export function strongswanConf(c: CharonConfInput): string {
  const r = c.dpd.retransmit;
  return [
    "charon {",
    "  load_modular = no",
    // kernel-libipsec: ESP in user space on a TUN device (the kernel has no ESP); kdf: IKEv2 key derivation in 5.9.8
    "  load = random nonce openssl aes sha1 sha2 hmac gcm kdf kernel-libipsec kernel-netlink socket-default vici",
    // IKE and ESP only on the NAT-T port: 0 leaves the plain IKE port to a random one nothing uses
    "  port = 0",
    `  port_nat_t = ${c.port}`,
    "  install_routes = yes",
    "  install_virtual_ip = yes",
    ...(r ? [`  retransmit_timeout = ${r.timeoutS}`, "  retransmit_base = 1.0", `  retransmit_tries = ${r.tries}`, "  retransmit_jitter = 0"] : []),
    "  filelog {",
    // "stderr" is charon's name for its standard error: the runtime sends it to the log file
    "    stderr {",
    "      default = 1",
    "      ike = 2",
    "      time_format = %H:%M:%S",
    "      flush_line = yes",
    "    }",
    "  }",
    "  syslog {",
    "    daemon {",
    "      default = -1",
    "    }",
    "  }",
    "  plugins {",
    "    vici {",
    `      socket = ${c.viciUri}`,
    "    }",
    "  }",
    "}",
    "swanctl {",
    "  load = random",
    "}",
    "",
  ].join("\n");
}

export interface SwanctlConfInput {
  side: Side;
  localId: string;
  remoteId: string;
  localAddr: string;
  remoteAddr: string; // the headend's outside address on the client; %any on the headend
  port: number;
  psk: string; // base64
  protectedNets: readonly Cidr[];
  pool: Cidr;
  dpd: CharonDpd;
}

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** swanctl.conf for one side: IKEv2, PSK, UDP encapsulation forced, a virtual IP from the headend's pool. */
export function swanctlConf(c: SwanctlConfInput): string {
  for (const id of [c.localId, c.remoteId]) if (!ID_RE.test(id)) throw new Error(`strongswan: identity ${JSON.stringify(id)} is not a plain name`);
  if (!/^[A-Za-z0-9+/=]+$/.test(c.psk)) throw new Error("strongswan: the pre-shared key must be base64");
  const nets = c.protectedNets.map((n) => `${intToAddr(networkOf(n))}/${n.prefix}`).join(",");
  if (nets === "") throw new Error("strongswan: the headend protects no network (it has no link besides its outside one)");
  const client = c.side === "client";
  const dpd = c.dpd.delayS > 0 ? [`    dpd_delay = ${c.dpd.delayS}s`] : [];
  return [
    "connections {",
    `  ${CONN} {`,
    "    version = 2",
    `    local_addrs = ${c.localAddr}`,
    `    remote_addrs = ${c.remoteAddr}`,
    ...(client ? [`    local_port = ${c.port}`, `    remote_port = ${c.port}`, "    vips = 0.0.0.0"] : ["    pools = pool"]),
    // encap: ESP in UDP even without a NAT in the path (libipsec carries nothing else)
    "    encap = yes",
    "    mobike = no",
    "    proposals = aes128-sha256-modp2048",
    ...dpd,
    "    local {",
    "      auth = psk",
    `      id = ${c.localId}`,
    "    }",
    "    remote {",
    "      auth = psk",
    `      id = ${c.remoteId}`,
    "    }",
    "    children {",
    `      ${CONN} {`,
    client ? `        remote_ts = ${nets}` : `        local_ts = ${nets}`,
    "        esp_proposals = aes128gcm16",
    // a dead peer ends the tunnel for good, as with the reference endpoints: the verdict must see it
    `        dpd_action = ${c.dpd.delayS > 0 ? "clear" : "none"}`,
    "        start_action = none",
    "      }",
    "    }",
    "  }",
    "}",
    ...(client ? [] : ["pools {", "  pool {", `    addrs = ${poolRange(c.pool)}`, "  }", "}"]),
    "secrets {",
    "  ike-lab {",
    `    id-1 = ${c.localId}`,
    `    id-2 = ${c.remoteId}`,
    `    secret = 0s${c.psk}`,
    "  }",
    "}",
    "",
  ].join("\n");
}

// `ip netns exec` already runs the program in a mount namespace of its own
// (slave to the host's), so a mount made here is seen by charon alone. charon
// writes /var/run/charon.pid (compiled in, no option) and refuses to start
// while another charon's pid is there: it gets its own /run. The lab's run
// directory, when it lives under /run, is bound back at its own path so that
// charon finds its config and socket where the harness put them. A fixed
// script: every path reaches it as an argument, never as script text.
const PRIVATE_RUN_SCRIPT = 'p=$1; k=$2; shift 2; { [ -z "$k" ] || mount --bind -- "$k" "$p${k#/run}"; } && mount --rbind -- "$p" /run && exec "$@"';

/**
 * argv running `argv` with `privateRun` mounted over /run. `keep` (a real path
 * under /run, or "") stays visible; the caller creates `privateRun + keep without /run`.
 */
export function privateRunArgv(privateRun: string, keep: string, argv: readonly string[]): string[] {
  if (keep !== "" && !keep.startsWith("/run/")) throw new Error(`privateRunArgv: ${keep} is not under /run`);
  return ["sh", "-c", PRIVATE_RUN_SCRIPT, "vpnlab-private-run", privateRun, keep, ...argv];
}

/** The mount point inside the private /run that shows `keep` (see privateRunArgv). */
export function keptMountPoint(privateRun: string, keep: string): string {
  return path.join(privateRun, keep.slice("/run".length));
}

/** swanctl against one charon: its socket, its strongswan.conf (plugins), its SWANCTL_DIR — nothing of /etc. */
export function swanctlArgv(p: CharonPaths, args: readonly string[]): string[] {
  return ["env", `STRONGSWAN_CONF=${p.conf}`, `SWANCTL_DIR=${p.swanctlDir}`, "swanctl", ...args, "--uri", p.viciUri];
}
