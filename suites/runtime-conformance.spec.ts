// One conformance suite, run against every registered runtime: nets of two
// members (veth) and of more (bridge), addresses, gateways and routes,
// forwarding by role, no way out of the lab (the host's addresses included),
// nothing in the host's namespace, two labs of one topology side by side, and
// everything of the lab gone after down(). A runtime that cannot run here is
// skipped with the reason in the test titles (in CI a missing Docker fails).
import { expect } from "chai";
import * as os from "node:os";
import { Lab } from "../harness/lab";
import { runtimeModule } from "../harness/runtime";
import { parseTopology, selectScenarios } from "../harness/topology/load";
import { hostLinks } from "./host";
import { RUNTIME_KINDS, requireRuntime } from "./runtimes";

const TOPOLOGY = `
name: runtime-check
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 203.0.113.10/24, gw: 203.0.113.1 }] }
  laptop:  { role: host,        links: [{ net: home, ip: 203.0.113.11/24, gw: 203.0.113.1 }] }
  wan:     { role: router,      links: [{ net: home, ip: 203.0.113.1/24 }, { net: edge, ip: 198.51.100.2/24 }],
             routes: [{ to: 10.10.0.0/24, via: 198.51.100.1 }] }
  headend: { role: vpn-headend, links: [{ net: edge, ip: 198.51.100.1/24, gw: 198.51.100.2 }, { net: corp, ip: 10.10.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.10.0.20/24, gw: 10.10.0.1 }] }
vpn:    { client: client, headend: headend, transport: natt }
probe:  { from: client, to: server, rate: 10/s }
expect: survives
`;

/** The host's own IPv4 addresses, loopback excepted (a lab node must reach none of them). */
function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
}

for (const kind of RUNTIME_KINDS) {
  describe(`runtime conformance: ${kind}`, function () {
    this.timeout(120000);
    const [scenario] = selectScenarios(parseTopology(TOPOLOGY, "runtime-check.yaml"), ["base"]);
    let lab: Lab | undefined;
    let linksBefore: string[] = [];

    before(async function () {
      await requireRuntime(this, kind);
      linksBefore = hostLinks();
      lab = await Lab.up(scenario, { runtime: kind });
    });
    after(async () => lab?.down());

    const ping = async (from: string, to: string, l = lab!) =>
      (await l.runtime.exec(from, ["ping", "-c", "1", "-W", "1", to], { allowFailure: true })).code;
    const objectsOf = async (labId: string) => (await (await runtimeModule(kind)).listObjects()).get(labId) ?? [];

    it("is the runtime it was asked for, and its record says so (gc and down find its module by it)", () => {
      expect(lab!.runtime.kind).to.equal(kind);
      expect(lab!.state.runtime).to.equal(kind);
    });

    it("creates no interface in the host's namespace", () => {
      expect(hostLinks()).to.deep.equal(linksBefore);
    });

    it("a three-member net is a bridge: both hosts on it reach each other and their router", async () => {
      expect(await ping("client", "203.0.113.11")).to.equal(0);
      expect(await ping("laptop", "203.0.113.1")).to.equal(0);
    });

    it("gateways and static routes carry traffic across routers (forwarding by role)", async () => {
      expect(await ping("client", "10.10.0.20")).to.equal(0);
      expect(await ping("server", "203.0.113.11")).to.equal(0);
    });

    it("a host does not forward", async () => {
      const r = await lab!.runtime.exec("laptop", ["sysctl", "-n", "net.ipv4.ip_forward"]);
      expect(r.stdout.trim()).to.equal("0");
    });

    it("every node has only lo and its lab nets: no management interface, no second path", async () => {
      for (const n of scenario.nodes) {
        const r = await lab!.runtime.exec(n.name, ["ip", "-o", "link", "show"]);
        const names = r.stdout.split("\n").filter(Boolean).map((l) => l.split(": ")[1].split("@")[0]).sort();
        expect(names, `${n.name}: ${r.stdout}`).to.deep.equal(["lo", ...n.links.map((x) => x.net)].sort());
      }
    });

    it("the lab has no route out, to the Internet or to the host's own addresses", async () => {
      // wan is the lab's "Internet" and has no default route: a public address is unreachable from inside
      const r = await lab!.runtime.exec("wan", ["ip", "route", "get", "192.0.2.200"], { allowFailure: true });
      expect(r.code, r.stdout + r.stderr).to.not.equal(0);
      expect(r.stderr).to.match(/unreachable/i);
      const host = hostAddresses();
      const reached: string[] = [];
      for (const n of scenario.nodes) {
        for (const addr of host) if ((await ping(n.name, addr)) === 0) reached.push(`${n.name} -> ${addr}`);
      }
      expect(reached, `host addresses ${host.join(", ")}`).to.deep.equal([]);
    });

    it("starts a harness program on a node with the runtime's own Node and package", async () => {
      const argv = lab!.runtime.harnessArgv("node", ["-e", "process.stdout.write(process.execPath)"]);
      const child = lab!.runtime.spawn("server", argv);
      let out = "";
      child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      // the node binary that ran is the runtime's (the image's, on docker: a path the host does not have)
      expect({ code, out }).to.deep.equal({ code: 0, out: argv[0] });
    });

    it("a second lab of the same topology runs at the same time, isolated by its own id", async () => {
      const second = await Lab.up(scenario, { runtime: kind });
      try {
        expect(second.labId).to.not.equal(lab!.labId);
        expect(await ping("client", "10.10.0.20", second)).to.equal(0);
        expect(await ping("client", "10.10.0.20")).to.equal(0);
      } finally {
        await second.down();
      }
      expect(await objectsOf(second.labId)).to.deep.equal([]);
    });

    it("down() removes every object of the lab, the bridge's namespace too", async () => {
      const id = lab!.labId;
      expect(await objectsOf(id)).to.include(`namespace vl-${id}-net-home`);
      await lab!.down();
      expect(await objectsOf(id)).to.deep.equal([]);
      expect(hostLinks()).to.deep.equal(linksBefore);
    });
  });
}
