// The docker runtime as the registry sees it. A lab is whole on one engine:
// the engine URL comes from the options (--engine), else DOCKER_HOST, else
// the local socket, and is recorded in the lab's state for gc and down.
import * as fs from "node:fs";
import type Dockerode from "dockerode";
import { labIdOfName } from "../links";
import { isNamespaceLink, listNamespaces } from "../namespaces";
import type { HostCheck, RuntimeModule, RuntimeOptions } from "../runtime";
import { LAB_ID_RE, NS_PREFIX } from "../state";
import { LABEL } from "./container";
import { DockerRuntime, labContainers, removeDockerLab, type DockerEngine } from "./docker";
import { chooseEngines, engineOf } from "./engines";

/** dockerode for the engine URL (unix://, tcp://, ssh://); none: DOCKER_HOST, else the local socket. */
async function connect(url: string | undefined): Promise<Dockerode> {
  const { connectEngine } = await import("./image");
  return connectEngine(url);
}

/** The engine's clients, each made on first use: queries time out sooner than container create/start/remove. */
export function dockerEngine(url: string | undefined): DockerEngine {
  let query: Promise<Dockerode> | undefined;
  let lifecycle: Promise<Dockerode> | undefined;
  return {
    url,
    connect: () => (query ??= connect(url)),
    lifecycle: () =>
      (lifecycle ??= import("./image").then(({ connectEngine, ENGINE_LIFECYCLE_TIMEOUT_MS }) => connectEngine(url, { timeoutMs: ENGINE_LIFECYCLE_TIMEOUT_MS }))),
  };
}

const imageOfRun = new Map<string, Promise<string>>();

/**
 * The image every lab of this process uses on an engine, resolved once: a run's labs
 * are alike even when dist/ is rebuilt (and the current image changes) meanwhile.
 */
function runImage(docker: Dockerode, url: string | undefined): Promise<string> {
  const key = url ?? "";
  let p = imageOfRun.get(key);
  if (!p) {
    p = nodeImage(docker);
    imageOfRun.set(key, p);
    p.catch(() => imageOfRun.delete(key)); // a failure is not remembered: the next lab asks again
  }
  return p;
}

/** The image to run: VPNLAB_DOCKER_IMAGE when set (a development image), else the one `vpnlab image build` made for this checkout. */
export async function nodeImage(docker: Dockerode): Promise<string> {
  const pinned = process.env.VPNLAB_DOCKER_IMAGE;
  if (pinned) {
    try {
      await docker.getImage(pinned).inspect();
    } catch (e) {
      throw new Error(`VPNLAB_DOCKER_IMAGE names ${pinned}, which the engine does not have (${(e as Error).message.split("\n")[0]}): unset it to use the one \`vpnlab image build\` made`);
    }
    return pinned;
  }
  const { imageRef } = await import("./image");
  return imageRef(docker);
}

/** The lab's engine: --engine, else DOCKER_HOST, else the local socket (engines.ts decides; unparsable: as given, refused by notLocal). */
function engineUrl(opts?: RuntimeOptions): string {
  try {
    return engineOf(opts?.engine).url;
  } catch {
    return opts?.engine ?? "";
  }
}

/**
 * Why no lab can be built on the engine from this host, or undefined: the runtime wires a
 * container's namespace by its PID, which only names it on the host the engine runs on
 * (a remote engine's PID would name some process of this host). Pure, before any call.
 */
export function notLocal(url: string | undefined): string | undefined {
  let local: boolean;
  let name: string;
  try {
    ({ local, url: name } = engineOf(url));
  } catch (e) {
    return (e as Error).message;
  }
  return local ? undefined : `engine ${name}: the docker runtime reaches containers by PID: the engine must run on this host; run vpnlab on that host (e.g. with --shard)`;
}

const REMOTE_SKIPPED = "not on this host: its labs are that host's to list and remove (run vpnlab there)";

