import { expect } from "chai";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { LabState } from "../state";
import { ENGINE_CALL_TIMEOUT_MS, ENGINE_LIFECYCLE_TIMEOUT_MS, connectEngine } from "./image";
import { dockerEngine, dockerRuntime, notLocal } from "./index";

const state = (): LabState => ({ labId: "a1b2c", runtime: "docker", topology: "t", variant: "v", file: "f", ownerPid: 1, holder: "run", ownerStart: "0", created: "", namespaces: [], pids: [] });

describe("runtime/docker: which engines it can use", () => {
  const remotes = ["tcp://203.0.113.9:2375", "ssh://ci@lab7.example.net"];

  it("refuses a remote engine (tcp://, ssh://) in unavailable() and create(), before anything is created or asked", async () => {
    for (const engine of remotes) {
      const why = await dockerRuntime.unavailable({ engine });
      expect(why, engine).to.match(/reaches containers by PID: the engine must run on this host; run vpnlab on that host \(e\.g\. with --shard\)/);
      const s = state();
      expect(() => dockerRuntime.create("a1b2c", s, { engine }), engine).to.throw(/the engine must run on this host/);
      expect(s, engine).to.deep.equal(state()); // nothing recorded, so nothing was made
    }
  });

  it("takes a local unix socket (as a URL or a path) and the default", () => {
    expect(notLocal("unix:///run/vpnlab-dev/docker.sock")).to.equal(undefined);
    expect(notLocal("/var/run/docker.sock")).to.equal(undefined);
    expect(notLocal(undefined)).to.equal(undefined);
  });
});

describe("runtime/docker: an engine that accepts and never answers", function () {
  let dir: string;
  let server: net.Server;
  const held: net.Socket[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-silent-"));
    server = net.createServer((s) => held.push(s)); // reads the request, never writes a byte
    await new Promise<void>((r) => server.listen(path.join(dir, "docker.sock"), r));
  });
  after(() => {
    held.forEach((s) => s.destroy());
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`gives up on list, inspect and remove calls after ${ENGINE_CALL_TIMEOUT_MS / 1000} s (ls, gc and down never hang); image builds wait`, async () => {
    const engine = `unix://${path.join(dir, "docker.sock")}`;
    const docker = await connectEngine(engine);
    expect((docker.modem as { timeout?: number }).timeout).to.equal(ENGINE_CALL_TIMEOUT_MS);
    expect(((await connectEngine(engine, { timeoutMs: 0 })).modem as { timeout?: number }).timeout).to.equal(undefined);
    // a lab's engine: queries give up after 10 s, container create/start/remove (slow under load) after 60 s
    const lab = dockerEngine(engine);
    expect(((await lab.connect()).modem as { timeout?: number }).timeout).to.equal(ENGINE_CALL_TIMEOUT_MS);
    expect(((await lab.lifecycle()).modem as { timeout?: number }).timeout).to.equal(ENGINE_LIFECYCLE_TIMEOUT_MS);
    expect(ENGINE_LIFECYCLE_TIMEOUT_MS).to.equal(60_000);
    const outcome = (p: Promise<unknown>) => p.then((r) => `answered: ${JSON.stringify(r)}`, (e: Error) => `failed: ${e.message}`);
    const [list, inspect, objects, removal] = await Promise.all([
      outcome(docker.listContainers({ all: true })),
      outcome(docker.getContainer("vl-a1b2c-client").inspect()),
      outcome(dockerRuntime.listObjects({ engine })),
      outcome(dockerRuntime.removeLab("a1b2c", undefined, { engine })),
    ]);
    for (const o of [list, inspect, objects]) expect(o, JSON.stringify({ list, inspect, objects, removal })).to.match(/^failed: /);
    // a removal says what it left (the engine's containers), so gc keeps the record and tries again
    expect(removal, JSON.stringify({ list, inspect, objects, removal })).to.match(/^answered: .*containers of lab a1b2c on engine unix:.*\(unreachable: /);
    expect(held.length, "requests the silent engine received").to.be.at.least(4);
  });
});
