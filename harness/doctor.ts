// `vpnlab doctor`: what this host can do, each capability found or missing
// and what to install. Capabilities are probed, not assumed.
import { findProgram } from "./host/programs";
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "./exec";
import { probeNetem } from "./impair/backend";
import type { HostConfig } from "./config";
import type { HostCheck, NodeExec } from "./runtime/runtime";
import { removeNamespaces } from "./runtime/namespaces";
import { newLabId, processStart, removeState, writeState } from "./runtime/state";
import type { RequiredFile } from "./vpn/impl";
import { IMPLEMENTATIONS } from "./vpn/impls";

/** The Debian package of each program an implementation declares (where the names differ). */
const PACKAGE_OF: Record<string, string> = {
  charon: "strongswan-charon libstrongswan-standard-plugins libcharon-extra-plugins",
  swanctl: "strongswan-swanctl",
  occtl: "ocserv",
  certtool: "gnutls-bin",
};

/** A file an implementation declares it needs (ImplSpec.files); `root` stands for / (tests). */
export function fileCheck(f: RequiredFile, impl: string, root = "/"): Check {
  const where = path.join(root, f.path);
  const ok = fs.existsSync(where);
  return {
    name: f.name,
    ok,
    detail: ok ? where : `${f.what}: ${where} missing`,
    fix: `apt-get install ${f.package} (for impl: ${impl})`,
    required: false,
  };
}

export type Check = HostCheck;

async function version(argv: string[]): Promise<string | undefined> {
  try {
    const r = await run(argv, { allowFailure: true, timeoutMs: 5000 });
    if (r.code !== 0) return undefined;
    return (r.stdout + r.stderr).trim().split("\n")[0];
  } catch {
    return undefined;
  }
}

/** Try netem for real (impair's own probe), on the loopback of a throwaway namespace — never on a host interface. */
async function probeNetemHere(): Promise<{ ok: boolean; detail: string }> {
  const labId = newLabId();
  const ns = `vl-${labId}-doctor`;
  const pid = process.pid;
  writeState({ labId, runtime: "netns", topology: "doctor", variant: "", file: "", ownerPid: pid, holder: "run", ownerStart: processStart(pid) ?? "", created: new Date().toISOString(), namespaces: [ns], pids: [] });
  const exec: NodeExec = { exec: (node, argv, opts) => run(["ip", "netns", "exec", node, ...argv], opts) };
  try {
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const r = await probeNetem(exec, ns, "lo");
    return r.available ? { ok: true, detail: "sch_netem works" } : { ok: false, detail: r.reason ?? "unavailable" };
  } catch (e) {
    return { ok: false, detail: (e as Error).message.split("\n")[0] };
  } finally {
    await removeNamespaces([ns]);
    removeState(labId);
  }
}

export interface DoctorOptions {
  /** The host's settings (--config, VPNLAB_CONFIG): where each runtime's labs would go. */
  config?: HostConfig;
}

export async function doctor(opts: DoctorOptions = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  const uid = process.getuid?.() ?? -1;
  add({ name: "root", ok: uid === 0, detail: `uid ${uid}`, fix: "run vpnlab as root (namespaces, raw sockets, nftables)", required: true });
  add({ name: "node", ok: Number(process.versions.node.split(".")[0]) >= 20, detail: process.version, fix: "Node.js 20 or newer", required: true });
  const ip = await version(["ip", "-V"]);
  add({ name: "iproute2", ok: !!ip, detail: ip ?? "ip not found", fix: "apt-get install iproute2", required: true });
  const nft = await version(["nft", "--version"]);
  add({ name: "nft", ok: !!nft, detail: nft ?? "nft not found", fix: "apt-get install nftables", required: true });
  const tun = fs.existsSync("/dev/net/tun");
  add({ name: "tun", ok: tun, detail: tun ? "/dev/net/tun" : "/dev/net/tun missing", fix: "modprobe tun (or give the container /dev/net/tun)", required: true });
  let raw = { ok: false, detail: "" };
  try {
    const native = await import("./native");
    const fd = native.rawSocket(6, true);
    native.closeFd(fd);
    raw = { ok: true, detail: "native addon loaded; raw TCP socket opened" };
  } catch (e) {
    raw = { ok: false, detail: (e as Error).message.split("\n")[0] };
  }
  add({ name: "raw sockets", ok: raw.ok, detail: raw.detail, fix: "npm install (builds the addon: needs g++, make, python3) and run as root (CAP_NET_RAW)", required: true });
  const haproxy = await version(["haproxy", "-v"]);
  add({ name: "haproxy", ok: !!haproxy, detail: haproxy ?? "haproxy not found", fix: "apt-get install haproxy (for `proxy: haproxy`)", required: false });
  const netem = uid === 0 && ip ? await probeNetemHere() : { ok: false, detail: "not probed (needs root and iproute2)" };
  add({ name: "netem", ok: netem.ok, detail: netem.detail, fix: "a kernel with sch_netem; without it nftables serves drops and vpnlab's userspace wire (TUN) serves everything else", required: false });
  // the wire needs a TUN device in the node and the native addon (both checked above) and nft marks + policy routing
  add({
    name: "impairment backends",
    ok: nft !== undefined && tun && raw.ok,
    detail: [netem.ok ? "netem" : "", nft ? "nftables (drops)" : "", tun && raw.ok && nft ? "wire (userspace, every impairment)" : ""].filter(Boolean).join(", ") || "none",
    fix: "nftables, /dev/net/tun and the native addon give the wire; sch_netem adds netem",
    required: false,
  });
  // what each runtime needs here, at each location the host is configured with (docker: every engine)
  const { allRuntimeModules } = await import("./runtime");
  for (const mod of await allRuntimeModules()) for (const c of await mod.doctorChecks(opts.config)) add(c);
  // the programs each registered VPN implementation runs on the nodes (its spec declares them)
  for (const entry of Object.values(IMPLEMENTATIONS)) {
    if (!entry) continue;
    for (const program of entry.spec.programs) {
      const where = findProgram(program);
      const pkg = PACKAGE_OF[program] ?? program;
      add({ name: program, ok: !!where, detail: where ?? `${program} not found`, fix: `apt-get install ${pkg} (for impl: ${entry.spec.name})`, required: false });
    }
    for (const f of entry.spec.files ?? []) add(fileCheck(f, entry.spec.name));
  }
  const tcpdump = findProgram("tcpdump");
  add({ name: "tcpdump", ok: !!tcpdump, detail: tcpdump ?? "tcpdump not found", fix: "apt-get install tcpdump (captures)", required: false });
  // the java `vpnlab report` would run allure with (JAVA_HOME first, as allure's launcher does)
  const { findJava } = await import("./report/generate");
  const javaBin = findJava();
  const java = javaBin ? await version([javaBin, "-version"]) : undefined;
  add({ name: "java", ok: !!java, detail: java ? `${java} (${javaBin})` : "java not found (JAVA_HOME, PATH)", fix: "apt-get install default-jre-headless (vpnlab report / nightly: the Allure HTML report)", required: false });
  return checks;
}
