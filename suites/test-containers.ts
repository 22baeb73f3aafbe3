// Containers the Docker suites make themselves. A container standing for a
// lab node carries vpnlab's labels and a record owned by this test process,
// so `vpnlab gc` leaves it alone while the test runs and sweeps it once the
// test process was killed. A "stranger" (a container gc must never touch)
// carries only a test label with its owner, so the next run removes the ones
// a killed run left behind.
import type Dockerode from "dockerode";
import { LABEL } from "../harness/runtime/docker/container";
import { newLabId, processStart, removeState, writeState } from "../harness/runtime/state";

/** Not vpnlab's: gc, ls and down ignore it. Value "<pid>:<start>" of the test process that made the container. */
export const STRANGER_LABEL = "vpnlab-test.stranger";

const me = (): string => `${process.pid}:${processStart(process.pid) ?? "0"}`;

/** Labels of a container gc must never touch (see removeStaleStrangers). */
export function strangerLabels(): Record<string, string> {
  return { [STRANGER_LABEL]: me() };
}

/** Remove the strangers whose test process is gone (a killed run's); the ones of live runs stay. What was removed. */
export async function removeStaleStrangers(docker: Dockerode): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [STRANGER_LABEL] }) })) {
    const [pid, start] = (c.Labels[STRANGER_LABEL] ?? "").split(":");
    if (processStart(Number(pid)) === start) continue;
    try {
      await docker.getContainer(c.Id).remove({ force: true });
      removed.push(c.Names[0] ?? c.Id);
    } catch {
      // removed by a run beside meanwhile
    }
  }
  return removed;
}

/** A lab id owned by this process, with a record naming the engine: its containers' labels make `vpnlab gc` sweep them once we are killed. */
export function testLab(engine: string | undefined, what: string): { labId: string; labels: Record<string, string>; release: () => void } {
  const labId = newLabId();
  const ownerStart = processStart(process.pid) ?? "0";
  writeState({ labId, runtime: "docker", ...(engine ? { engine } : {}), topology: what, variant: "test", file: what, ownerPid: process.pid, holder: "run", ownerStart, created: new Date().toISOString(), namespaces: [], pids: [] });
  const labels = { [LABEL.lab]: labId, [LABEL.runtime]: "docker", [LABEL.owner]: `${process.pid}:${ownerStart}`, [LABEL.topology]: what, [LABEL.node]: "test" };
  return { labId, labels, release: () => removeState(labId) };
}
