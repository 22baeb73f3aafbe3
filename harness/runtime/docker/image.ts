// The node image of the Docker runtime, built with no container registry:
//   vpnlab-base:<hash>  a Debian root filesystem made by debootstrap from the host's own
//                       Debian mirror (same release as the host, so the host's Node binary
//                       and native addon find the glibc they were linked against), imported
//                       as an image; or, where a registry is reachable, `--base IMAGE` plus apt.
//   vpnlab-node:<hash>  FROM that base: the host's Node binary, dist/, the production
//                       node_modules and the native addon under /opt/vpnlab.
// Each tag is a hash of its inputs: a layer is rebuilt only when they change. The
// debootstrap tree is cached under /var/cache/vpnlab, so rebuilding after an image
// removal does not download again (rootfs.ts). Docker tags an image only once it is
// complete; what a build creates besides (temp dirs, debootstrap) is removed on failure
// and on signals (scratch.ts).
import { PACKAGE_ROOT } from "../../host/paths";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { registerTeardown } from "../../cleanup";
import { engineOf } from "./engines";
import { Progress } from "./progress";
import { BASE_PACKAGES, checkGlibc, checkLibraries, debootstrap, hostRelease } from "./rootfs";
import { CACHE_DIR, Scratch } from "./scratch";

/** Where the application lives in the node image (PACKAGE_ROOT there). */
export const IMAGE_APP_DIR = "/opt/vpnlab";
/** The Node binary in the node image (also first on the image's PATH as `node`). */
export const IMAGE_NODE = `${IMAGE_APP_DIR}/bin/node`;
export const BASE_REPO = "vpnlab-base";
export const NODE_REPO = "vpnlab-node";
/** Labels on both images: what they are and what they were built from. */
export const LABEL_KIND = "vpnlab.image";
export const LABEL_APP = "vpnlab.app";
export const LABEL_BASE = "vpnlab.base";


// ---------------------------------------------------------------- pure parts

export function shortHash(parts: readonly string[]): string {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(`${p.length}:${p}\n`); // length-prefixed: ("ab","c") ≠ ("a","bc")
  return h.digest("hex").slice(0, 12);
}

/** The top-level package dirs of the production dependencies (nested ones come with their parent). */
export function productionPackages(lock: { packages?: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean; link?: boolean }> }): string[] {
  return Object.entries(lock.packages ?? {})
    .filter(([k, v]) => k.startsWith("node_modules/") && !v.dev && !v.devOptional && !v.link)
    .map(([k]) => k)
    .filter((k) => !k.slice("node_modules/".length).includes("/node_modules/"))
    .sort();
}

/** The node layer, FROM a local tag: only COPY/ENV/LABEL plus one check that Node loads the addon. */
export function nodeDockerfile(baseTag: string, appHash: string): string {
  const addon = `${IMAGE_APP_DIR}/build/Release/vpnlab_native.node`;
  return [
    `FROM ${baseTag}`,
    `COPY opt/vpnlab ${IMAGE_APP_DIR}`,
    `ENV PATH=${IMAGE_APP_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    // fail the build, not the first lab, when the binary or the addon cannot load here
    `RUN ["${IMAGE_NODE}", "-e", "require(${JSON.stringify(addon).replace(/"/g, "'")})"]`,
    `LABEL ${LABEL_KIND}=node ${LABEL_APP}=${appHash} ${LABEL_BASE}=${baseTag}`,
    // a node container only has to stay up: the runtime execs the node's programs in it
    `CMD ["sleep", "infinity"]`,
    "",
  ].join("\n");
}

// Docker's reference grammar: [host[:port]/]name[/name...][:tag][@algo:hex]; names lowercase. No whitespace
// anywhere, so the reference stays one token of the Dockerfile's FROM line (a newline would add an instruction).
const NAME_PART = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REF_RE = new RegExp(
  `^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?` +
    `${NAME_PART}(?:/${NAME_PART})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-f]{32,})?$`,
);

