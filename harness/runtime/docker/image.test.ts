import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dispatch } from "../../cli";
import {
  appInputs,
  aptBaseDockerfile,
  baseKey,
  checkMirror,
  connectEngine,
  dockerStatus,
  glibcOfDpkgStatus,
  lddLibraries,
  nodeDockerfile,
  parseAptSources,
  pickMirror,
  pingEngine,
  productionPackages,
  Progress,
  removeTree,
  treeKey,
  versionLess,
} from "./image";

describe("runtime/docker/image: inputs", () => {
  it("finds the host's mirror in deb822 and one-line sources, not -security or a third-party repo", () => {
    const deb822 = [
      "Types: deb",
      "URIs: http://deb.debian.org/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
      "",
      "Types: deb",
      "URIs: http://deb.debian.org/debian-security",
      "Suites: bookworm-security",
      "Components: main",
    ].join("\n");
    const oneLine = "# a comment\ndeb [signed-by=/k.gpg] https://packages.example.com/apt example-bookworm main\ndeb http://mirror.local/debian/ bookworm main contrib\n";
    expect(pickMirror(parseAptSources(deb822), "bookworm")).to.equal("http://deb.debian.org/debian");
    expect(pickMirror(parseAptSources(oneLine), "bookworm")).to.equal("http://mirror.local/debian");
    expect(pickMirror(parseAptSources(deb822), "trixie")).to.equal(undefined);
    expect(pickMirror(parseAptSources("Types: deb\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"), "bookworm")).to.equal(undefined);
  });

  it("keys the tree by suite, mirror and package set (not package order), and the base by the tree", () => {
    const k = treeKey("bookworm", "http://m/debian", ["b", "a"]);
    expect(k).to.match(/^[0-9a-f]{12}$/);
    expect(treeKey("bookworm", "http://m/debian", ["a", "b"])).to.equal(k);
    expect(treeKey("trixie", "http://m/debian", ["a", "b"])).to.not.equal(k);
    expect(treeKey("bookworm", "http://n/debian", ["a", "b"])).to.not.equal(k);
    expect(treeKey("bookworm", "http://m/debian", ["a", "b", "c"])).to.not.equal(k);
    expect(baseKey("bookworm", "http://m/debian", ["a", "b"])).to.not.equal(k);
  });

  it("copies the production packages only, each top-level dir once", () => {
    const lock = {
      packages: {
        "": {},
        "node_modules/yaml": {},
        "node_modules/mocha": { dev: true },
        "node_modules/mocha/node_modules/ms": { dev: true },
        "node_modules/tar-fs/node_modules/chownr": {},
        "node_modules/tar-fs": {},
        "node_modules/@grpc/grpc-js": {},
        "node_modules/cpu-features": { optional: true },
        "node_modules/fsevents": { devOptional: true },
      },
    };
    expect(productionPackages(lock)).to.deep.equal(["node_modules/@grpc/grpc-js", "node_modules/cpu-features", "node_modules/tar-fs", "node_modules/yaml"]);
  });

  it("hashes what goes into the node layer: a change in dist/harness or the addon changes it, a unit test's does not", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-image-"));
    try {
      fs.mkdirSync(path.join(root, "dist/harness"), { recursive: true });
      fs.mkdirSync(path.join(root, "build/Release"), { recursive: true });
      fs.mkdirSync(path.join(root, "node_modules/yaml"), { recursive: true });
      fs.writeFileSync(path.join(root, "package.json"), "{}");
      fs.writeFileSync(path.join(root, "package-lock.json"), JSON.stringify({ packages: { "node_modules/yaml": {}, "node_modules/gone": { optional: true } } }));
      fs.writeFileSync(path.join(root, "build/Release/vpnlab_native.node"), "addon 1");
      fs.writeFileSync(path.join(root, "dist/harness/lab.js"), "lab 1");
      const first = await appInputs(root);
      expect(first.packages).to.deep.equal(["node_modules/yaml"]);
      fs.writeFileSync(path.join(root, "dist/harness/lab.test.js"), "a test");
      expect((await appInputs(root)).hash).to.equal(first.hash);
      fs.writeFileSync(path.join(root, "dist/harness/lab.js"), "lab 2");
      const second = await appInputs(root);
      expect(second.hash).to.not.equal(first.hash);
      fs.writeFileSync(path.join(root, "build/Release/vpnlab_native.node"), "addon 2");
      expect((await appInputs(root)).hash).to.not.equal(second.hash);
      fs.rmSync(path.join(root, "build"), { recursive: true });
      const error = await appInputs(root).then(() => undefined, (e: Error) => e);
      expect(error?.message).to.match(/vpnlab_native\.node missing: build the native addon/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("reads ldd's libraries (the missing ones too) and the tree's glibc", () => {
    const ldd = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f4d)",
      "\tlibfoo.so.2 => not found",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f4d)",
    ].join("\n");
    expect(lddLibraries(ldd)).to.deep.equal(["libstdc++.so.6", "libfoo.so.2", "ld-linux-x86-64.so.2"]);
    const status = "Package: libc-bin\nVersion: 2.99-1\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u10\n";
    expect(glibcOfDpkgStatus(status)).to.equal("2.36");
    expect(versionLess("2.31", "2.36")).to.equal(true);
    expect(versionLess("2.36", "2.36")).to.equal(false);
    expect(versionLess("2.40", "2.36")).to.equal(false);
  });

  it("generates a node Dockerfile FROM the local base tag, with a build-time check that Node loads the addon", () => {
    const d = nodeDockerfile("vpnlab-base:abc", "123");
    expect(d.split("\n")[0]).to.equal("FROM vpnlab-base:abc");
    expect(d).to.include(`RUN ["/opt/vpnlab/bin/node", "-e", "require('/opt/vpnlab/build/Release/vpnlab_native.node')"]`);
    expect(d).to.include("vpnlab.app=123");
    expect(aptBaseDockerfile("debian:bookworm", ["a", "b"], "k")).to.include("apt-get install -y --no-install-recommends a b");
  });
});

