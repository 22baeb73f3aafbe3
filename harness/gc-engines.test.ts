import { expect } from "chai";
import { engineObjects, remoteLocations, removeLab } from "./gc";
import { runtimeModule } from "./runtime";
import { newLabId } from "./runtime/state";

const A = "unix:///run/a.sock";
const B = "unix:///run/b.sock";

describe("gc over several engines: which engine holds a lab", () => {
  it("puts a lab on the engine that alone lists its containers; the namespaces every engine lists are the host's", () => {
    const links = ["namespace link vl-a1b2c-client", "namespace link vl-a1b2c-wan"];
    const found = engineObjects(
      new Map([
        [A, new Map([["a1b2c", links]])],
        [B, new Map([["a1b2c", ["container vl-a1b2c-client", ...links]]])],
      ]),
    );
    expect(found.get("a1b2c")).to.deep.equal({ objects: [...links, "container vl-a1b2c-client"], engines: [B] });
  });

  it("names no engine for a lab every engine lists alike (a netns lab, or one engine only)", () => {
    const ns = new Map([["d4e5f", ["namespace vl-d4e5f-client"]]]);
    expect(engineObjects(new Map([[A, ns], [B, ns]])).get("d4e5f")?.engines).to.deep.equal([]);
    expect(engineObjects(new Map([[A, ns]])).get("d4e5f")?.engines).to.deep.equal([]);
  });

  it("names both engines when each holds containers of the lab (a half-removed lab is swept on both)", () => {
    const found = engineObjects(
      new Map([
        [A, new Map([["a1b2c", ["container vl-a1b2c-wan"]]])],
        [B, new Map([["a1b2c", ["container vl-a1b2c-client"]]])],
      ]),
    );
    expect(found.get("a1b2c")?.engines).to.deep.equal([A, B]);
  });
});

describe("gc, ls and down leave other hosts' engines alone", () => {
  const TCP = "tcp://203.0.113.9:2375"; // TEST-NET-3: nothing answers there, so any request would fail the test
  const SSH = "ssh://ci@lab7.example.net";
  const config = { file: "t.yaml", engines: [TCP, "unix:///run/vpnlab-no-such-gc-engine/docker.sock", SSH] };

  it("marks tcp:// and ssh:// engines remote (with why) and the local socket not", async () => {
    const dockerRuntime = await runtimeModule("docker");
    const places = dockerRuntime.locations(config);
    expect(places.map((p) => [p.name, p.remote !== undefined])).to.deep.equal([[TCP, true], ["unix:///run/vpnlab-no-such-gc-engine/docker.sock", false], ["ssh://ci@lab7.example.net:22", true]]);
    expect(await remoteLocations(config)).to.deep.equal([TCP, "ssh://ci@lab7.example.net:22"].map((n) => `${n}: not on this host: its labs are that host's to list and remove (run vpnlab there)`));
  });

  it("lists and removes nothing on a remote engine, without asking it", async () => {
    const dockerRuntime = await runtimeModule("docker");
    for (const engine of [TCP, SSH]) {
      expect([...(await dockerRuntime.listObjects({ engine }))], engine).to.deep.equal([]);
      expect(await dockerRuntime.removeLab("a1b2c", undefined, { engine }), engine).to.deep.equal({ removed: [], left: [] });
    }
  });

  it("removeLab skips a lab's remote place (nothing removed or left there)", async () => {
    const labId = newLabId();
    const r = await removeLab({ labId, alive: false, objects: ["container vl-x"], runtimes: ["docker"], locations: [TCP], places: { docker: [{ name: TCP, options: { engine: TCP }, remote: "another host's" }] } });
    expect(r).to.deep.equal({ removed: [], left: [] });
  });
});