/** Why `image` is not an image reference (`--base`), or undefined when it is one. Pure. */
export function badImageRef(image: string): string | undefined {
  if (IMAGE_REF_RE.test(image)) return undefined;
  return `--base ${JSON.stringify(image)} is not an image reference: use [registry[:port]/]name[:tag][@sha256:digest], lowercase name (e.g. debian:bookworm-slim, registry.example.net:5000/os/debian:12)`;
}

/** With `--base IMAGE` (a registry is reachable): the OS packages come from apt in a build step. */
export function aptBaseDockerfile(image: string, packages: readonly string[], key: string): string {
  return [
    `FROM ${image}`,
    `RUN ["/bin/sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(" ")} && rm -rf /var/lib/apt/lists/*"]`,
    `LABEL ${LABEL_KIND}=base vpnlab.inputs=${key}`,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- engine

/**
 * How long a query waits for the engine's answer (list, inspect, ping): an engine that
 * accepts the connection and never answers must not hang gc, ls or down. Image builds stream
 * for minutes with quiet spells, so they connect with none (0).
 */
export const ENGINE_CALL_TIMEOUT_MS = 10_000;
/** How long a container's create, start or forced remove may take: under CI load these take seconds, and 10 s gave false lab errors. */
export const ENGINE_LIFECYCLE_TIMEOUT_MS = 60_000;

/** The engine URL each client was made for: an error about a client names its engine. */
const urlOfClient = new WeakMap<Dockerode, string>();

/** A dockerode client for an engine URL (see engines.ts); none: DOCKER_HOST, else the default socket. */
export async function connectEngine(url?: string, { timeoutMs = ENGINE_CALL_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<Dockerode> {
  const Docker = (await import("dockerode")).default;
  const engine = engineOf(url);
  // docker-modem destroys a request whose socket stays idle this long (0: never)
  const docker = new Docker({ ...engine.options, ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}) });
  urlOfClient.set(docker, engine.url);
  return docker;
}

/** The engine's URL as results name it: the one given, else the one the client was made for, else the default (engineOf). */
export function engineName(url?: string, docker?: Dockerode): string {
  return url ? engineOf(url).url : ((docker && urlOfClient.get(docker)) ?? engineOf().url);
}

/** The engine answers, or an error naming it and saying how to start one (the one ping every caller uses). */
export async function pingEngine(docker: Dockerode, url?: string): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`no Docker engine at ${engineName(url, docker)} (${why}): start dockerd: scripts/dockerd.sh NAME (then --engine unix:///run/vpnlab-NAME/docker.sock or DOCKER_HOST), or systemctl start docker`);
  }
}

async function imageExists(docker: Dockerode, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

/** Wait for a build/import response stream to end; its `error` messages fail it. */
function follow(docker: Dockerode, stream: NodeJS.ReadableStream, onMessage: (m: { stream?: string; status?: string }) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = (output ?? []).find((m) => m.error || m.errorDetail);
        if (err) reject(err);
        else if (failed) reject(new Error((failed.errorDetail?.message ?? failed.error ?? "failed").trim()));
        else resolve();
      },
      onMessage,
    );
  });
}

// ---------------------------------------------------------------- inputs

function hashFile(h: crypto.Hash, file: string): void {
  h.update(fs.readFileSync(file));
}

/** The compiled program and the schema it reads; the tests, suites and benches never run in a node. */
const APP_TREES = ["dist/harness", "schema"];

/** Whether a file of APP_TREES goes into the image (and into its hash): not a compiled unit test. */
export function appFile(name: string): boolean {
  return !/\.test\.js(\.map)?$/.test(name);
}

