import { expect } from "chai";
import { parseCpuPressure, pressureShare } from "./pressure";
import { Sentinel } from "./index";
import { StallClock, stallsIn, STALL_PERIOD_MS } from "./stalls";

describe("sentinel/stalls: how late a timer ran, and when", () => {
  it("a gap beyond the period is a stall kept with the moment the timer was due", () => {
    let now = 1000;
    const c = new StallClock(() => now);
    c.start();
    c.stop(); // driven by hand below
    for (const step of [10, 12, 10, 3010, 10, 45]) {
      now += step;
      c.tick();
    }
    expect(c.stalls).to.deep.equal([
      { at: 1032 + STALL_PERIOD_MS, ms: 3000 }, // last run 1032, next due 1042, ran at 4042
      { at: 4052 + STALL_PERIOD_MS, ms: 35 },
    ]);
  });
  it("stallsIn: the stalls overlapping a window, longest first", () => {
    const s = [
      { at: 100, ms: 50 },
      { at: 1000, ms: 3000 },
      { at: 5000, ms: 30 },
    ];
    expect(stallsIn(s, 3500, 6000)).to.deep.equal([{ at: 1000, ms: 3000 }, { at: 5000, ms: 30 }]);
    expect(stallsIn(s, 160, 999)).to.deep.equal([]);
  });
});

describe("sentinel/pressure: PSI cpu", () => {
  it("parses /proc/pressure/cpu and gives the share of a window some task waited", () => {
    const a = parseCpuPressure("some avg10=2.27 avg60=2.90 avg300=0.88 total=3152194\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 10_000);
    expect(a).to.deep.equal({ someAvg10: 2.27, someTotalUs: 3152194, at: 10_000 });
    const b = parseCpuPressure("some avg10=80.00 avg60=20.00 avg300=5.00 total=4652194\n", 12_000);
    expect(pressureShare(a!, b!)).to.equal(0.75); // 1.5 s of waiting in 2 s
    expect(parseCpuPressure("garbage", 0)).to.equal(undefined);
  });
});

describe("sentinel: a process apart from the lab", function () {
  this.timeout(20_000);
  it("runs on time on a quiet window; stopped (SIGSTOP) for 700 ms it reports a stall of that length at that moment, and exits when released", async () => {
    const s = await Sentinel.acquire();
    const pid = s.pid!;
    try {
      const quiet = s.open();
      await new Promise((r) => setTimeout(r, 300));
      const q = await s.close(quiet);
      expect(q.sentinelPid).to.equal(pid);
      const w = s.open();
      const stoppedAt = Date.now();
      process.kill(pid, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 700));
      process.kill(pid, "SIGCONT");
      const load = await s.close(w);
      expect(load.sentinelStallMs, JSON.stringify(load)).to.be.at.least(650);
      expect(load.sentinelStallAt! - stoppedAt, JSON.stringify(load)).to.be.within(-STALL_PERIOD_MS * 2, 200);
      // a window after it does not see it
      const after = s.open();
      await new Promise((r) => setTimeout(r, 200));
      expect((await s.close(after)).sentinelStallMs, "the window after the stall").to.be.below(650);
    } finally {
      await s.release();
    }
    expect(() => process.kill(pid, 0), `sentinel pid ${pid} after release`).to.throw();
  });
  it("a sentinel stopped at the window's close is reported stalled since its last beat (the close does not hang)", async () => {
    const s = await Sentinel.acquire();
    const pid = s.pid!;
    try {
      const w = s.open();
      process.kill(pid, "SIGSTOP");
      const t = Date.now();
      const load = await s.close(w);
      expect(Date.now() - t, "close waits a bounded time").to.be.below(5000);
      expect(load.sentinelStallMs, JSON.stringify(load)).to.be.at.least(1500);
    } finally {
      process.kill(pid, "SIGCONT");
      await s.release();
    }
  });
  it("a sentinel killed during a window says so; the next hold starts a new one", async () => {
    const s = await Sentinel.acquire();
    const pid = s.pid!;
    try {
      const w = s.open();
      process.kill(pid, "SIGKILL");
      const load = await s.close(w);
      expect(load.sentinelExited, JSON.stringify(load)).to.equal("exited (SIGKILL)");
      const t = await Sentinel.acquire();
      expect(t.pid).to.not.equal(pid);
      await t.release();
      expect(() => process.kill(t.pid!, 0), `the new sentinel (pid ${t.pid}) after its last release`).to.throw();
    } finally {
      await s.release();
    }
  });
  it("one process for the labs side by side: a second hold shares it, the last release ends it", async () => {
    const [a, b] = await Promise.all([Sentinel.acquire(), Sentinel.acquire()]);
    expect(a.pid).to.equal(b.pid);
    await a.release();
    expect(() => process.kill(b.pid!, 0), "alive while held").not.to.throw();
    await b.release();
    expect(() => process.kill(b.pid!, 0)).to.throw();
  });
});
