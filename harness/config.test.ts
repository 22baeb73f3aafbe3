import { expect } from "chai";
import { configPath, parseConfig } from "./config";

describe("config: the host's settings file", () => {
  it("reads engines (normalised), runtime and jobs", () => {
    const c = parseConfig("vpnlab.yaml", "engines:\n  - unix:///run/a.sock\n  - /run/b.sock\nruntime: docker\njobs: 4\n");
    expect(c).to.deep.equal({ file: "vpnlab.yaml", engines: ["unix:///run/a.sock", "unix:///run/b.sock"], runtime: "docker", jobs: 4 });
    expect(parseConfig("e.yaml", "")).to.deep.equal({ file: "e.yaml" });
  });

  it("says file:line:col, the key and what is wanted for every bad value", () => {
    const cases: [string, RegExp][] = [
      ["engines: []\n", /^c\.yaml:1:\d+: engines: a list of Docker engine URLs/],
      ["engines:\n  - unix:///a.sock\n  - ftp://x\n", /^c\.yaml:3:5: engines\[1\]: .*ftp is not a transport/],
      ["engines:\n  - 42\n", /^c\.yaml:2:5: engines\[0\]: an engine URL/],
      ["runtime: podman\n", /^c\.yaml:1:10: runtime: one of netns, docker/],
      ["jobs: 0\n", /^c\.yaml:1:7: jobs: a whole number from 1 to 16/],
      ["jobs: 2\nengine: [x]\n", /^c\.yaml:2:1: engine: unknown key — did you mean `engines`\?/],
      ["- a\n", /^c\.yaml:1:1: \(root\): a config file is a map/],
      ["engines: [a\n", /^c\.yaml:\d+:\d+: \(yaml\)/],
    ];
    for (const [text, re] of cases) expect(() => parseConfig("c.yaml", text), text).to.throw(re);
  });

  it("--config wins over VPNLAB_CONFIG; none when neither", () => {
    expect(configPath("a.yaml", { VPNLAB_CONFIG: "b.yaml" })).to.equal("a.yaml");
    expect(configPath(undefined, { VPNLAB_CONFIG: "b.yaml" })).to.equal("b.yaml");
    expect(configPath(undefined, {})).to.equal(undefined);
  });
});
