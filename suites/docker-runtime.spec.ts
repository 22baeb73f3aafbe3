// What the docker runtime adds to the conformance suite: a lab whose owner
// was SIGKILLed is swept by `vpnlab gc` — no container, namespace link,
// bridge namespace, Docker network or host interface of it stays — and gc
// finds docker labs by vpnlab's labels only: a container without them
// survives, even one named like a lab's container and with the lab's record.
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { gc } from "../harness/gc";
import { labContainers } from "../harness/runtime/docker/docker";
import { nodeImage } from "../harness/runtime/docker";
import { newLabId, processStart, readState, writeState } from "../harness/runtime/state";
import { endChild, exited, hostLinks, labNamespaces, waitForLine } from "./host";
import { suiteDocker } from "./docker-engine";
import { requireRuntime } from "./runtimes";
import { removeStaleStrangers, strangerLabels } from "./test-containers";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");

describe("docker runtime: labels, gc, nothing left behind", function () {
  this.timeout(120000);
  const docker = suiteDocker();
  const networks = async () => (await docker.listNetworks()).map((n) => n.Name).sort();

  let up: ChildProcess | undefined;

  before(async function () {
    await requireRuntime(this, "docker");
    await removeStaleStrangers(docker);
  });

  // a test that fails while `vpnlab up` holds its lab: the owner tears it down on SIGTERM
  afterEach(async () => {
    await endChild(up);
    up = undefined;
  });

  it("gc removes every container, namespace and process of a lab whose owner was SIGKILLed, and creates no Docker network", async () => {
    const linksBefore = hostLinks();
    const networksBefore = await networks();
    // ctcp-haproxy: HAProxy does not watch its stdin, so it outlives its owner and only gc can end it
    up = spawn(BIN, ["up", TOPO, "--variant", "ctcp-haproxy", "--runtime", "docker"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/ctcp-haproxy\) is up/, 60000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    const containers = (await labContainers(docker, labId)).map((c) => c.Names[0]);
    expect(containers.length, `containers of lab ${labId}: ${containers.join(", ")}`).to.equal(5);
    expect(readState(labId)?.runtime).to.equal("docker");
    expect(await networks(), "a docker lab creates no Docker network").to.deep.equal(networksBefore);

    const nss = labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`));
    const pidsIn = (ns: string) => spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);
    const pids = nss.flatMap(pidsIn);
    expect(pids.length, "agents, daemons and the containers' inits run in the lab's namespaces").to.be.greaterThan(5);

    up.kill("SIGKILL");
    await exited(up);
    expect((await labContainers(docker, labId)).length, "the containers outlive their owner until gc").to.equal(5);
    const ls = spawnSync(BIN, ["ls"], { encoding: "utf8" });
    expect(ls.stdout).to.match(new RegExp(`${labId} .*orphaned.*docker`));

    const r = spawnSync(BIN, ["gc"], { encoding: "utf8", timeout: 60000 });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/\b5 container\(s\)/);
    expect(r.stdout).to.contain(`container vl-${labId}-firewall`);
    expect((await labContainers(docker, labId)).map((c) => c.Names[0])).to.deep.equal([]);
    expect(labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`))).to.deep.equal([]);
    expect(hostLinks()).to.deep.equal(linksBefore);
    expect(await networks()).to.deep.equal(networksBefore);
    expect(readState(labId)).to.equal(undefined);
    expect(pids.filter((p) => processStart(p) !== undefined), "processes of the killed lab still running").to.deep.equal([]);
  });

  it("never touches a container without vpnlab's labels, even one named like a lab's container and with the lab's record", async () => {
    const labId = newLabId();
    const name = `vl-${labId}-client`;
    const stranger = await docker.createContainer({ name, Image: await nodeImage(docker), Cmd: ["sleep", "infinity"], Labels: strangerLabels(), HostConfig: { NetworkMode: "none" } });
    try {
      await stranger.start();
      // an orphaned docker lab of that id: its owner is long gone, so gc sweeps it
      const dead = spawnSync("true");
      writeState({ labId, runtime: "docker", topology: "asa-ips", variant: "base", file: TOPO, ownerPid: dead.pid ?? 1, holder: "run", ownerStart: "0",
        created: new Date().toISOString(), namespaces: [name], pids: [] });
      const report = await gc();
      expect(report.labs).to.include(labId);
      const after = await stranger.inspect();
      expect({ name: after.Name, running: after.State.Running }, JSON.stringify(report)).to.deep.equal({ name: `/${name}`, running: true });
      expect(readState(labId)).to.equal(undefined);
    } finally {
      await stranger.remove({ force: true });
    }
  });
});