/** Every regular file (and symlink target) under dir that appFile keeps, sorted, into the hash. */
function hashTree(h: crypto.Hash, root: string, rel = ""): void {
  const dir = path.join(root, rel);
  for (const name of fs.readdirSync(dir).sort()) {
    if (!appFile(name)) continue;
    const r = path.join(rel, name);
    const st = fs.lstatSync(path.join(root, r));
    if (st.isDirectory()) hashTree(h, root, r);
    else if (st.isSymbolicLink()) h.update(`L ${r} ${fs.readlinkSync(path.join(root, r))}\n`);
    else if (st.isFile()) {
      h.update(`F ${r} ${st.mode & 0o111 ? "x" : "-"}\n`);
      hashFile(h, path.join(root, r));
    }
  }
}

export interface AppInputs {
  /** Hash of the node binary, dist/, package.json, package-lock.json, schema/ and the addon. */
  hash: string;
  root: string;
  nodeBinary: string;
  packages: string[];
}

let appInputsMemo: Promise<AppInputs> | undefined;

/** What the node layer copies, and its hash (computed once per process: the files do not change under a run). */
export function appInputs(root = PACKAGE_ROOT): Promise<AppInputs> {
  if (root !== PACKAGE_ROOT) return Promise.resolve().then(() => computeAppInputs(root));
  appInputsMemo ??= Promise.resolve().then(() => computeAppInputs(root));
  return appInputsMemo;
}

function computeAppInputs(root: string): AppInputs {
  const need = (p: string, what: string) => {
    if (!fs.existsSync(path.join(root, p))) throw new Error(`${path.join(root, p)} missing: ${what}`);
  };
  need("dist/harness", "build first (npx tsc -p .)");
  need("package-lock.json", "a vpnlab checkout has one");
  need("build/Release/vpnlab_native.node", "build the native addon (npm ci, or npx node-gyp rebuild)");
  const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as Parameters<typeof productionPackages>[0];
  const packages = productionPackages(lock).filter((p) => fs.existsSync(path.join(root, p))); // an optional one may be absent
  const h = crypto.createHash("sha256");
  h.update("node\n");
  hashFile(h, process.execPath);
  for (const f of ["package.json", "package-lock.json", "build/Release/vpnlab_native.node"]) {
    h.update(`F ${f}\n`);
    hashFile(h, path.join(root, f));
  }
  for (const d of APP_TREES) if (fs.existsSync(path.join(root, d))) {
    h.update(`D ${d}\n`);
    hashTree(h, path.join(root, d));
  }
  return { hash: h.digest("hex").slice(0, 12), root, nodeBinary: process.execPath, packages };
}

/** The debootstrap tree's inputs: the cache dir's name. */
export function treeKey(suite: string, mirror: string, packages: readonly string[] = BASE_PACKAGES): string {
  return shortHash(["debootstrap-minbase", suite, mirror, ...[...packages].sort()]);
}

/** What the import leaves out of the debootstrap tree: mount points' contents, docs, manuals, translations. */
export const IMPORT_EXCLUDES = [
  "./dev/*", "./proc/*", "./sys/*", "./run/*", "./tmp/*", "./debootstrap",
  "./usr/share/doc/*", "./usr/share/man/*", "./usr/share/info/*", "./usr/share/locale/*", "./var/lib/apt/lists/*", "./var/cache/apt/*.bin",
];

/** The base image's inputs: the tree and what the import leaves out. */
export function baseKey(suite: string, mirror: string, packages: readonly string[] = BASE_PACKAGES): string {
  return shortHash(["import", treeKey(suite, mirror, packages), ...IMPORT_EXCLUDES]);
}

export function nodeTagFor(baseTag: string, appHash: string): string {
  return `${NODE_REPO}:${shortHash([baseTag, appHash])}`;
}

// ---------------------------------------------------------------- look-ups

/**
 * The vpnlab-node tag built from the current inputs on this engine; an error naming
 * `vpnlab image build` when there is none. Any base qualifies (a custom --mirror or
 * --base built it); the default base is preferred.
 */
