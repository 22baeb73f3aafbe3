import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { doctor, fileCheck } from "./doctor";
import { findProgram } from "./host/programs";
import { implSpec } from "./vpn/impls";

describe("doctor: findProgram", () => {
  it("finds an executable file on the given PATH, not a plain file or a directory", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-doctor-"));
    try {
      fs.writeFileSync(path.join(dir, "ocserv-x"), "#!/bin/sh\n", { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "not-exec-x"), "", { mode: 0o644 });
      fs.mkdirSync(path.join(dir, "dir-x"));
      expect(findProgram("ocserv-x", dir)).to.equal(path.join(dir, "ocserv-x"));
      // root may execute any file with an x bit; a 0644 file has none
      expect(findProgram("not-exec-x", dir)).to.equal(undefined);
      expect(findProgram("dir-x", dir)).to.equal(undefined);
      expect(findProgram("no-such-program-x", dir)).to.equal(undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("doctor: the files an implementation declares (strongSwan's kernel-libipsec plugin)", () => {
  const plugin = implSpec("strongswan")?.files?.find((f) => f.path.endsWith("/libstrongswan-kernel-libipsec.so"));

  it("strongswan declares the plugin libcharon-extra-plugins installs", () => {
    expect(plugin, JSON.stringify(implSpec("strongswan"))).to.deep.include({ path: "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", package: "libcharon-extra-plugins" });
  });

  it("found under the root given: ok, the path as detail; missing: not ok, the package to install", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-doctor-root-"));
    try {
      const missing = fileCheck(plugin!, "strongswan", root);
      expect(missing, JSON.stringify(missing)).to.include({ name: "kernel-libipsec", ok: false, fix: "apt-get install libcharon-extra-plugins (for impl: strongswan)" });
      expect(missing.detail).to.equal(`strongSwan's kernel-libipsec plugin (ESP in user space): ${root}/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so missing`);
      fs.mkdirSync(path.join(root, "usr/lib/ipsec/plugins"), { recursive: true });
      fs.writeFileSync(path.join(root, plugin!.path), "");
      const found = fileCheck(plugin!, "strongswan", root);
      expect(found, JSON.stringify(found)).to.include({ ok: true, detail: path.join(root, plugin!.path) });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

// the whole doctor runs: as root its netem probe makes (and removes) a namespace, so it belongs with the root tests
describe("doctor: docker engines (root: the whole doctor, whose netem probe makes a namespace)", function () {
  this.timeout(60000);
  it("checks every configured engine, each by its URL, with the image build to run on it", async function () {
    const engines = ["unix:///run/vpnlab-no-such-doc-1/docker.sock", "unix:///run/vpnlab-no-such-doc-2/docker.sock"];
    const checks = await doctor({ config: { file: "test", engines } });
    const docker = checks.filter((c) => c.name.startsWith("docker"));
    expect(docker.map((c) => c.name), JSON.stringify(docker)).to.deep.equal(engines.map((e) => `docker ${e}`));
    for (const [i, c] of docker.entries()) {
      expect(c.ok).to.equal(false);
      expect(c.detail).to.include(`no Docker engine at ${engines[i]} (`);
    }
  });
});
