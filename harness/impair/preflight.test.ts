import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseTopology } from "../topology/load";
import { FIXTURES } from "../topology/testdata";
import { nftablesBackend } from "./backends/nftables";
import { netemBackend } from "./backends/netem";
import { chaosRefusalWith, netemPassive } from "./preflight";

const TOPO = `${readFileSync(path.join(FIXTURES, "good/small.yaml"), "utf8")}phases: { baseline: 1s, chaos: 4s, recovery: 1s }\n`;
const scenario = (chaos: string) => parseTopology(`${TOPO}chaos: ${chaos}\n`, "pre.yaml").base;
const up = () => ({ available: true });
const noNetem = (b: string) => (b === "netem" ? { available: false, reason: "no sch_netem" } : { available: true });

describe("impair preflight: refused before the lab is built", () => {
  const kernelOnly = [netemBackend, nftablesBackend];

  it("drops nftables serves pass, with or without netem (asa-ips' loss, a seeded chosen drop, a flap)", () => {
    const s = scenario("[{ at: 1s, on: headend.corp, loss: 5% }, { at: 2s, on: headend.corp, drop: [5], seed: 3 }, { at: 3s, on: headend, flap: { down: 100ms, up: 100ms } }]");
    expect(chaosRefusalWith(s, noNetem, kernelOnly)).to.equal(undefined);
  });
  it("a delay without netem (and without the wire) is refused naming the file, the step's line, the step and each backend's reason", () => {
    const s = scenario("[{ at: 1s, on: headend.corp, loss: 5% },\n  { at: 2s, on: headend.corp, burst: { delay: 100ms, length: 1s, every: 2s } }]");
    const why = chaosRefusalWith(s, noNetem, kernelOnly);
    expect(why).to.match(/^pre\.yaml:12: the chaos step on headend\.corp \(burst 1\/1: on\) cannot run on this host — no backend can apply "delay 100ms": netem is not available here \(no sch_netem\); nftables cannot express delayMs/);
    expect(chaosRefusalWith(s, up, kernelOnly), "with netem it runs").to.equal(undefined);
  });
  it("a seed on random loss: nftables refuses it (its generator is the kernel's), so it needs another backend", () => {
    const s = scenario("[{ at: 1s, on: headend.corp, loss: 5%, seed: 1 }]");
    expect(chaosRefusalWith(s, noNetem, kernelOnly)).to.match(/nftables cannot express seed/);
  });
  it("netem from the host's files: loaded, built in, or a loadable module — else a reason", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "vl-netem-"));
    const r = `${root}/`;
    expect(netemPassive(r).available).to.equal(false);
    expect(netemPassive(r).reason).to.match(/no \/sys\/module\/sch_netem/);
    const mods = path.join(root, "lib/modules", os.release());
    mkdirSync(path.join(mods, "kernel/net/sched"), { recursive: true });
    writeFileSync(path.join(mods, "modules.builtin"), "kernel/net/sched/sch_htb.ko\n");
    expect(netemPassive(r).available).to.equal(false);
    writeFileSync(path.join(mods, "kernel/net/sched/sch_netem.ko.zst"), "");
    expect(netemPassive(r).available).to.equal(true);
    const root2 = mkdtempSync(path.join(os.tmpdir(), "vl-netem-"));
    mkdirSync(path.join(root2, "sys/module/sch_netem"), { recursive: true });
    expect(netemPassive(`${root2}/`).available).to.equal(true);
  });
});
