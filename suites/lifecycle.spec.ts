// What a user relies on around the scenarios: bad input is refused with
// file:line and exit 2 before anything is created; a lab killed with SIGKILL
// is swept by `vpnlab gc`; `vpnlab down` stops a held lab.
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processStart } from "../harness/runtime/state";
import { CreationWatch, NETNS_DIR, type Created, type WatchedRun } from "./creation-watch";
import { exited, hostLinks, labNamespaces, suiteTmp, waitForLine } from "./host";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");
const BAD = path.join(ROOT, "harness", "topology", "fixtures", "bad");
// a lab that builds and runs in about two seconds: what the creation watch must see
const SHORT_LAB = `
name: watch-check
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 203.0.113.10/24, gw: 203.0.113.1 }] }
  wan:     { role: router,      links: [{ net: home, ip: 203.0.113.1/24 }, { net: edge, ip: 198.51.100.2/24 }] }
  headend: { role: vpn-headend, links: [{ net: edge, ip: 198.51.100.1/24, gw: 198.51.100.2 }, { net: corp, ip: 10.10.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.10.0.20/24, gw: 10.10.0.1 }] }
vpn:    { client: client, headend: headend, transport: natt }
probe:  { from: client, to: server, rate: 10/s }
phases: { baseline: 1s, chaos: 0s, recovery: 1s }
expect: survives
`;

function labInterfacesOnHost(): string[] {
  // nothing of a lab is ever created in the host namespace: check the names a lab uses
  const names = ["home", "edge", "dmz", "corp", "tun-vpn", "br-lab"];
  return hostLinks().filter((n) => names.includes(n));
}

function vpnlab(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}


