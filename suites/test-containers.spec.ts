// The Docker suites' own containers never outlive a killed run: one standing
// for a lab node is swept by gc once its test process is gone (and spared
// while it runs), and a "stranger" of a killed run is removed by the next
// run's before(), while a live run's stays.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import Docker from "dockerode";
import { gc } from "../harness/gc";
import { nodeImage } from "../harness/runtime/docker";
import { labContainers } from "../harness/runtime/docker/docker";
import { readState, writeState } from "../harness/runtime/state";
import { suiteDocker, suiteEngine } from "./docker-engine";
import { requireRuntime } from "./runtimes";
import { STRANGER_LABEL, removeStaleStrangers, strangerLabels, testLab } from "./test-containers";

describe("docker suites' own containers", function () {
  this.timeout(120000);
  const docker = suiteDocker();
  const made: Docker.Container[] = [];
  const create = async (name: string, Labels: Record<string, string>) => {
    const c = await docker.createContainer({ name, Image: await nodeImage(docker), Cmd: ["sleep", "infinity"], Labels, HostConfig: { NetworkMode: "none" } });
    made.push(c);
    return c;
  };

  before(async function () {
    await requireRuntime(this, "docker");
  });
  after(async () => {
    for (const c of made) await c.remove({ force: true }).catch(() => undefined);
  });

  it("a test container with a lab's labels is spared by gc while its test runs, and swept once the test process is dead", async () => {
    const lab = testLab(suiteEngine(), "suites/test-containers");
    try {
      await create(`vl-${lab.labId}-test`, lab.labels);
      const live = await gc();
      expect(live.skippedLive, JSON.stringify(live)).to.include(lab.labId);
      expect((await labContainers(docker, lab.labId)).length).to.equal(1);
      // what a SIGKILLed run leaves: the record's owner is a PID that is gone
      const dead = spawnSync("true").pid ?? 1;
      writeState({ ...readState(lab.labId)!, ownerPid: dead, ownerStart: "0" });
      const swept = await gc();
      expect(swept.removed, JSON.stringify(swept)).to.include(`container vl-${lab.labId}-test`);
      expect((await labContainers(docker, lab.labId)).length).to.equal(0);
    } finally {
      lab.release();
    }
  });

  it("a stranger of a killed run is removed by the next run's before(); a live run's stays", async () => {
    const suffix = `${process.pid}-${Date.now()}`;
    const dead = spawnSync("true").pid ?? 1;
    const stale = await create(`vpnlab-test-stale-${suffix}`, { [STRANGER_LABEL]: `${dead}:0` });
    const mine = await create(`vpnlab-test-live-${suffix}`, strangerLabels());
    const removed = await removeStaleStrangers(docker);
    expect(removed, JSON.stringify(removed)).to.include(`/vpnlab-test-stale-${suffix}`);
    const exists = (c: Docker.Container) => c.inspect().then(() => true, () => false);
    expect({ stale: await exists(stale), mine: await exists(mine) }).to.deep.equal({ stale: false, mine: true });
  });
});