/** A tcp:// or ssh:// engine (parsable; an unparsable URL fails where it is used). */
function remoteEngine(url: string | undefined): boolean {
  try {
    return !engineOf(url).local;
  } catch {
    return false;
  }
}

export const dockerRuntime: RuntimeModule = {
  kind: "docker",
  async unavailable(opts) {
    const url = engineUrl(opts);
    const remote = notLocal(url);
    if (remote) return remote;
    if (process.getuid?.() !== 0) return "the docker runtime needs root (it wires the containers' namespaces from the host)";
    const docker = await connect(url);
    const { pingEngine } = await import("./image");
    try {
      await pingEngine(docker, url);
    } catch (e) {
      return (e as Error).message;
    }
    if (!fs.existsSync("/dev/net/tun")) return "/dev/net/tun is missing on this host (modprobe tun)";
    try {
      await nodeImage(docker);
    } catch (e) {
      return (e as Error).message.split("\n")[0];
    }
    return undefined;
  },
  create(labId, state, opts) {
    const url = engineUrl(opts);
    const remote = notLocal(url);
    if (remote) throw new Error(remote);
    state.engine = url;
    // dockerode is loaded and connected on the first node, not here: create() is synchronous
    return new DockerRuntime(labId, state, dockerEngine(url), (d) => runImage(d, url));
  },
  async listObjects(opts) {
    const byLab = new Map<string, string[]>();
    // another host's containers have no record here: they would all look orphaned
    if (notLocal(engineUrl(opts))) return byLab;
    const add = (id: string, what: string) => byLab.set(id, [...(byLab.get(id) ?? []), what]);
    for (const c of await labContainers(await connect(engineUrl(opts)))) {
      const id = c.Labels[LABEL.lab];
      if (LAB_ID_RE.test(id)) add(id, `container ${c.Names[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12)}`);
    }
    // namespace links are this runtime's alone; a lab's bridge namespaces belong to it once it is a docker lab
    const names = await listNamespaces();
    for (const ns of names) {
      const id = labIdOfName(ns, LAB_ID_RE);
      if (id && isNamespaceLink(ns)) add(id, `namespace link ${ns}`);
    }
    for (const ns of names) {
      const id = labIdOfName(ns, LAB_ID_RE);
      if (id && byLab.has(id) && ns.startsWith(`${NS_PREFIX}${id}-net-`)) add(id, `namespace ${ns}`);
    }
    return byLab;
  },
  locations(config, cli) {
    return chooseEngines(cli, config?.engines).map((e) => ({ name: e.url, options: { engine: e.url }, ...(e.local ? {} : { remote: REMOTE_SKIPPED }) }));
  },
  async doctorChecks(config) {
    // every engine a run would spread over, and whether the node image for this build is on it
    const { dockerStatus } = await import("./image");
    const engines = chooseEngines(undefined, config?.engines);
    const checks: HostCheck[] = [];
    for (const e of engines) {
      const d = await dockerStatus(e.url);
      const at = engines.length > 1 ? ` ${d.engine}` : "";
      checks.push({ name: `docker${at}`, ok: !!d.version, detail: d.version ? `engine ${d.version} at ${d.engine}` : (d.unreachable ?? ""), fix: "apt-get install docker.io; scripts/dockerd.sh dev; export DOCKER_HOST=unix:///run/vpnlab-dev/docker.sock (docker runtime only)", required: false });
      if (d.version) checks.push({ name: `docker image${at}`, ok: !!d.image, detail: d.image ? `${d.image} (current)` : (d.imageMissing ?? ""), fix: `vpnlab image build --engine ${d.engine} (offline: debootstrap from the host's Debian mirror)`, required: false });
    }
    return checks;
  },
  async removeLab(labId, state, opts) {
    const url = opts?.engine ?? state?.engine ?? engineUrl();
    // never force-remove another host's containers: a live lab there has no record here
    if (remoteEngine(url)) return { removed: [], left: [] };
    return removeDockerLab(dockerEngine(url), labId, state);
  },
};