describe("vpnlab command line", function () {
  this.timeout(90000);

  before(function () {
    expect(labNamespaces(), "lab namespaces left over from an earlier test").to.deep.equal([]);
  });

  describe("bad input exits 2 with file:line and creates nothing", function () {
    // not only nothing left: no lab namespace and no lab record may appear at any moment of a bad-input run
    let watch: CreationWatch;
    before(() => (watch = CreationWatch.start()));
    after(() => watch?.stop());

    const refused = async (args: string[]): Promise<WatchedRun> => {
      const r = await watch.run(BIN, args);
      const show = (xs: Created[]) => xs.map((c) => `${path.join(c.dir, c.name)} at +${c.atMs} ms (owner ${c.ownerPid ?? "unknown"})`).join("; ");
      expect(r.created, `created while \`vpnlab ${args.join(" ")}\` ran: ${show(r.created)}; other labs meanwhile: ${show(r.foreign) || "none"}\n${r.stderr}`).to.deep.equal([]);
      return r;
    };

    const fixtures = fs.readdirSync(BAD).filter((f) => f.endsWith(".yaml")).sort();
    it(`has bad-input fixtures to check (${fixtures.length})`, () => expect(fixtures.length).to.be.greaterThan(20));
    for (const f of fixtures) {
      it(f, async function () {
        const r = await refused(["run", path.join(BAD, f)]);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr, r.stderr).to.match(new RegExp(`${f.replace(/\./g, "\\.")}:\\d+:\\d+: `));
      });
    }
    it("an unknown variant on the command line", async function () {
      const r = await refused(["run", TOPO, "--variant", "nat-t"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/asa-ips\.yaml:\d+:\d+: variants: unknown variant `nat-t` — did you mean `natt`\?/);
    });
    it("a missing file", async function () {
      const r = await refused(["run", "/nonexistent/lab.yaml"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("/nonexistent/lab.yaml");
    });
    it("an unknown command", async function () {
      const r = await refused(["fly"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("unknown command fly");
    });
    it("the watch is not blind: a real run's record and namespaces are reported", async function () {
      // the same check on a run that does build a lab must see it, or the tests above prove nothing
      const file = path.join(suiteTmp(), "watch.yaml");
      fs.writeFileSync(file, SHORT_LAB);
      try {
        const r = await watch.run(BIN, ["run", file]);
        const ids = [...new Set(r.created.map((c) => c.labId))];
        const what = `created: ${r.created.map((c) => path.join(c.dir, c.name)).join(", ")}\n${r.stderr}`;
        expect(ids.length, what).to.equal(1);
        expect(r.created.filter((c) => c.dir !== NETNS_DIR).map((c) => c.name), what).to.include(ids[0]);
        expect(r.created.filter((c) => c.dir === NETNS_DIR).length, what).to.be.at.least(4);
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });

  it("exits 1 when a verdict differs from its expect, and says so in the table", function () {
    const file = path.join(suiteTmp(), "mismatch.yaml");
    // the natt remedy survives; claiming it fails must be reported as a mismatch, not hidden
    fs.writeFileSync(file, fs.readFileSync(TOPO, "utf8").replace("natt:              { vpn: { transport: natt, port: 4500 }, expect: survives }", "natt:              { vpn: { transport: natt, port: 4500 }, expect: fails }"));
    try {
      const r = vpnlab(["run", file, "--variant", "natt"]);
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      expect(r.stdout).to.match(/natt\s+natt\s+full-proxy\/builtin\s+fails\s+survives .*MISMATCH/);
      expect(r.stdout).to.contain("0 as expected, 1 not, 0 lab error(s)");
    } finally {
      fs.rmSync(file, { force: true });
    }
    expect(labNamespaces()).to.deep.equal([]);
  });

  it("gc removes every namespace, interface and process of a lab whose owner was SIGKILLed", async function () {
    // ctcp-haproxy: HAProxy does not watch its stdin, so it outlives its owner and only gc can end it
    const up = spawn(BIN, ["up", TOPO, "--variant", "ctcp-haproxy"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/ctcp-haproxy\) is up/, 30000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    const nss = labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`));
    expect(nss.length, `namespaces of lab ${labId}`).to.equal(5);
    const pidsIn = (ns: string) => spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);
    const pids = nss.flatMap(pidsIn);
    expect(pids.length, "agents and the proxy run inside the lab").to.be.greaterThan(2);

    up.kill("SIGKILL");
    await exited(up);
    await new Promise((r) => setTimeout(r, 500)); // the agents notice their stdin closed and leave
    const survivors = nss.flatMap(pidsIn).filter((p) => processStart(p) !== undefined);
    expect(survivors.length, "HAProxy in the firewall namespace survives its owner until gc").to.be.greaterThan(0);
    const ls = vpnlab(["ls"]);
    expect(ls.stdout).to.match(new RegExp(`${labId} .*orphaned`));

    const gc = vpnlab(["gc"]);
    expect(gc.code, gc.stderr).to.equal(0);
    expect(gc.stdout).to.contain(`removed 1 lab(s), 5 namespace(s)`);
    expect(labNamespaces()).to.deep.equal([]);
    expect(labInterfacesOnHost()).to.deep.equal([]);
    const alive = pids.filter((p) => processStart(p) !== undefined);
    expect(alive, "processes of the killed lab still running").to.deep.equal([]);
    expect(fs.existsSync(`/run/vpnlab/${labId}`)).to.equal(false);
  });

  for (const ms of [300, 600, 1000, 2500]) {
    it(`SIGTERM ${ms} ms into a run (building the lab, starting agents, or mid-scenario) leaves nothing behind`, async function () {
      const run = spawn(BIN, ["run", TOPO, "--variant", "natt"], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      run.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
      await new Promise((r) => setTimeout(r, ms));
      run.kill("SIGTERM");
      await exited(run);
      expect(labNamespaces(), stderr).to.deep.equal([]);
      expect(labInterfacesOnHost(), stderr).to.deep.equal([]);
      const left = fs.existsSync("/run/vpnlab") ? fs.readdirSync("/run/vpnlab").filter((d) => /^[0-9a-f]{5}$/.test(d)) : [];
      expect(left, `lab records left\n${stderr}`).to.deep.equal([]);
    });
  }

  it("down refuses a lab held by a run, and says whose it is", async function () {
    const run = spawn(BIN, ["run", TOPO, "--variant", "natt"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let labId: string | undefined;
      for (let i = 0; i < 100 && !labId; i++) {
        await new Promise((r) => setTimeout(r, 100));
        labId = fs.existsSync("/run/vpnlab") ? fs.readdirSync("/run/vpnlab").find((d) => /^[0-9a-f]{5}$/.test(d)) : undefined;
      }
      expect(labId, "the run created a lab").to.be.a("string");
      const down = vpnlab(["down", labId!]);
      expect(down.code).to.equal(2);
      expect(down.stderr).to.contain(`belongs to a running \`vpnlab run\``);
      expect(run.exitCode, "the run goes on").to.equal(null);
    } finally {
      run.kill("SIGTERM");
      await exited(run);
    }
    expect(labNamespaces()).to.deep.equal([]);
  });

  it("down stops a lab held by `vpnlab up`, and its owner tears everything down", async function () {
    const up = spawn(BIN, ["up", TOPO, "--variant", "natt"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/natt\) is up/, 30000);
    const labId = line.match(/lab ([0-9a-f]{5})/)![1];
    const down = vpnlab(["down", labId]);
    expect(down.code, down.stderr).to.equal(0);
    await exited(up);
    expect(up.exitCode ?? up.signalCode).to.equal(143);
    expect(labNamespaces()).to.deep.equal([]);
  });
});
