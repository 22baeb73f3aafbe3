import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dispatch } from "../../cli";
import { appInputs, aptBaseDockerfile, badImageRef, baseKey, connectEngine, dockerStatus, imageRef, nodeDockerfile, pingEngine, productionPackages, treeKey } from "./image";

describe("runtime/docker/image: inputs", () => {

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


  it("generates a node Dockerfile FROM the local base tag, with a build-time check that Node loads the addon", () => {
    const d = nodeDockerfile("vpnlab-base:abc", "123");
    expect(d.split("\n")[0]).to.equal("FROM vpnlab-base:abc");
    expect(d).to.include(`RUN ["/opt/vpnlab/bin/node", "-e", "require('/opt/vpnlab/build/Release/vpnlab_native.node')"]`);
    expect(d).to.include("vpnlab.app=123");
    expect(aptBaseDockerfile("debian:bookworm", ["a", "b"], "k")).to.include("apt-get install -y --no-install-recommends a b");
  });
});

describe("runtime/docker/image: errors", () => {
  it("no engine: says how to start dockerd", async () => {
    const url = "unix:///run/vpnlab-no-such-engine/docker.sock";
    const error = await pingEngine(await connectEngine(url), url).then(() => undefined, (e: Error) => e);
    expect(error?.message).to.include(`no Docker engine at ${url}`).and.include("start dockerd: scripts/dockerd.sh");
  });

  it("a client's ping names the engine it was made for, even when the caller does not say (a lab's image look-up)", async () => {
    const url = "unix:///run/vpnlab-no-such-engine-2/docker.sock";
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "unix:///run/vpnlab-no-such-default/docker.sock";
    try {
      const error = await pingEngine(await connectEngine(url)).then(() => undefined, (e: Error) => e);
      expect(error?.message).to.include(`no Docker engine at ${url} (`);
      const viaImage = await imageRef(await connectEngine(url)).then(() => undefined, (e: Error) => e);
      expect(viaImage?.message).to.include(`no Docker engine at ${url} (`);
      const byDefault = await pingEngine(await connectEngine()).then(() => undefined, (e: Error) => e);
      expect(byDefault?.message, "no URL: DOCKER_HOST").to.include("no Docker engine at unix:///run/vpnlab-no-such-default/docker.sock (");
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
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

  it("takes image references for --base and refuses anything else (whitespace, uppercase names, stray characters)", () => {
    const good = ["debian", "debian:bookworm-slim", "library/debian:12", "registry.example.net:5000/os/debian:12", "localhost:5000/x", `debian@sha256:${"a".repeat(64)}`, "ghcr.io/org/img_1.2-x:V1.0"];
    const bad = ["", "debian bookworm", "debian\nRUN rm -rf /", "Debian:12", "debian:12 AS x", "-debian", "debian:", "a//b", "debian;true", "debian:$TAG", "debian@sha256:xyz"];
    expect(good.filter((g) => badImageRef(g) !== undefined), "refused").to.deep.equal([]);
    expect(bad.filter((b) => badImageRef(b) === undefined), "taken").to.deep.equal([]);
    expect(badImageRef("debian bookworm")).to.include('--base "debian bookworm" is not an image reference');
  });

  it("`vpnlab image build --base 'x y'` exits 2 before any engine is asked", async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await dispatch(["image", "build", "--engine", "unix:///run/vpnlab-no-such-engine/docker.sock", "--base", "debian\nRUN id"]);
    } finally {
      process.stderr.write = write;
    }
    expect(code, stderr.join("")).to.equal(2);
    expect(stderr.join("")).to.include("is not an image reference").and.not.include("start dockerd");
  });

  it("`vpnlab image build --config FILE` builds on the config's engines: (the first is tried first)", async () => {
    const cfg = path.join(os.tmpdir(), `vpnlab-image-config-${process.pid}.yaml`);
    fs.writeFileSync(cfg, "engines:\n  - unix:///run/vpnlab-no-such-cfg-1/docker.sock\n  - unix:///run/vpnlab-no-such-cfg-2/docker.sock\n");
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await dispatch(["image", "build", "--config", cfg]);
    } finally {
      process.stderr.write = write;
      fs.rmSync(cfg, { force: true });
    }
    expect(code, stderr.join("")).to.equal(2);
    expect(stderr.join("")).to.include("image build on unix:///run/vpnlab-no-such-cfg-1/docker.sock").and.include("no Docker engine at unix:///run/vpnlab-no-such-cfg-1/docker.sock");
  });


});
