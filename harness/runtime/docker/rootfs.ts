// The Debian root filesystem of the base image: the host's release and the
// mirror its apt uses, debootstrap into a temp dir, and the checks that the
// host's Node binary and native addon will run on the result (glibc, ldd).
import { findProgram } from "../../host/programs";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Progress } from "./progress";
import { removeTree, type Scratch } from "./scratch";

/** What the topologies run on a node (the same programs .ci/run installs on the host). */
export const BASE_PACKAGES = [
  "iproute2", "nftables", "haproxy", "tcpdump", "procps", "iputils-ping", "conntrack", "ca-certificates", "openssl",
  "ocserv", "openconnect", "gnutls-bin",
  "strongswan-charon", "strongswan-swanctl", "libstrongswan-standard-plugins", "libcharon-extra-plugins",
] as const;

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
}

/** The entries of an apt sources file, one-line (`deb URI SUITE COMP...`) or deb822 (`URIs:`/`Suites:`), deb only. */
export function parseAptSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  if (/^\s*(Types|URIs)\s*:/im.test(text)) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string) =>
        (stanza.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, "im"))?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
      if (stanza.match(/^\s*Enabled\s*:\s*no\s*$/im)) continue;
      if (!field("Types").includes("deb")) continue;
      out.push({ uris: field("URIs"), suites: field("Suites"), components: field("Components") });
    }
    return out;
  }
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const words = line.replace(/\[[^\]]*\]\s*/, "").split(/\s+/); // drop `[arch=amd64 signed-by=...]`
    if (words[0] !== "deb" || words.length < 4) continue;
    out.push({ uris: [words[1]], suites: [words[2]], components: words.slice(3) });
  }
  return out;
}

/** The mirror apt uses for SUITE's main component (not -security, not -updates). */
export function pickMirror(sources: readonly AptSource[], suite: string): string | undefined {
  for (const s of sources) {
    if (s.suites.includes(suite) && s.components.includes("main")) return s.uris[0]?.replace(/\/+$/, "");
  }
  return undefined;
}

export interface HostRelease {
  suite: string;
  mirror: string;
}

