import { expect } from "chai";
import { DEFAULT_ENGINE, chooseEngines, engineOf, parseEngine } from "./engines";

describe("runtime/docker/engines: engine URLs", () => {
  it("a unix socket, as a URL or a bare path, is local", () => {
    expect(parseEngine("unix:///run/vpnlab-ci1/docker.sock")).to.deep.equal({ url: "unix:///run/vpnlab-ci1/docker.sock", options: { socketPath: "/run/vpnlab-ci1/docker.sock" }, local: true });
    expect(parseEngine("/var/run/docker.sock").options).to.deep.equal({ socketPath: "/var/run/docker.sock" });
  });

  it("tcp:// is plain HTTP on 2375 unless TLS is asked for; ssh:// keeps the user and defaults to port 22; neither is local", () => {
    expect(parseEngine("tcp://10.1.2.3:2375", {})).to.deep.equal({ url: "tcp://10.1.2.3:2375", options: { host: "10.1.2.3", port: 2375, protocol: "http" }, local: false });
    expect(parseEngine("tcp://lab7", {}).options.port).to.equal(2375);
    expect(parseEngine("ssh://ci@lab7.example.net")).to.deep.equal({ url: "ssh://ci@lab7.example.net:22", options: { protocol: "ssh", host: "lab7.example.net", port: 22, username: "ci" }, local: false });
    expect(parseEngine("ssh://lab7:2222").options).to.deep.equal({ protocol: "ssh", host: "lab7", port: 2222 });
  });

  it("refuses what is not an engine, saying what is accepted", () => {
    for (const bad of ["", "  ", "docker.sock", "ftp://x", "unix://relative/sock", "tcp://", "ssh://"]) {
      expect(() => parseEngine(bad, {}), JSON.stringify(bad)).to.throw(/unix:\/\/\/|names no host|absolute path|not a URL/);
    }
  });

  it("chooses --engine over the config file over VPNLAB_ENGINES over DOCKER_HOST over the default; one engine once", () => {
    const env = { VPNLAB_ENGINES: "unix:///a.sock,unix:///b.sock", DOCKER_HOST: "unix:///d.sock" };
    expect(chooseEngines(["unix:///x.sock", "/x.sock", "unix:///y.sock"], ["unix:///c.sock"], env).map((e) => e.url)).to.deep.equal(["unix:///x.sock", "unix:///y.sock"]);
    expect(chooseEngines(["unix:///x.sock,unix:///y.sock"], undefined, env).map((e) => e.url)).to.deep.equal(["unix:///x.sock", "unix:///y.sock"]);
    expect(chooseEngines([], ["unix:///c.sock"], env).map((e) => e.url)).to.deep.equal(["unix:///c.sock"]);
    expect(chooseEngines(undefined, undefined, env).map((e) => e.url)).to.deep.equal(["unix:///a.sock", "unix:///b.sock"]);
    expect(chooseEngines(undefined, undefined, { DOCKER_HOST: "unix:///d.sock" }).map((e) => e.url)).to.deep.equal(["unix:///d.sock"]);
    expect(chooseEngines(undefined, undefined, {}).map((e) => e.url)).to.deep.equal([DEFAULT_ENGINE]);
  });

  it("one engine when none is named: the URL given, else DOCKER_HOST, else the default socket, normalised", () => {
    expect(engineOf("/x.sock", { DOCKER_HOST: "unix:///d.sock" }).url).to.equal("unix:///x.sock");
    expect(engineOf(undefined, { DOCKER_HOST: "unix:///d.sock" }).url).to.equal("unix:///d.sock");
    expect(engineOf("", {}).url).to.equal(DEFAULT_ENGINE);
    expect(() => engineOf(undefined, { DOCKER_HOST: "ftp://x" })).to.throw(/ftp is not a transport Docker speaks/);
  });
});
