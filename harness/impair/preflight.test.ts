import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseTopology } from "../topology/load";
import { FIXTURES } from "../topology/testdata";
import { nftablesBackend } from "./backends/nftables";
import { netemBackend } from "./backends/netem";
import { BACKENDS } from "./backends";
import { chaosRefusalWith, heldWireRefusal, netemPassive, wireOnFirewall } from "./preflight";

const TOPO = `${readFileSync(path.join(FIXTURES, "good/small.yaml"), "utf8")}phases: { baseline: 1s, chaos: 4s, recovery: 1s }\n`;
const scenario = (chaos: string) => parseTopology(`${TOPO}chaos: ${chaos}\n`, "pre.yaml").base;
const up = () => ({ available: true });
const noNetem = (b: string) => (b === "netem" ? { available: false, reason: "no sch_netem" } : { available: true });

describe("impair preflight: refused before the lab is built", () => {
  const kernelOnly = [netemBackend, nftablesBackend];

  it("drops nftables serves pass, with or without netem (asa-ips' loss, a seeded chosen drop, a flap)", () => {
    const s = scenario("[{ at: 1s, on: headend.corp, loss: 5% }, { at: 2s, on: headend.corp, drop: [5], seed: 3 }, { at: 3s, on: headend.home, flap: { down: 100ms, up: 100ms } }]");
    expect(chaosRefusalWith(s, noNetem, kernelOnly)).to.equal(undefined);
  });
  it("a delay without netem (and without the wire) is refused naming the file, the step's line, the step and each backend's reason", () => {
    const s = scenario("[{ at: 1s, on: headend.home, loss: 5% },\n  { at: 2s, on: headend.corp, burst: { delay: 100ms, length: 1s, every: 2s } }]");
    const why = chaosRefusalWith(s, noNetem, kernelOnly);
    expect(why).to.match(/^pre\.yaml:12: the chaos step on headend\.corp \(burst 1\/1: on\) cannot run on this host — no backend can apply "delay 100ms": netem is not available here \(no sch_netem\); nftables cannot express delayMs/);
    expect(chaosRefusalWith(s, up, kernelOnly), "with netem it runs").to.equal(undefined);
  });
  it("a seed on random loss: nftables refuses it (its generator is the kernel's), so it needs another backend", () => {
    const s = scenario("[{ at: 1s, on: headend.corp, loss: 5%, seed: 1 }]");
    expect(chaosRefusalWith(s, noNetem, kernelOnly)).to.match(/nftables cannot express seed/);
  });
  it("a fault the wire would serve on the firewall's node is refused at its line, naming why and the hops next to it; nftables' drops there stay", () => {
    const mini = parseTopology(readFileSync(path.join(FIXTURES, "mini.yaml"), "utf8"), "mini.yaml").base;
    const on = (chaos: string) => ({ ...mini, chaos: parseTopology(readFileSync(path.join(FIXTURES, "mini.yaml"), "utf8").replace(/^chaos:[\s\S]*?(?=^\S)/m, `chaos: ${chaos}\n`), "mini.yaml").base.chaos });
    expect(mini.firewall?.node).to.equal("firewall");
    // a delay: without netem only the wire serves it
    const delay = on("[{ at: 2s, on: wan.edge, loss: 5% },\n  { at: 3s, on: firewall.dmz, delay: 100ms }]");
    const why = chaosRefusalWith(delay, noNetem, BACKENDS);
    expect(why).to.match(/^mini\.yaml:\d+: the chaos step on firewall\.dmz cannot run — it needs the userspace wire, which cannot run on firewall, the node that carries the firewall: each packet would pass its conntrack twice/);
    expect(why).to.contain("impair a hop next to it instead (wan.edge, headend.dmz)");
    expect(chaosRefusalWith(delay, up, BACKENDS), "with netem, netem serves it: no refusal").to.equal(undefined);
    // node-wide and seeded loss (nftables refuses the seed, so the wire would take it)
    expect(chaosRefusalWith(on("[{ at: 2s, on: firewall, loss: 5%, seed: 3 }]"), noNetem, BACKENDS)).to.match(/the chaos step on firewall cannot run — it needs the userspace wire/);
    // nftables' drops on the firewall, and the wire's work next to it, pass
    expect(chaosRefusalWith(on("[{ at: 2s, on: firewall.edge, loss: 5% }, { at: 3s, on: firewall, drop: [2] }, { at: 4s, on: wan.edge, delay: 100ms }]"), noNetem, BACKENDS)).to.equal(undefined);
    expect(wireOnFirewall(mini, "firewall", "nftables")).to.equal(undefined);
    expect(wireOnFirewall(mini, "wan", "wire")).to.equal(undefined);
  });
  it("vpnlab impair's check: the wire on the firewall's node refused, nftables' drops and other nodes not", async () => {
    const mini = parseTopology(readFileSync(path.join(FIXTURES, "mini.yaml"), "utf8"), "mini.yaml").base;
    const netemHere = netemPassive().available;
    const delay = await heldWireRefusal(mini, "firewall", { impairment: { delayMs: 100 } });
    if (netemHere) expect(delay, "netem serves a delay on this host").to.equal(undefined);
    else expect(delay).to.match(/^it needs the userspace wire, which cannot run on firewall/);
    expect(await heldWireRefusal(mini, "firewall", { impairment: { loss: { kind: "random", percent: 5 } } })).to.equal(undefined);
    expect(await heldWireRefusal(mini, "wan", { impairment: { delayMs: 100 } })).to.equal(undefined);
  });
  it("netem from the host's files: loaded, built in, or a loadable module — else a reason", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "vl-netem-"));
    const root2 = mkdtempSync(path.join(os.tmpdir(), "vl-netem-"));
    try {
      const r = `${root}/`;
      expect(netemPassive(r).available).to.equal(false);
      expect(netemPassive(r).reason).to.match(/no \/sys\/module\/sch_netem/);
      const mods = path.join(root, "lib/modules", os.release());
      mkdirSync(path.join(mods, "kernel/net/sched"), { recursive: true });
      writeFileSync(path.join(mods, "modules.builtin"), "kernel/net/sched/sch_htb.ko\n");
      expect(netemPassive(r).available).to.equal(false);
      writeFileSync(path.join(mods, "kernel/net/sched/sch_netem.ko.zst"), "");
      expect(netemPassive(r).available).to.equal(true);
      mkdirSync(path.join(root2, "sys/module/sch_netem"), { recursive: true });
      expect(netemPassive(`${root2}/`).available).to.equal(true);
    } finally {
      for (const d of [root, root2]) rmSync(d, { recursive: true, force: true });
    }
  });
});
