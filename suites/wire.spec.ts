// The userspace wire on a real lab's interface, on every runtime that can
// run here: delay, loss and duplicates as configured through wan's edge
// (traffic client → headend, forwarded by wan), the Impairer choosing the wire
// where netem is missing, and lab.down() leaving no wire process behind.
import { expect } from "chai";
import { Lab } from "../harness/lab";
import { wireBackend, wireStats } from "../harness/impair/backends/wire";
import { udpRun } from "../harness/impair/backends/wire/testkit";
import { wireNames, type WireState } from "../harness/impair/backends/wire/plan";
import type { BackendContext } from "../harness/impair/backends/types";
import { processStart } from "../harness/runtime/state";
import { run } from "../harness/exec";
import { listLabs, removeLab } from "../harness/gc";
import { parseTopology, selectScenarios } from "../harness/topology/load";
import * as fs from "node:fs";
import { RUNTIME_KINDS, requireRuntime } from "./runtimes";

const TOPOLOGY = `
name: wire-check
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 203.0.113.10/24, gw: 203.0.113.1 }] }
  wan:     { role: router,      links: [{ net: home, ip: 203.0.113.1/24 }, { net: edge, ip: 198.51.100.2/24 }],
             routes: [{ to: 10.10.0.0/24, via: 198.51.100.1 }] }
  headend: { role: vpn-headend, links: [{ net: edge, ip: 198.51.100.1/24, gw: 198.51.100.2 }, { net: corp, ip: 10.10.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.10.0.20/24, gw: 10.10.0.1 }] }
vpn:    { client: client, headend: headend, transport: natt }
probe:  { from: client, to: server, rate: 10/s }
expect: survives
`;

const within = (got: number, want: number, tol: number): boolean => Math.abs(got - want) <= tol;

