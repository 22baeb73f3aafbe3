// ls, down and gc over several Docker engines (VPNLAB_ENGINES, as .ci/run
// sets it): a lab held on the SECOND engine and SIGKILLed is found there —
// through its record by `vpnlab down`, and through vpnlab's labels alone by
// `vpnlab gc` when its record is gone — and removed, leaving nothing in
// `docker ps -a` or `docker network ls` of either engine nor in `ip link`;
// a container without vpnlab's labels on that engine survives gc. And
// `vpnlab run --engine A --engine B` puts its scenarios on both (the parity
// suite compares the verdicts of a whole spread run with netns).
// Needs two engines; without them it is skipped naming that (in CI it fails).
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { nodeImage } from "../harness/runtime/docker";
import { chooseEngines } from "../harness/runtime/docker/engines";
import { connectEngine } from "../harness/runtime/docker/image";
import { newLabId, processStart, readState, removeState } from "../harness/runtime/state";
import { exited, hostLinks, labNamespaces, waitForLine } from "./host";
import { requireRuntime } from "./runtimes";
import { removeStaleStrangers, strangerLabels } from "./test-containers";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");

/** The docker CLI on one engine: what a user would look at. */
function dockerCli(engine: string, args: string[]): string[] {
  const r = spawnSync("docker", ["-H", engine, ...args], { encoding: "utf8", timeout: 30000 });
  if (r.status !== 0) throw new Error(`docker -H ${engine} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).sort();
}
const containersOf = (engine: string, labId: string) => dockerCli(engine, ["ps", "-a", "--format", "{{.Names}}", "--filter", `label=vpnlab.lab=${labId}`]);
const namedLike = (engine: string, labId: string) => dockerCli(engine, ["ps", "-a", "--format", "{{.Names}}"]).filter((n) => n.includes(labId));
const networks = (engine: string) => dockerCli(engine, ["network", "ls", "--format", "{{.Name}}"]);

describe("docker runtime over two engines: run spreads over both; ls, down and gc find a lab on the second", function () {
  this.timeout(120000);
  const engines = chooseEngines(undefined, undefined, process.env).map((e) => e.url);
  const [first, second] = engines;
  /** Both engines configured, the first as the default one: only the engine list (or the record) leads to the second. */
  const env = { ...process.env, VPNLAB_ENGINES: engines.join(","), DOCKER_HOST: first };
  let up: ChildProcess | undefined;

  before(async function () {
    if (engines.length < 2) {
      const why = `needs two Docker engines (VPNLAB_ENGINES=URL1,URL2), got ${engines.join(", ") || "none"}`;
      if (process.env.CI === "true") throw new Error(`CI starts two engines: ${why}`);
      for (const t of this.test?.parent?.tests ?? []) t.title += ` (skipped: ${why})`;
      this.skip();
    }
    for (const e of engines) await requireRuntime(this, "docker", { engine: e });
    for (const e of engines) await removeStaleStrangers(await connectEngine(e));
  });

  afterEach(async () => {
    if (up && up.exitCode === null && up.signalCode === null) up.kill("SIGTERM");
    if (up) await exited(up);
    up = undefined;
  });

  /** `vpnlab up --engine SECOND` of ctcp-haproxy (HAProxy outlives its owner: only a sweep ends it), then SIGKILLed. */
  async function orphanOnSecond(): Promise<{ labId: string; pids: number[] }> {
    up = spawn(BIN, ["up", TOPO, "--variant", "ctcp-haproxy", "--runtime", "docker", "--engine", second], { env, stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/ctcp-haproxy\) is up/, 60000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    expect(containersOf(second, labId).length, `containers of lab ${labId} on ${second}`).to.equal(5);
    expect(containersOf(first, labId), `containers of lab ${labId} on ${first}`).to.deep.equal([]);
    expect(readState(labId)?.engine, "the record names the engine").to.equal(second);
    const pids = labNamespaces()
      .filter((n) => n.startsWith(`vl-${labId}-`))
      .flatMap((ns) => spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number));
    up.kill("SIGKILL");
    await exited(up);
    const ls = spawnSync(BIN, ["ls"], { encoding: "utf8", env });
    expect(ls.stdout, ls.stderr).to.match(new RegExp(`${labId} .*orphaned.*docker +${second.replace(/[/.]/g, "\\$&")}`));
    return { labId, pids };
  }

  /** Nothing of the lab on either engine or on the host. */
  function nothingLeft(labId: string, pids: number[], linksBefore: string[], networksBefore: string[][], what: string): void {
    for (const e of engines) expect(namedLike(e, labId), `docker -H ${e} ps -a: containers of lab ${labId} after ${what}`).to.deep.equal([]);
    expect(engines.map(networks), `docker network ls on ${engines.join(", ")}`).to.deep.equal(networksBefore);
    expect(labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`)), `namespaces of lab ${labId}`).to.deep.equal([]);
    expect(hostLinks(), "ip link of the host").to.deep.equal(linksBefore);
    expect(pids.filter((p) => processStart(p) !== undefined), `processes of lab ${labId} still running`).to.deep.equal([]);
    expect(readState(labId), `the record of lab ${labId}`).to.equal(undefined);
  }

  it("vpnlab run with two --engine's puts scenarios on both, and the JSON names each result's engine", function () {
    const r = spawnSync(BIN, ["run", TOPO, "--runtime", "docker", "-v", "natt,esp", "--engine", first, "--engine", second, "-j", "2", "--json"], { encoding: "utf8", env, timeout: 110000 });
    const doc = JSON.parse(r.stdout || "{}") as { results?: { variant: string; engine?: string; verdict?: string; expect: string; runtime: string }[] };
    const got = (doc.results ?? []).map((x) => `${x.variant} on ${x.engine} (${x.runtime}): ${x.verdict ?? "lab error"}, expected ${x.expect}`).join("\n");
    expect(r.status, `exit of vpnlab run\n${got}\n${r.stderr}`).to.equal(0);
    expect((doc.results ?? []).map((x) => x.engine).sort(), `engines named by the results\n${got}`).to.deep.equal([first, second].sort());
    expect(doc.results?.every((x) => x.runtime === "docker" && x.verdict === x.expect), got).to.equal(true);
  });

  it("gc, with both engines configured, removes a SIGKILLed lab of the second engine found by its labels alone (record gone), and spares an unlabelled container there", async () => {
    const linksBefore = hostLinks();
    const networksBefore = engines.map(networks);
    const stranger = await (await connectEngine(second)).createContainer({
      name: `vl-${newLabId()}-client`,
      Image: await nodeImage(await connectEngine(second)),
      Cmd: ["sleep", "infinity"],
      Labels: strangerLabels(), // not vpnlab's: a killed run's is removed by the next run's before()
      HostConfig: { NetworkMode: "none" },
    });
    try {
      await stranger.start();
      const { labId, pids } = await orphanOnSecond();
      removeState(labId); // only the containers' labels on the second engine say where the lab is
      const r = spawnSync(BIN, ["gc"], { encoding: "utf8", env, timeout: 60000 });
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout, r.stdout).to.match(/\b5 container\(s\)/);
      expect(r.stdout, r.stdout).to.contain(`container vl-${labId}-firewall`);
      nothingLeft(labId, pids, linksBefore, networksBefore, "gc");
      const s = await stranger.inspect();
      expect(s.State.Running, `the unlabelled container ${s.Name} on the second engine still runs`).to.equal(true);
    } finally {
      await stranger.remove({ force: true });
    }
  });

  it("down reaches a SIGKILLed lab of the second engine through its record, with only the first engine as DOCKER_HOST", async () => {
    const linksBefore = hostLinks();
    const networksBefore = engines.map(networks);
    const { labId, pids } = await orphanOnSecond();
    const r = spawnSync(BIN, ["down", labId], { encoding: "utf8", env: { ...env, VPNLAB_ENGINES: "" }, timeout: 60000 });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`lab ${labId} down`);
    nothingLeft(labId, pids, linksBefore, networksBefore, "down");
  });
});
