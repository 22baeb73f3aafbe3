import { expect } from "chai";
import { DEFAULT_OVERHEAD_MS, Progress, duration, phaseAt, type PlannedScenario } from "./progress";

const plan: PlannedScenario[] = [
  { label: "asa-ips/base", phases: { baselineMs: 3000, chaosMs: 5000, recoveryMs: 4000 } },
  { label: "asa-ips/natt", phases: { baselineMs: 3000, chaosMs: 5000, recoveryMs: 4000 } },
];

/** A Progress on a fake clock and a fake stream; `tty` is the fake terminal flag. */
function fake(tty: boolean, jobs = 1, columns?: number) {
  const clock = { t: 1_000_000 };
  const written: string[] = [];
  const p = new Progress(plan, { tty, jobs, write: (s) => written.push(s), now: () => clock.t, columns });
  return { p, clock, written, text: () => written.join("") };
}

describe("cli/progress", () => {
  it("names the phase by the scenario's own windows after the lab-up overhead", () => {
    const o = 2000;
    expect([0, 1999, 2000, 4999, 5000, 9999, 10000, 13999, 14000].map((t) => phaseAt(plan[0], t, o))).to.deep.equal([
      "lab up", "lab up", "baseline", "baseline", "chaos", "chaos", "recovery", "recovery", "verdict",
    ]);
  });

  it("durations read as a person says them", () => {
    expect([0, 9_400, 65_000, 3_600_000 + 5 * 60_000].map(duration)).to.deep.equal(["0s", "9s", "1m05s", "1h05m"]);
  });

  it("on a terminal: one line rewritten in place — scenario k of n, phase, elapsed and remaining", () => {
    const { p, clock, written } = fake(true);
    p.start(0);
    clock.t += DEFAULT_OVERHEAD_MS + 4000; // 1 s into chaos
    p.tickEvery(60_000); // the timer itself is not waited for: render through start/print
    p.print("a log line");
    const last = written[written.length - 1];
    expect(last.startsWith("\r"), JSON.stringify(last)).to.equal(true);
    expect(last).to.contain("scenario 1 of 2: asa-ips/base — chaos");
    expect(last).to.contain("12s elapsed");
    // planned: 8 + 12 + 1.5 = 21.5 s each; 12 s used of the first, the second not started → 9.5 + 21.5 = 31 s
    expect(last).to.contain("~31s left");
    expect(written.join("")).to.not.match(/\n\r[^\n]*\n/); // the progress line itself never ends in a newline
    p.end();
    expect(written[written.length - 1]).to.equal("\r\x1b[K");
  });

  it("a finished scenario prints its line above the progress line, and its measured setup replaces the guess", () => {
    const { p, clock, written } = fake(true);
    p.start(0);
    clock.t += 20_000;
    p.finish(0, "fails (expected fails)", 2000);
    expect(written).to.include("[1/2] asa-ips/base: fails (expected fails)\n");
    expect(p.overheadMs()).to.equal(2000);
    p.start(1);
    expect(written[written.length - 1]).to.contain("scenario 2 of 2: asa-ips/natt — lab up");
    // 2 + 12 + 1.5 s planned for the second, nothing used yet
    expect(p.remainingMs()).to.equal(15_500);
    p.end();
  });

  it("with several jobs the remaining time is shared among them", () => {
    const { p } = fake(true, 2);
    expect(p.remainingMs()).to.equal((2 * (DEFAULT_OVERHEAD_MS + 12_000 + 1500)) / 2);
  });

  it("not on a terminal: plain lines only — no carriage return, no escape, no ticking line", () => {
    const { p, clock, text } = fake(false);
    p.tickEvery(1);
    p.start(0);
    clock.t += 30_000;
    p.finish(0, "survives (expected survives)");
    p.print("done");
    p.end();
    expect(text()).to.equal("[1/2] asa-ips/base: started\n[1/2] asa-ips/base: survives (expected survives)\ndone\n");
  });

  it("the line is cut to the terminal's width so it never wraps", () => {
    const { p } = fake(true, 1, 30);
    p.start(0);
    expect(p.line().length).to.be.lessThan(30);
    p.end();
  });
});
