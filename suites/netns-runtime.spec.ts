// The netns runtime on its own: nets of two members (veth) and of more
// (bridge), addresses, gateways and routes, forwarding by role, no way out of
// the lab, nothing in the host's namespace, and everything gone after down().
import { expect } from "chai";
import { Lab } from "../harness/lab";
import { parseTopology, selectScenarios } from "../harness/topology/load";
import { hostLinks, labNamespaces } from "./host";

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

describe("netns runtime", function () {
  this.timeout(60000);
  const [scenario] = selectScenarios(parseTopology(TOPOLOGY, "runtime-check.yaml"), ["base"]);
  let lab: Lab | undefined;
  let linksBefore: string[] = [];

  before(async function () {
    linksBefore = hostLinks();
    lab = await Lab.up(scenario);
  });
  after(async () => lab?.down());

  const ping = async (from: string, to: string) =>
    (await lab!.runtime.exec(from, ["ping", "-c", "1", "-W", "1", to], { allowFailure: true })).code;

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

  it("the lab has no route out", async () => {
    // wan is the lab's "Internet" and has no default route: a public address is unreachable from inside
    const r = await lab!.runtime.exec("wan", ["ip", "route", "get", "192.0.2.200"], { allowFailure: true });
    expect(r.code, r.stdout + r.stderr).to.not.equal(0);
    expect(r.stderr).to.match(/unreachable/i);
  });

  it("a second lab of the same topology runs at the same time, isolated by its own id", async () => {
    const second = await Lab.up(scenario);
    try {
      expect(second.labId).to.not.equal(lab!.labId);
      expect((await second.runtime.exec("client", ["ping", "-c", "1", "-W", "1", "10.10.0.20"], { allowFailure: true })).code).to.equal(0);
      expect(await ping("client", "10.10.0.20")).to.equal(0);
    } finally {
      await second.down();
    }
    expect(labNamespaces().filter((n) => n.startsWith(`vl-${second.labId}-`))).to.deep.equal([]);
  });

  it("down() removes every namespace of the lab, the bridge's too", async () => {
    const id = lab!.labId;
    expect(labNamespaces()).to.include(`vl-${id}-net-home`);
    await lab!.down();
    expect(labNamespaces().filter((n) => n.startsWith(`vl-${id}-`))).to.deep.equal([]);
    expect(hostLinks()).to.deep.equal(linksBefore);
  });
});