/** The host's Debian release and the mirror its apt uses for it. */
export function hostRelease(mirrorOverride?: string): HostRelease {
  const osRelease = readOr("/etc/os-release");
  const id = osRelease.match(/^ID=(.*)$/m)?.[1]?.replace(/"/g, "");
  const codename = osRelease.match(/^VERSION_CODENAME=(.*)$/m)?.[1]?.replace(/"/g, "");
  if (id !== "debian" || !codename) {
    throw new Error(`the node image is built from Debian with the host's release, but this host is ${id ?? "unknown"} ${codename ?? ""}: build on Debian, or use --base IMAGE where a registry is reachable`);
  }
  if (mirrorOverride) return { suite: codename, mirror: mirrorOverride.replace(/\/+$/, "") };
  const files = ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").filter((f) => /\.(list|sources)$/.test(f)).map((f) => `/etc/apt/sources.list.d/${f}`)];
  const sources = files.flatMap((f) => parseAptSources(readOr(f)));
  const mirror = pickMirror(sources, codename);
  if (!mirror) throw new Error(`no Debian mirror for ${codename} main in ${files.join(", ")}: give --mirror URL`);
  return { suite: codename, mirror };
}

export function readOr(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** The shared libraries `ldd` names with a path, by file name (the vdso has none). */
export function lddLibraries(lddOutput: string): string[] {
  const libs: string[] = [];
  for (const line of lddOutput.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.push(path.basename(m[1]));
    else if (/not found/.test(line)) libs.push(line.trim().split(/\s+/)[0]);
  }
  return libs;
}

/** The libc6 version recorded in a dpkg status file ("2.36"), if any. */
export function glibcOfDpkgStatus(status: string): string | undefined {
  const stanza = status.split(/\n\n/).find((s) => /^Package: libc6$/m.test(s));
  return stanza?.match(/^Version:\s*(\d+\.\d+)/m)?.[1];
}

/** a < b for dotted numeric versions ("2.31" < "2.36"). */
export function versionLess(a: string, b: string): boolean {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  }
  return false;
}

/** debootstrap SUITE from MIRROR into a temp dir, then publish it as CACHED/rootfs (with CACHED/complete) in one rename. */
export async function debootstrap(suite: string, mirror: string, cached: string, progress: Progress, scratch: Scratch): Promise<void> {
  if (!findProgram("debootstrap")) {
    throw new Error("debootstrap not found: apt-get install debootstrap (it builds the image's root filesystem from Debian's packages)");
  }
  await checkMirror(mirror, suite);
  const work = scratch.dir("base");
  const target = path.join(work, "rootfs");
  const argv = ["debootstrap", "--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, suite, target, mirror];
  progress.begin("base: debootstrap", `debian ${suite} from ${mirror}`);
  const log: string[] = [];
  const ticker = setInterval(() => progress.update(debSize(target)), 1000);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      // its own process group: on a signal, debootstrap and its dpkg/chroot children end together
      const c = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
      scratch.children.add(c);
      const onLine = (b: Buffer) => {
        for (const line of b.toString().split("\n").filter(Boolean)) {
          log.push(line);
          if (log.length > 40) log.shift();
          progress.update(debSize(target), line.replace(/^I: /, ""));
        }
      };
      c.stdout?.on("data", onLine);
      c.stderr?.on("data", onLine);
      c.on("error", reject);
      c.on("exit", (code, signal) => {
        scratch.children.delete(c);
        resolve(code ?? (signal ? 128 : 1));
      });
    });
    if (scratch.abort.signal.aborted) throw new Error("interrupted");
    if (code !== 0) {
      throw new Error(`debootstrap failed (exit ${code}): ${argv.join(" ")}\n  ${log.slice(-8).join("\n  ")}\n  (full log: ${target}/debootstrap/debootstrap.log)`);
    }
  } finally {
    clearInterval(ticker);
  }
  progress.end("done");
  // the downloaded .debs are not part of the tree we keep
  for (const f of listDir(path.join(target, "var/cache/apt/archives"))) {
    if (f.endsWith(".deb")) fs.rmSync(path.join(target, "var/cache/apt/archives", f));
  }
  // publish the finished tree in one rename: a cache dir is either complete or absent
  if (fs.existsSync(path.join(cached, "complete")) && fs.existsSync(path.join(cached, "rootfs"))) {
    // a build beside this one published the same tree first: keep theirs (the same inputs), drop ours with the scratch dir
    return;
  }
  removeTree(cached);
  fs.mkdirSync(cached, { recursive: true });
  fs.renameSync(target, path.join(cached, "rootfs"));
  fs.writeFileSync(path.join(cached, "complete"), `${new Date().toISOString()} ${argv.join(" ")}\n`);
}

/** Bytes of .deb files debootstrap has fetched so far: the progress of its download. */
function debSize(target: string): number {
  let n = 0;
  const dir = path.join(target, "var/cache/apt/archives");
  for (const f of listDir(dir)) {
    try {
      n += fs.statSync(path.join(dir, f)).size;
    } catch {
      // moved away meanwhile
    }
  }
  return n;
}

export async function checkMirror(mirror: string, suite: string): Promise<void> {
  const url = `${mirror}/dists/${suite}/Release`;
  try {
    const r = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(15_000) });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
  } catch (e) {
    const why = ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
    throw new Error(`Debian mirror unreachable: ${url} (${why}); the image is built from Debian's packages — give --mirror URL of a reachable (or local) mirror`);
  }
}

/** The host's Node binary and addon need at most the host's glibc: the tree must have that or newer. */
export function checkGlibc(rootfs: string): void {
  const host = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  const tree = glibcOfDpkgStatus(readOr(path.join(rootfs, "var/lib/dpkg/status")));
  if (!tree) throw new Error(`no libc6 in ${rootfs}: the debootstrap tree is incomplete; rerun with --force`);
  if (host && versionLess(tree, host)) {
    throw new Error(`the image's glibc ${tree} is older than the host's ${host}: the host's Node binary and addon would not load in it`);
  }
}

/** Every library the binaries link must exist in the tree. */
export function checkLibraries(rootfs: string, binaries: string[]): void {
  const dirs = ["lib", "lib64", "usr/lib", "usr/lib64", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"];
  for (const bin of binaries) {
    const r = spawnSyncText(["ldd", bin]);
    const missing = lddLibraries(r).filter((lib) => !dirs.some((d) => fs.existsSync(path.join(rootfs, d, lib))));
    if (missing.length > 0) throw new Error(`${bin} needs ${missing.join(", ")}, which the image does not have: add their packages to BASE_PACKAGES`);
  }
}

function spawnSyncText(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}