export async function imageRef(engine?: string | Dockerode): Promise<string> {
  const url = typeof engine === "string" ? engine : undefined;
  const docker = typeof engine === "object" ? engine : await connectEngine(url);
  await pingEngine(docker, url);
  const app = await appInputs();
  const found = await currentImages(docker, app.hash);
  if (found.length === 0) {
    const name = engineName(url, docker);
    throw new Error(`no ${NODE_REPO} image for the current build (inputs ${app.hash}) on ${name}: run \`vpnlab image build --engine ${name}\``);
  }
  let preferred: string | undefined;
  try {
    const { suite, mirror } = hostRelease();
    preferred = nodeTagFor(`${BASE_REPO}:${baseKey(suite, mirror)}`, app.hash);
  } catch {
    // not Debian: whichever base was used
  }
  return found.includes(preferred ?? "") ? (preferred as string) : found[0];
}

/** vpnlab-node tags carrying this app hash, newest first. */
async function currentImages(docker: Dockerode, appHash: string): Promise<string[]> {
  const images = await docker.listImages({ filters: JSON.stringify({ label: [`${LABEL_KIND}=node`, `${LABEL_APP}=${appHash}`] }) });
  return images
    .sort((a, b) => b.Created - a.Created)
    .flatMap((i) => i.RepoTags ?? [])
    .filter((t) => t.startsWith(`${NODE_REPO}:`));
}

export interface DockerStatus {
  engine: string;
  /** The engine's version, when it answered. */
  version?: string;
  unreachable?: string;
  /** The current node image's tag, or why there is none. */
  image?: string;
  imageMissing?: string;
}

/** For `vpnlab doctor`: does the engine answer (in 5 s), its version, and is the node image current on it. */
export async function dockerStatus(url?: string): Promise<DockerStatus> {
  const engine = engineName(url);
  const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer in 5 s")), 5000).unref())]);
  let docker: Dockerode;
  try {
    docker = await connectEngine(url);
    await within(pingEngine(docker, url));
  } catch (e) {
    return { engine, unreachable: (e as Error).message };
  }
  const version = (await within(docker.version())).Version;
  try {
    return { engine, version, image: await imageRef(docker) };
  } catch (e) {
    return { engine, version, imageMissing: (e as Error).message };
  }
}

/** The image for tests and CI: the current one, built (with plain progress lines on stderr) when missing. */
export async function ensureImage(engine?: string): Promise<string> {
  try {
    return await imageRef(engine);
  } catch (e) {
    if (!/vpnlab image build/.test((e as Error).message)) throw e;
  }
  return buildNodeImage({ engine, progress: new Progress((s) => process.stderr.write(s), false) });
}

// ---------------------------------------------------------------- build

export interface BuildOptions {
  engine?: string;
  force?: boolean;
  /** A registry image to start from instead of debootstrap. */
  base?: string;
  mirror?: string;
  progress: Progress;
}

/** Build (or find) the base and node images on one engine; returns the node tag. */
export async function buildNodeImage(opts: BuildOptions): Promise<string> {
  const docker = await connectEngine(opts.engine, { timeoutMs: 0 });
  await pingEngine(docker, opts.engine);
  const scratch = new Scratch();
  const unregister = registerTeardown(() => scratch.cleanup());
  try {
    const app = await appInputs();
    const base = opts.base ? await aptBase(docker, opts, scratch) : await debootstrapBase(docker, opts, scratch);
    const tag = nodeTagFor(base.tag, app.hash);
    if (!opts.force && (await imageExists(docker, tag))) {
      opts.progress.say(`node: ${tag} is current (inputs ${app.hash})`);
      return tag;
    }
    if (base.rootfs) checkLibraries(base.rootfs, [app.nodeBinary, path.join(app.root, "build/Release/vpnlab_native.node")]);
    await buildNodeLayer(docker, tag, base.tag, app, opts.progress, scratch);
    await pruneOld(docker, tag, opts.progress);
    return tag;
  } finally {
    await scratch.cleanup();
    unregister();
  }
}

