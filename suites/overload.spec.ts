// A frozen VPN endpoint is a verdict about the VPN; a frozen host is a lab
// error. Issue 14: the overload judgement used to come from the agents'
// own event loops — the very processes that carry the tunnel and the probe —
// so a headend frozen for 3 s in recovery was reported as "the host was
// overloaded" (exit 2), and a frozen client was not seen at all (its probe
// froze with it, and the probes it never sent were not counted). Now:
//  - the headend's or the client's agent stopped (SIGSTOP) for 3 s in the
//    middle of a 20 s recovery: `degraded`, with about (3 s − timeout) of
//    the recovery's probes lost, and the stall named in the reasons;
//  - the overload sentinel stopped instead: a lab error that names it.
// asa-ips `natt` (a remedy that survives its 5 % loss), on the netns runtime.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { publishResult } from "../harness/report/allure";
import { runScenario, type PhaseEvent, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import type { Scenario } from "../harness/topology/model";
import { mapPool } from "../harness/pool";
import { summarize } from "../harness/report/summary";

const TOPO = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
const FREEZE_MS = 3000;

const cmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
};

/** The processes this suite has stopped and not yet resumed: resumed whatever ends the run (a failure, a signal). */
const frozen = new Set<number>();
const thawAll = () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      /* gone */
    }
  }
  frozen.clear();
};
process.on("exit", thawAll);

/** Stop a process for `ms`, starting `afterMs` into the recovery phase; resolves with when it was stopped and resumed. */
function freezeIn(pidOf: (e: PhaseEvent) => number, afterMs: number, ms: number) {
  const done: { stoppedAt?: number; resumedAt?: number; pid?: number; error?: string } = {};
  const onPhase = (e: PhaseEvent) => {
    if (e.phase !== "recovery") return;
    setTimeout(() => {
      try {
        const pid = pidOf(e);
        done.pid = pid;
        frozen.add(pid);
        process.kill(pid, "SIGSTOP");
        const stopped = Date.now();
        done.stoppedAt = stopped - e.start;
        // a timer may fire a millisecond before its delay by the wall clock (it counts from the loop's cached
        // time): the process stays stopped until the clock the test reads says `ms` have passed
        const resume = () => {
          const left = ms - (Date.now() - stopped);
          if (left > 0) return void setTimeout(resume, left);
          process.kill(pid, "SIGCONT");
          frozen.delete(pid);
          done.resumedAt = Date.now() - e.start;
        };
        setTimeout(resume, ms);
      } catch (err) {
        done.error = (err as Error).message;
      }
    }, afterMs);
  };
  return { onPhase, done };
}

const agentPid = (node: string) => (e: PhaseEvent) => {
  const pid = e.lab.agents.get(node)?.pid;
  if (!pid || !/agent\/main\.js/.test(cmdline(pid))) throw new Error(`no agent process for ${node} (pid ${pid}: ${pid ? cmdline(pid) : "-"})`);
  return pid;
};

describe("overload: a frozen endpoint is the VPN's verdict, a frozen sentinel is a lab error (issue 14)", function () {
  this.timeout(300_000);
  const [natt] = selectScenarios(loadTopology(TOPO), ["natt"]);
  const long: Scenario = { ...natt, phases: { ...natt.phases, recoveryMs: 20_000 } };
  const runs = new Map<string, { r: ScenarioResult; done: ReturnType<typeof freezeIn>["done"] }>();

  after(thawAll);

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
    // the two endpoint freezes side by side (each its own lab); the sentinel, shared by both, only after them
    const endpoints = ["headend", "client"].map((node) => ({ node, f: freezeIn(agentPid(node), 8_000, FREEZE_MS) }));
    const rs = await mapPool(endpoints, 2, ({ f }) => runScenario(long, { onPhase: f.onPhase }));
    endpoints.forEach(({ node, f }, i) => runs.set(node, { r: rs[i], done: f.done }));
    const s = freezeIn((e) => e.sentinelPid!, 3_000, 1_500);
    runs.set("sentinel", { r: await runScenario({ ...natt, phases: { ...natt.phases, recoveryMs: 8_000 } }, { onPhase: s.onPhase }), done: s.done });
  });

  for (const node of ["headend", "client"]) {
    it(`the ${node}'s agent stopped for 3 s in the middle of a 20 s recovery: degraded, about (3 s − the probe timeout) of the recovery lost, the stall named — not a lab error, not survives`, async () => {
      const { r, done } = runs.get(node)!;
      await publishResult(r);
      const recovery = r.phases.find((p) => p.phase === "recovery")!;
      const frozeFor = (done.resumedAt ?? 0) - (done.stoppedAt ?? 0);
      const timeoutMs = long.probe.timeoutMs;
      // what was due while the endpoint could not answer within the timeout: (freeze − timeout) of the 20 s
      const expected = 1 - Math.max(0, frozeFor - timeoutMs) / long.phases.recoveryMs;
      const msg = `${summarize(r)}\nfroze ${node} (pid ${done.pid}) ${done.stoppedAt}..${done.resumedAt} ms (${frozeFor} ms)${done.error ? `; ${done.error}` : ""}; recovery ${recovery.delivered}/${recovery.sent} (${recovery.unsent ?? 0} never sent), expected ≈ ${(expected * 100).toFixed(1)} %; host ${JSON.stringify(r.evidence.host)}; endpoint ${JSON.stringify(r.evidence.endpointStall)}`;
      expect(done.error, msg).to.equal(undefined);
      expect(frozeFor, msg).to.be.at.least(FREEZE_MS);
      expect(r.outcome, msg).to.equal("verdict");
      expect(r.verdict, msg).to.equal("degraded");
      expect(recovery.delivery, msg).to.be.within(expected - 0.03, expected + 0.03);
      // the endpoint's stall is evidence, with when it happened; the sentinel ran on time meanwhile
      expect(r.evidence.endpointStall?.node, msg).to.equal(node);
      expect(r.evidence.endpointStall?.ms, msg).to.be.at.least(FREEZE_MS - 100);
      expect(r.evidence.endpointStall?.atMs, msg).to.be.within(done.stoppedAt! - 100, done.stoppedAt! + 100);
      expect(r.reasons.join("\n"), msg).to.match(new RegExp(`the agent on ${node} .* stalled \\d+ ms at [\\d.]+ s — the endpoint's own process`));
      expect(r.evidence.host?.sentinelStallMs, msg).to.be.below(250);
      // the client's own probes that fell due while it was stopped are counted, never skipped
      if (node === "client") expect(recovery.unsent, msg).to.be.at.least(Math.floor(((frozeFor - timeoutMs) * long.probe.ratePerSec) / 1000) - 5);
    });
  }

  it("the overload sentinel stopped for 1.5 s instead: a lab error that names the sentinel, its stall and the CPU pressure", async () => {
    const { r, done } = runs.get("sentinel")!;
    await publishResult(r);
    const msg = `${summarize(r)}\nfroze the sentinel (pid ${done.pid}) ${done.stoppedAt}..${done.resumedAt} ms${done.error ? `; ${done.error}` : ""}; host ${JSON.stringify(r.evidence.host)}`;
    expect(done.error, msg).to.equal(undefined);
    expect(r.outcome, msg).to.equal("lab-error");
    expect(r.error, msg).to.match(new RegExp(`^the host was overloaded: the overload sentinel \\(pid ${done.pid}\\), a process apart from the lab, stalled (\\d+) ms at [\\d.]+ s \\(cut-off 500 ms\\); CPU pressure: `));
    expect(r.evidence.host?.sentinelStallMs, msg).to.be.at.least(1400);
  });
});