describe("runtime/docker/image: progress", () => {
  it("writes plain lines without a terminal: start, every 10 s, end", () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress((s) => lines.push(s), false, () => t);
    p.begin("base: import", "vpnlab-base:k");
    t = 5000;
    p.update(1024);
    t = 10_500;
    p.update(2 * 1024 * 1024, "unpacking");
    t = 12_000;
    p.end("imported");
    expect(lines).to.deep.equal(["base: import: vpnlab-base:k\n", "base: import: 10.5 s, 2.0 MB — unpacking\n", "base: import: imported (12.0 s, 2.0 MB)\n"]);
  });

  it("rewrites one line on a terminal and ends it with a newline", () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress((s) => lines.push(s), true, () => t);
    p.begin("node: build");
    t = 300;
    p.update(500, "Step 2/6");
    t = 350; // under 100 ms since the last draw: not redrawn
    p.update(600, "Step 3/6");
    t = 1000;
    p.end("built");
    expect(lines.every((l) => l.startsWith("\r\x1b[K"))).to.equal(true);
    expect(lines.length).to.equal(3);
    expect(lines[1]).to.include("node: build 0.3 s 500 B Step 2/6");
    expect(lines[2]).to.equal("\r\x1b[Knode: build: built (1.0 s, 600 B)\n");
  });
});

describe("runtime/docker/image: errors", () => {
  it("no engine: says how to start dockerd", async () => {
    const url = "unix:///run/vpnlab-no-such-engine/docker.sock";
    const error = await pingEngine(await connectEngine(url), url).then(() => undefined, (e: Error) => e);
    expect(error?.message).to.include(`no Docker engine at ${url}`).and.include("start dockerd: scripts/dockerd.sh");
  });

  it("doctor's status of an engine that is not there: unreachable, no version, no image verdict", async () => {
    const st = await dockerStatus("unix:///run/vpnlab-no-such-engine/docker.sock");
    expect(st.version).to.equal(undefined);
    expect(st.image).to.equal(undefined);
    expect(st.unreachable).to.include("start dockerd");
  });

  it("`vpnlab image build` against no engine exits 2", async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await dispatch(["image", "build", "--engine", "unix:///run/vpnlab-no-such-engine/docker.sock"]);
    } finally {
      process.stderr.write = write;
    }
    expect(code, stderr.join("")).to.equal(2);
    expect(stderr.join("")).to.include("start dockerd");
  });

  it("an unreachable mirror is named with what to do", async () => {
    const error = await checkMirror("http://127.0.0.1:9/debian", "bookworm").then(() => undefined, (e: Error) => e);
    expect(error?.message).to.match(/^Debian mirror unreachable: http:\/\/127\.0\.0\.1:9\/debian\/dists\/bookworm\/Release .*--mirror URL/);
  });

  it("removes a build tree with something mounted in it (as debootstrap leaves proc) without touching the mount's source", function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting needs root; CI is root
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-tree-"));
    const source = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-src-"));
    try {
      fs.writeFileSync(path.join(source, "keep"), "x");
      fs.mkdirSync(path.join(dir, "rootfs/proc"), { recursive: true });
      const m = spawnSync("mount", ["--bind", source, path.join(dir, "rootfs/proc")]);
      expect(m.status, String(m.stderr)).to.equal(0);
      removeTree(dir);
      expect(fs.existsSync(dir)).to.equal(false);
      expect(fs.readFileSync(path.join(source, "keep"), "utf8")).to.equal("x");
    } finally {
      spawnSync("umount", ["-l", path.join(dir, "rootfs/proc")]);
      fs.rmSync(source, { recursive: true, force: true });
    }
  });
});
