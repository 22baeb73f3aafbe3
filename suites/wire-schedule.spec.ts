// A schedule served by the wire keeps its windows: the wire's program is up
// before the probe and stays up between the windows (a step's clear keeps it),
// so each burst window is a quick reconfiguration at its time. Before, each
// window started a new program (1-2 s) and each clear drained and stopped it,
// and a 300 ms window hit only a few echoes while the timeline looked on time.
import { expect } from "chai";
import { runScenario } from "../harness/scenario";
import { parseTopology, selectScenarios } from "../harness/topology/load";
import { requireRuntime } from "./runtimes";

// loss with a correlation: nftables cannot serve it, netem is missing here: the wire does
const TOPOLOGY = `
name: wire-schedule
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 203.0.113.10/24, gw: 203.0.113.1 }] }
  wan:     { role: router,      links: [{ net: home, ip: 203.0.113.1/24 }, { net: edge, ip: 198.51.100.2/24 }],
             routes: [{ to: 10.10.0.0/24, via: 198.51.100.1 }] }
  headend: { role: vpn-headend, links: [{ net: edge, ip: 198.51.100.1/24, gw: 198.51.100.2 }, { net: corp, ip: 10.10.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.10.0.20/24, gw: 10.10.0.1 }] }
vpn:    { client: client, headend: headend, transport: natt, dpd: { interval: 1s, retries: 5 } }
probe:  { from: client, to: server, rate: 100/s }
phases: { baseline: 2s, chaos: 4s, recovery: 3s }
seed: 5
chaos:  [{ at: 2500ms, on: wan.edge, burst: { loss: { random: 100%, correlation: 25% }, length: 300ms, every: 1s, count: 3 } }]
expect: survives
`;

describe("wire on a lab: a burst schedule keeps its windows", function () {
  this.timeout(180_000);

  before(async function () {
    await requireRuntime(this, "netns");
  });

  it("each 300 ms window of 100 % loss costs the probe at least half the echoes it sent in it; every step's effect time is recorded", async () => {
    const [scenario] = selectScenarios(parseTopology(TOPOLOGY, "wire-schedule.yaml"), ["base"]);
    const r = await runScenario({ ...scenario, runtime: "netns" });
    expect(r.outcome, `${r.error ?? ""} ${r.reasons.join("; ")}`).to.equal("verdict");
    const steps = r.chaos.filter((c) => c.schedule);
    const windows = [0, 2, 4].map((i) => {
      const [on, off] = [steps[i], steps[i + 1]];
      // the echoes the probe sent in the planned window, and how many of them came back
      const buckets = r.buckets.filter((b) => b.t >= on.atMs && b.t < off.atMs);
      const sent = buckets.reduce((n, b) => n + b.sent, 0);
      const lost = buckets.reduce((n, b) => n + b.sent - b.delivered, 0);
      return { planned: `${on.atMs}-${off.atMs}`, effective: `${on.effectiveAtMs}-${off.effectiveAtMs}`, backend: on.backend, sent, lost, late: [on.late ?? false, off.late ?? false] };
    });
    const nums = JSON.stringify(windows);
    expect(steps, nums).to.have.length(6);
    for (const w of windows) {
      expect(w.backend, nums).to.equal("wire");
      expect(w.lost, nums).to.be.at.least(w.sent / 2);
    }
    for (const s of steps) {
      expect(s.effectiveAtMs, nums).to.be.a("number");
      // the mark says what the numbers say
      expect(s.late ?? false, nums).to.equal(s.effectiveAtMs! - s.atMs > 100);
    }
  });
});