for (const kind of RUNTIME_KINDS) {
  describe(`wire on a lab: ${kind}`, function () {
    this.timeout(180_000);
    const [scenario] = selectScenarios(parseTopology(TOPOLOGY, "wire-check.yaml"), ["base"]);
    let lab: Lab | undefined;
    let ctx: BackendContext;

    before(async function () {
      await requireRuntime(this, kind);
      lab = await Lab.up(scenario, { runtime: kind });
      ctx = { exec: lab.runtime, runtime: lab.runtime, dir: lab.dir };
    });
    after(async () => lab?.down());

    it("wan's edge, egress: delay 100 ms, loss 10 %, duplicate 10 % measured on client → headend datagrams", async () => {
      const detail = (await wireBackend.apply(ctx, "wan", "edge", { impairment: { delayMs: 100, loss: { kind: "random", percent: 10 }, duplicate: 10 }, direction: "egress", seed: 99 })).detail;
      const m = await udpRun(lab!.runtime, "client", "headend", "198.51.100.1", 1500, { gapMs: 2 });
      const s = await wireStats(lab!.dir, "wan", "edge");
      const nums = `loss ${m.lossPercent.toFixed(2)}%, duplicate ${m.duplicatePercent.toFixed(2)}%, median one-way ${m.medianDelayMs.toFixed(2)} ms; wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}; ${detail}`;
      expect(within(m.lossPercent, 10, 3), nums).to.equal(true);
      // netem's way: a packet both lost and duplicated goes once, so copies are 10 % of the 90 % that survive
      expect(within(m.duplicatePercent, 9, 3), nums).to.equal(true);
      expect(within(m.medianDelayMs, 100, 10), nums).to.equal(true);
      // the lab's own chatter (the tunnel's keepalives) passes wan's edge too: at least the datagrams were seen
      expect(s!.seen, nums).to.be.at.least(1500);
      await wireBackend.clear(ctx, "wan", "edge", "egress");
      expect(await wireStats(lab!.dir, "wan", "edge"), "the wire still answers after clear").to.equal(undefined);
    });

    it("seeded loss (which nftables cannot replay) goes to the wire without netem; its clear record counts what it dropped", async () => {
      // with netem, netem serves it when its tc takes a seed, else the wire
      const allowed = fs.existsSync("/sys/module/sch_netem") ? ["netem", "wire"] : ["wire"];
      const port = 41010;
      const [r] = await lab!.impair({ node: "wan", net: "edge" }, { impairment: { loss: { kind: "random", percent: 20 } }, match: { proto: "udp", dport: port }, seed: 5 });
      expect(allowed, JSON.stringify(r)).to.include(r.backend);
      const m = await udpRun(lab!.runtime, "client", "headend", "198.51.100.1", 1000, { port });
      await lab!.clear({ node: "wan", net: "edge" });
      const rec = lab!.impairer.applied.filter((a) => a.node === "wan" && a.dev === "edge").at(-1);
      const nums = `receiver lost ${m.missing.length} of 1000 (${m.lossPercent}%); clear record ${JSON.stringify(rec)}`;
      expect(rec?.action, nums).to.equal("clear");
      expect(rec?.dropped?.packets, nums).to.equal(m.missing.length);
      expect(within(m.lossPercent, 20, 3), nums).to.equal(true);
    });

    it("a SIGKILLed lab's wire: what gc does for that lab stops it", async () => {
      // a lab owner that dies without teardown, its wire running
      const script = `
        const { Lab } = require(${JSON.stringify(require.resolve("../harness/lab"))});
        const { parseTopology, selectScenarios } = require(${JSON.stringify(require.resolve("../harness/topology/load"))});
        const [scenario] = selectScenarios(parseTopology(process.argv[1], "wire-check.yaml"), ["base"]);
        Lab.up(scenario, { runtime: process.argv[2] }).then(async (lab) => {
          const [r] = await lab.impair({ node: "wan", net: "edge" }, { impairment: { delayMs: 20, duplicate: 1 } });
          process.stdout.write(JSON.stringify({ labId: lab.labId, dir: lab.dir, backend: r.backend }) + "\\n", () => process.kill(process.pid, "SIGKILL"));
        }, (e) => { process.stderr.write(String(e.stack)); process.exit(1); });
      `;
      const r = await run([process.execPath, "-e", script, TOPOLOGY, kind], { allowFailure: true, timeoutMs: 120_000 });
      const got = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as { labId?: string; dir?: string; backend?: string };
      expect(got.labId, `${r.stdout} ${r.stderr}`).to.be.a("string");
      const st = JSON.parse(fs.readFileSync(wireNames(got.dir!, "wan", "edge").stateFile, "utf8")) as WireState;
      expect(got.backend).to.equal("wire");
      expect(processStart(st.hostPid!), "the wire runs on after its lab's owner was killed").to.not.equal(undefined);
      const info = (await listLabs()).find((l) => l.labId === got.labId);
      expect(info?.alive, JSON.stringify(info)).to.equal(false);
      const removal = await removeLab(info!);
      expect(removal.left, JSON.stringify(removal)).to.deep.equal([]);
      expect(processStart(st.hostPid!), `wire ${st.hostPid} after gc of lab ${got.labId}`).to.equal(undefined);
    });

    it("lab.impair serves delay through the wire where netem is missing, and lab.down() stops it", async () => {
      const netem = fs.existsSync("/sys/module/sch_netem");
      const [r] = await lab!.impair({ node: "headend", net: "edge" }, { impairment: { delayMs: 50 }, direction: "ingress" });
      expect(r.backend, JSON.stringify(r)).to.equal(netem ? "netem" : "wire");
      if (netem) return;
      const m = await udpRun(lab!.runtime, "client", "headend", "198.51.100.1", 300, { gapMs: 3 });
      expect(within(m.medianDelayMs, 50, 5), `median one-way ${m.medianDelayMs.toFixed(2)} ms, loss ${m.lossPercent}%: ${r.detail}`).to.equal(true);
      const n = wireNames(lab!.dir, "headend", "edge", "ingress");
      const st = JSON.parse(fs.readFileSync(n.stateFile, "utf8")) as WireState;
      expect(st.hostPid, JSON.stringify(st)).to.be.a("number");
      await lab!.down();
      lab = undefined;
      expect(processStart(st.hostPid!), `wire process ${st.hostPid} after down`).to.equal(undefined);
    });
  });
}
