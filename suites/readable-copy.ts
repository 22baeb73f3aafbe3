// `vpnlab check` as nobody must read the checkout. A clone in a 0700 directory
// (`mktemp -d`) is not readable to nobody, so those tests then run check from
// a world-readable copy of only what it loads: bin/vpnlab, package.json,
// schema/, dist/harness, the node_modules packages check requires (found by
// running the same checks as root), and the topology files given to it.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Whether the user `asUser` (an argv prefix, e.g. setpriv --reuid=65534 ...) can read every one of `files`. */
export function canRead(asUser: readonly string[], files: readonly string[]): boolean {
  return files.every((f) => spawnSync(asUser[0], [...asUser.slice(1), "test", "-r", f], { stdio: "ignore" }).status === 0);
}

/** The node_modules package directories the CLI requires while running each of `argvs` (in one child, as the current user). */
export function packagesLoaded(root: string, argvs: readonly string[][], scratch: string): string[] {
  const out = path.join(scratch, "loaded.json");
  const script = `
    const cli = require(${JSON.stringify(path.join(root, "dist", "harness", "cli.js"))});
    (async () => {
      for (const argv of ${JSON.stringify(argvs)}) await cli.dispatch(argv);
      require("node:fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache)));
    })();`;
  const r = spawnSync(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "pipe"], cwd: root });
  if (!fs.existsSync(out)) throw new Error(`listing what check loads failed (exit ${r.status}): ${r.stderr.toString().slice(0, 500)}`);
  const files = JSON.parse(fs.readFileSync(out, "utf8")) as string[];
  fs.rmSync(out);
  const nm = path.join(root, "node_modules") + path.sep;
  const pkgs = new Set<string>();
  for (const f of files) {
    if (!f.startsWith(nm)) continue;
    const parts = f.slice(nm.length).split(path.sep);
    pkgs.add(path.join(nm, ...(parts[0].startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1))));
  }
  return [...pkgs].sort();
}

/**
 * A copy of what `vpnlab check` needs from `root`, under `dest` (created, mode 0755), readable by anyone.
 * `extra`: further files or directories of the checkout (topologies, fixtures), copied to the same relative place.
 */
export function readableCheckout(root: string, dest: string, packages: readonly string[], extra: readonly string[]): string {
  fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
  fs.chmodSync(dest, 0o755);
  const parts = ["bin/vpnlab", "package.json", "schema", "dist/harness", ...packages.map((p) => path.relative(root, p)), ...extra.map((p) => path.relative(root, p))];
  for (const rel of parts) {
    const src = path.join(root, rel);
    if (!fs.existsSync(src)) continue;
    fs.cpSync(src, path.join(dest, rel), { recursive: true });
  }
  // every directory on the way readable and searchable, every file readable (a 0700 umask may have made them private)
  const open = (p: string): void => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.mode | (st.isDirectory() ? 0o555 : 0o444));
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) open(path.join(p, e));
  };
  open(dest);
  return dest;
}