interface Base {
  tag: string;
  /** The debootstrap tree, when the base came from one (for the ldd check). */
  rootfs?: string;
}

async function debootstrapBase(docker: Dockerode, opts: BuildOptions, scratch: Scratch): Promise<Base> {
  const { suite, mirror } = hostRelease(opts.mirror);
  const key = baseKey(suite, mirror);
  const tag = `${BASE_REPO}:${key}`;
  const cached = path.join(CACHE_DIR, `debootstrap-${treeKey(suite, mirror)}`);
  const rootfs = path.join(cached, "rootfs");
  const complete = path.join(cached, "complete");
  const haveTree = !opts.force && fs.existsSync(complete);
  if (!opts.force && (await imageExists(docker, tag))) {
    opts.progress.say(`base: ${tag} is current (debian ${suite} from ${mirror})`);
    return { tag, rootfs: haveTree ? rootfs : undefined };
  }
  if (!haveTree) {
    // --force: the old tree no longer counts (if interrupted, the next build debootstraps again)
    if (opts.force) fs.rmSync(complete, { force: true });
    await debootstrap(suite, mirror, cached, opts.progress, scratch);
  } else {
    opts.progress.say(`base: debootstrap tree cached in ${cached}`);
  }
  checkGlibc(rootfs);
  await importRootfs(docker, rootfs, tag, key, opts.progress, scratch);
  return { tag, rootfs };
}

/** A tar of dir from GNU tar (device nodes, hard links, numeric owners and file capabilities as they are). */
function tarOf(dir: string, scratch: Scratch, exclude: string[] = []): { stream: Readable; done: Promise<void> } {
  const argv = ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=security.capability", ...exclude.map((e) => `--exclude=${e}`), "-C", dir, "-c", "."];
  const c = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  scratch.children.add(c);
  let stderr = "";
  c.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<void>((resolve, reject) => {
    c.on("error", reject);
    c.on("exit", (code) => {
      scratch.children.delete(c);
      if (code === 0) resolve();
      else reject(new Error(`tar of ${dir} failed (exit ${code}): ${stderr.trim().split("\n").slice(0, 4).join("; ")}`));
    });
  });
  done.catch(() => undefined); // awaited by the caller; no unhandled rejection meanwhile
  return { stream: c.stdout as Readable, done };
}

function countBytes(stream: Readable, onBytes: (n: number) => void): void {
  let n = 0;
  stream.on("data", (b: Buffer) => onBytes((n += b.length)));
}

async function importRootfs(docker: Dockerode, rootfs: string, tag: string, key: string, progress: Progress, scratch: Scratch): Promise<void> {
  progress.begin("base: import", tag);
  const tar = tarOf(rootfs, scratch, IMPORT_EXCLUDES);
  countBytes(tar.stream, (n) => progress.update(n));
  const [repo, version] = tag.split(":");
  const res = await docker.importImage(tar.stream, {
    repo,
    tag: version,
    changes: [`LABEL ${LABEL_KIND}=base vpnlab.inputs=${key}`, 'CMD ["/bin/bash"]'],
    abortSignal: scratch.abort.signal,
  } as object);
  await follow(docker, res, () => undefined);
  await tar.done;
  if (!(await imageExists(docker, tag))) throw new Error(`the engine took the root filesystem but has no ${tag}`);
  progress.end(`imported ${tag}`);
}

async function aptBase(docker: Dockerode, opts: BuildOptions, scratch: Scratch): Promise<Base> {
  const image = opts.base as string;
  const key = shortHash(["apt-base", image, ...[...BASE_PACKAGES].sort()]);
  const tag = `${BASE_REPO}:${key}`;
  if (!opts.force && (await imageExists(docker, tag))) {
    opts.progress.say(`base: ${tag} is current (${image} + apt)`);
    return { tag };
  }
  const ctx = scratch.dir("ctx");
  fs.writeFileSync(path.join(ctx, "Dockerfile"), aptBaseDockerfile(image, BASE_PACKAGES, key));
  // apt needs the network; "host" gives the build step the host's without changing it
  await dockerBuild(docker, ctx, tag, "host", "base: apt", opts.progress, scratch);
  return { tag };
}

