// Run by link-safety.test.ts as PID 1 of a fresh PID, mount and network
// namespace (unshare -p -f --mount-proc -n): "the host" here is the sandbox,
// so a teardown that wrongly took the host's processes for a lab's could only
// kill the sandbox's. Each case sets up namespace links of a fake docker lab,
// removes the lab, and reports what survived; the test asserts on the report.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type Dockerode from "dockerode";
import { DockerRuntime, removeDockerLab } from "./docker/docker";
import type { NetSpec, NodeSpec } from "../topology/model";
import { NETNS_DIR, createNamespace, listNamespaces, removeNamespaces, staleLink } from "./namespaces";
import { netnsRuntime } from "./netns";
import { removeNetnsLab } from "./netns/netns";
import { removeLab, type LabInfo } from "../gc";
import { processStart, readState, removeState, writeState, type LabState, type LinkOwner } from "./state";

const LAB = process.argv[2];

function sleeper(argv: string[]): ChildProcess {
  const c = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
  c.on("error", () => undefined);
  return c;
}

async function settled(pid: number): Promise<string> {
  // unshare/nsenter exec their program: wait until the PID runs `sleep`
  for (let i = 0; i < 100; i++) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep") break;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = processStart(pid);
  if (s === undefined) throw new Error(`pid ${pid} is gone`);
  return s;
}

function link(node: string, pid: number): string {
  const name = `vl-${LAB}-${node}`;
  fs.mkdirSync(NETNS_DIR, { recursive: true });
  fs.rmSync(`${NETNS_DIR}/${name}`, { force: true });
  fs.symlinkSync(`/proc/${pid}/ns/net`, `${NETNS_DIR}/${name}`);
  return name;
}

function labState(runtime: "docker" | "netns", links: Record<string, LinkOwner>): LabState {
  return { labId: LAB, runtime, topology: "t", variant: "v", file: "f", ownerPid: 999999, holder: "run", ownerStart: "0", created: new Date().toISOString(), namespaces: Object.keys(links), pids: [], links };
}

const alive = (c: ChildProcess) => c.pid !== undefined && processStart(c.pid) !== undefined;
function linked(name: string): boolean {
  try {
    fs.lstatSync(`${NETNS_DIR}/${name}`);
    return true;
  } catch {
    return false;
  }
}

// the engine holds no container of the lab (it was stopped, or the containers went): only the links are left
const noContainers = { listContainers: async () => [] } as unknown as Dockerode;
const noEngine = () => Promise.reject(new Error("no engine in the sandbox"));
const dockerRemoval = (state: LabState | undefined) => removeDockerLab({ connect: async () => noContainers, lifecycle: noEngine }, LAB, state);

