import { expect } from "chai";
import * as path from "node:path";
import { loadTopology, selectScenarios } from "../topology/load";
import { RUNTIME_KINDS, chooseRuntime, placement, runtimeModule, withRuntimes } from ".";
import { programArgv } from "./programs";

describe("runtime registry", () => {
  const saved = process.env.VPNLAB_RUNTIME;
  afterEach(() => {
    if (saved === undefined) delete process.env.VPNLAB_RUNTIME;
    else process.env.VPNLAB_RUNTIME = saved;
  });

  it("loads every registered runtime's module under its own name", async () => {
    for (const kind of RUNTIME_KINDS) expect((await runtimeModule(kind)).kind).to.equal(kind);
  });

  it("decides a scenario's runtime: --runtime, else the file's, else the host config's, else VPNLAB_RUNTIME, else netns", () => {
    const none = {};
    const env = { VPNLAB_RUNTIME: "docker" };
    expect(chooseRuntime(undefined, undefined, undefined, none)).to.equal("netns");
    expect(chooseRuntime(undefined, undefined, undefined, { VPNLAB_RUNTIME: "" })).to.equal("netns");
    expect(chooseRuntime(undefined, undefined, undefined, env)).to.equal("docker");
    expect(chooseRuntime(undefined, undefined, "netns", env)).to.equal("netns"); // config over VPNLAB_RUNTIME
    expect(chooseRuntime(undefined, "docker", "netns", none)).to.equal("docker"); // the file over the config
    expect(chooseRuntime(undefined, "netns", "docker", env)).to.equal("netns");
    expect(chooseRuntime("docker", "netns", "netns", none)).to.equal("docker"); // --runtime over everything
    expect(chooseRuntime("netns", "docker", "docker", env)).to.equal("netns");
    delete process.env.VPNLAB_RUNTIME;
    expect(chooseRuntime(undefined, undefined)).to.equal("netns");
    process.env.VPNLAB_RUNTIME = "docker";
    expect(chooseRuntime(undefined, undefined), "the process's VPNLAB_RUNTIME by default").to.equal("docker");
  });

  it("stores each scenario's decided runtime on it, keeping a variant's own runtime: over the config's", () => {
    const t = loadTopology(path.join(__dirname, "..", "..", "..", "topologies", "asa-ips.yaml"));
    const [base, natt] = selectScenarios(t, ["base", "natt"]);
    const both = [base, { ...natt, runtime: "netns" as const }];
    expect(withRuntimes(both, undefined, undefined, { VPNLAB_RUNTIME: "docker" }).map((s) => s.runtime)).to.deep.equal(["docker", "netns"]);
    expect(withRuntimes(both, undefined, "docker", {}).map((s) => s.runtime)).to.deep.equal(["docker", "netns"]);
    expect(withRuntimes(both, "docker", "netns", {}).map((s) => s.runtime)).to.deep.equal(["docker", "docker"]);
    expect(withRuntimes(both, undefined, undefined, {}).map((s) => s.runtime)).to.deep.equal(["netns", "netns"]);
  });

  it("places a pool's labs over their runtime's locations: docker over the config's engines, least busy first; netns on this host", async () => {
    const t = loadTopology(path.join(__dirname, "..", "..", "..", "topologies", "asa-ips.yaml"));
    const [base, natt, esp] = selectScenarios(t, ["base", "natt", "esp"]);
    const A = "unix:///run/vpnlab-a.sock";
    const B = "unix:///run/vpnlab-b.sock";
    const onDocker = withRuntimes([base, natt], "docker", undefined, {});
    const place = await placement([...onDocker, ...withRuntimes([esp], "netns", undefined, {})], { file: "test", engines: [A, B] }, undefined);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const two = onDocker.map((s) => place.on(s, async (where, several) => (seen.push(`${s.variant}@${where.name}:${several}`), await held, where.options.engine)));
    const netns = await place.on({ ...esp, runtime: "netns" }, async (where, several) => `${JSON.stringify(where.options)}:${several}`);
    release();
    expect(await Promise.all(two), "two labs side by side: one on each engine").to.deep.equal([A, B]);
    expect(seen).to.deep.equal([`base@${A}:true`, `natt@${B}:true`]);
    expect(netns).to.equal("{}:false");
  });

  it("refuses --engine when no scenario of the run has engines, takes it when one has", async () => {
    const t = loadTopology(path.join(__dirname, "..", "..", "..", "topologies", "asa-ips.yaml"));
    const [base] = selectScenarios(t, ["base"]);
    const onNetns = withRuntimes([base], "netns", undefined, {});
    const error = await placement(onNetns, undefined, ["unix:///x.sock"]).then(() => undefined, (e: Error) => e);
    expect(error?.message).to.match(/--engine is for the docker runtime/);
    const mixed = await placement([...onNetns, ...withRuntimes([base], "docker", undefined, {})], undefined, ["/x.sock"]);
    expect(await mixed.on({ ...base, runtime: "docker" }, async (w) => w.name)).to.equal("unix:///x.sock");
    expect(await mixed.on(onNetns[0], async (w) => w.name), "the netns scenario stays on this host").to.equal("");
  });

  it("refuses a runtime it does not know, naming where the name came from and the known ones", () => {
    process.env.VPNLAB_RUNTIME = "podman";
    expect(() => chooseRuntime(undefined, undefined)).to.throw(/VPNLAB_RUNTIME "podman" is not a runtime — use one of netns, docker/);
    expect(() => chooseRuntime("lxc", undefined)).to.throw(/--runtime "lxc"/);
  });

  it("starts a harness program with the runtime's Node from the runtime's copy of the package", () => {
    expect(programArgv("/usr/bin/node", "/opt/vpnlab", "agent")).to.deep.equal(["/usr/bin/node", "/opt/vpnlab/dist/harness/agent/main.js"]);
    expect(programArgv("/usr/bin/node", "/opt/vpnlab", "proxy", ["--port", "1"])).to.deep.equal(["/usr/bin/node", "/opt/vpnlab/dist/harness/firewall/proxy-main.js", "--port", "1"]);
    expect(programArgv("/n", "/p", "node", ["-e", "1"])).to.deep.equal(["/n", "-e", "1"]);
  });
});
