import { expect } from "chai";
import { RUNTIME_KINDS, chooseRuntime, runtimeModule } from ".";
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

  it("chooses the command line's runtime over the file's, the file's over VPNLAB_RUNTIME, netns by default", () => {
    delete process.env.VPNLAB_RUNTIME;
    expect(chooseRuntime(undefined, undefined)).to.equal("netns");
    expect(chooseRuntime(undefined, "docker")).to.equal("docker");
    expect(chooseRuntime("netns", "docker")).to.equal("netns");
    process.env.VPNLAB_RUNTIME = "docker";
    expect(chooseRuntime(undefined, undefined)).to.equal("docker");
    expect(chooseRuntime(undefined, "netns")).to.equal("netns");
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