/** What the netns runtime lists and removes of a docker lab with this record. */
async function netnsRemoval(state: LabState): Promise<{ listed: string[]; removal: unknown }> {
  writeState(state);
  try {
    const listed = (await netnsRuntime.listObjects()).get(LAB) ?? [];
    return { listed, removal: await removeNetnsLab(LAB, state) };
  } finally {
    removeState(LAB);
  }
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  const kids: ChildProcess[] = [];
  const start = (argv: string[]) => { const c = sleeper(argv); kids.push(c); return c; };

  // 1. a link into the host's namespace, even with a matching record (the last line of defence)
  {
    const host = start(["sleep", "600"]);
    const s = await settled(host.pid!);
    const n = link("client", host.pid!);
    const state = labState("docker", { [n]: { pid: host.pid!, start: s } });
    out.hostNs = { stale: staleLink(n, state.links![n]), removal: await dockerRemoval(state), sleepAlive: alive(host), linkLeft: linked(n) };
  }
  // 2. a PID whose start time is not the recorded one (a recycled PID): only unlinked
  {
    const other = start(["unshare", "-n", "sleep", "600"]);
    const s = await settled(other.pid!);
    const n = link("firewall", other.pid!);
    const state = labState("docker", { [n]: { pid: other.pid!, start: String(Number(s) + 1) } });
    out.recycled = { stale: staleLink(n, state.links![n]), removal: await dockerRemoval(state), sleepAlive: alive(other), linkLeft: linked(n) };
  }
  // 3. no record of the link at all (a record from before links were recorded, or none): only unlinked
  {
    const other = start(["unshare", "-n", "sleep", "600"]);
    await settled(other.pid!);
    const n = link("headend", other.pid!);
    out.unrecorded = { stale: staleLink(n, undefined), removal: await dockerRemoval(undefined), sleepAlive: alive(other), linkLeft: linked(n) };
  }
  // 4. control: a live, recorded link's namespace still has its stray (a host process inside it) killed
  {
    const node = start(["unshare", "-n", "sleep", "600"]);
    const s = await settled(node.pid!);
    const stray = start(["nsenter", "-t", String(node.pid!), "-n", "sleep", "600"]);
    await settled(stray.pid!);
    const n = link("server", node.pid!);
    const state = labState("docker", { [n]: { pid: node.pid!, start: s } });
    out.live = { stale: staleLink(n, state.links![n]) ?? null, removal: await dockerRemoval(state), nodeAlive: alive(node), strayAlive: alive(stray), linkLeft: linked(n) };
  }
  // 5. the netns runtime never touches a docker lab's link, even one its record lists
  {
    const node = start(["unshare", "-n", "sleep", "600"]);
    const s = await settled(node.pid!);
    const n = link("wan", node.pid!);
    const state = labState("docker", { [n]: { pid: node.pid!, start: s } });
    out.netns = { ...(await netnsRemoval(state)), sleepAlive: alive(node), linkLeft: linked(n) };
    fs.rmSync(`${NETNS_DIR}/${n}`, { force: true });
  }
  // 6. a running lab whose container died: exec and a host program in the node refuse, rather than run in whatever the PID now is
  {
    const host = start(["sleep", "600"]);
    const s = await settled(host.pid!);
    const n = link("client", host.pid!);
    const state = labState("docker", { [n]: { pid: host.pid!, start: s } });
    const rt = new DockerRuntime(LAB, state, { connect: noEngine, lifecycle: noEngine }, () => Promise.reject(new Error("no image")));
    const refused = (f: () => unknown): Promise<string> => Promise.resolve().then(f).then(() => "ran", (e: Error) => e.message);
    out.running = {
      exec: await refused(() => rt.exec("client", ["true"])),
      spawn: await refused(() => rt.spawn("client", ["sleep", "1"], { fromHost: true })),
      configure: await refused(() => rt.configureNode({ name: "client", role: "client", links: [], routes: [] } as unknown as NodeSpec)),
      wire: await refused(() => rt.createNet({ name: "lan", members: [{ node: "client" }, { node: "wan" }] } as unknown as NetSpec)),
    };
    // the container's init was recorded with another start (its PID now some other process's): nsenter refuses
    (rt as unknown as { started: Map<string, unknown> }).started.set("client", { pid: host.pid!, start: "1", confine: { cgroupProcs: [], caps: [] } });
    out.running = { ...(out.running as object), enter: await refused(() => rt.spawn("client", ["sleep", "1"])) };
    fs.rmSync(`${NETNS_DIR}/${n}`, { force: true });
  }
  // 7. a lab whose engine cannot be reached: its stale link and bridge namespace still go; its record goes
  // only when the engine's socket no longer exists (a socket path that is there but refuses keeps it)
  for (const [key, socketThere] of [["engineGone", false], ["engineRefuses", true]] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-gone-engine-"));
    const socket = path.join(dir, "docker.sock");
    if (socketThere) fs.writeFileSync(socket, ""); // not a socket: connecting is refused
    const other = start(["unshare", "-n", "sleep", "600"]);
    const s = await settled(other.pid!);
    const n = link("client", other.pid!);
    const bridge = `vl-${LAB}-net-lan`;
    await createNamespace(bridge);
    const state = { ...labState("docker", { [n]: { pid: other.pid!, start: String(Number(s) + 1) } }), engine: `unix://${socket}` };
    state.namespaces.push(bridge);
    writeState(state);
    const info: LabInfo = { labId: LAB, state, alive: false, objects: [], runtimes: ["docker"], locations: [], places: {} };
    const removal = await removeLab(info);
    out[key] = { removal, sleepAlive: alive(other), linkLeft: linked(n), bridgeLeft: (await listNamespaces()).includes(bridge), recordLeft: readState(LAB) !== undefined };
    removeState(LAB);
    await removeNamespaces([bridge]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const k of kids) k.kill("SIGKILL");
  process.stdout.write(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String((e as Error).stack ?? e));
    process.exit(1);
  },
);
