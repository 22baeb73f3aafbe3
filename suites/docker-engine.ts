// The one rule by which every Docker suite finds its engine — the runtime's
// own (engines.ts engineOf): DOCKER_HOST if set, else the default socket
// (/var/run/docker.sock). A suite never reads DOCKER_HOST itself, so a host
// whose Docker runs only on its default socket runs every Docker suite.
import Docker from "dockerode";
import { engineOf } from "../harness/runtime/docker/engines";

/** The engine's URL (normalised): what the suites' labs, records and messages name. */
export function suiteEngine(): string {
  return engineOf().url;
}

/** A dockerode client for that engine. */
export function suiteDocker(): Docker {
  return new Docker(engineOf().options);
}