async function buildNodeLayer(docker: Dockerode, tag: string, baseTag: string, app: AppInputs, progress: Progress, scratch: Scratch): Promise<void> {
  const ctx = scratch.dir("ctx");
  progress.begin("node: context", `${app.packages.length} production packages`);
  const dst = path.join(ctx, "opt/vpnlab");
  fs.mkdirSync(path.join(dst, "bin"), { recursive: true });
  fs.copyFileSync(app.nodeBinary, path.join(dst, "bin/node"));
  fs.chmodSync(path.join(dst, "bin/node"), 0o755);
  const copies = [...APP_TREES, "package.json", "package-lock.json", "build/Release/vpnlab_native.node", ...app.packages];
  for (const rel of copies) {
    const src = path.join(app.root, rel);
    if (!fs.existsSync(src)) continue;
    fs.mkdirSync(path.dirname(path.join(dst, rel)), { recursive: true });
    const filter = APP_TREES.includes(rel) ? (f: string) => appFile(path.basename(f)) : undefined;
    fs.cpSync(src, path.join(dst, rel), { recursive: true, verbatimSymlinks: true, filter });
  }
  fs.writeFileSync(path.join(ctx, "Dockerfile"), nodeDockerfile(baseTag, app.hash));
  progress.end("ready");
  await dockerBuild(docker, ctx, tag, "none", "node: build", progress, scratch);
}

/** docker build of a context dir; the tag exists only if every step succeeded. */
async function dockerBuild(docker: Dockerode, ctx: string, tag: string, networkmode: string, stage: string, progress: Progress, scratch: Scratch): Promise<void> {
  progress.begin(stage, tag);
  const tar = tarOf(ctx, scratch);
  let sent = 0;
  countBytes(tar.stream, (n) => progress.update((sent = n)));
  const res = await docker.buildImage(tar.stream, { t: tag, rm: true, forcerm: true, networkmode, abortSignal: scratch.abort.signal });
  await follow(docker, res, (m) => {
    const line = (m.stream ?? m.status ?? "").trim();
    if (line) progress.update(sent, line.split("\n")[0]);
  });
  await tar.done;
  if (!(await imageExists(docker, tag))) throw new Error(`the build ended without ${tag}`);
  progress.end(`built ${tag}`);
}

/** Node images kept besides the newest: a run that resolved its tag a moment ago still finds it. */
const KEEP_NODE_IMAGES = 3;

/**
 * Every dist/ change makes a new node image: remove the older ones. Never forced: the
 * engine refuses an image a container uses, and that one simply stays. (Bases change
 * rarely and are left alone.)
 */
async function pruneOld(docker: Dockerode, nodeTag: string, progress: Progress): Promise<void> {
  const tagsOf = async (kind: string) =>
    (await docker.listImages({ filters: JSON.stringify({ label: [`${LABEL_KIND}=${kind}`] }) }))
      .sort((a, b) => b.Created - a.Created)
      .flatMap((i) => i.RepoTags ?? [])
      .filter((t) => t.startsWith(`${NODE_REPO}:`));
  const old = (await tagsOf("node")).filter((t) => t !== nodeTag).slice(KEEP_NODE_IMAGES - 1);
  const removed: string[] = [];
  for (const t of old) {
    try {
      await docker.getImage(t).remove();
      removed.push(t);
    } catch {
      // in use (a container, a child image): it stays
    }
  }
  if (removed.length > 0) progress.say(`removed older images: ${removed.join(", ")}`);
}

/** The size of an image on the engine (for the build's last line). */
export async function imageSize(engine: string | undefined, tag: string): Promise<number> {
  const docker = await connectEngine(engine);
  return (await docker.getImage(tag).inspect()).Size;
}
