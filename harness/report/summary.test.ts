import { expect } from "chai";
import { hostLine, proxyEvidence, summarize } from "./summary";
import { mechanism, phase, scenarioResult } from "./testkit";

const linesOf = (text: string): string[] => text.split("\n");

describe("report/summary", () => {
  it("opens with what ran and what came out, then the reasons", () => {
    const lines = linesOf(summarize(scenarioResult({ reasons: ["a", "b"] })));
    expect(lines[0]).to.equal("asa-ips/ctcp-builtin: ctcp via full-proxy/builtin — expected fails, got fails");
    expect(lines.slice(1, 3)).to.deep.equal(["  because a", "  because b"]);
  });

  it("says the outcome when there is no verdict, and the error", () => {
    const text = summarize(scenarioResult({ verdict: undefined, outcome: "lab-error", error: "tunnel never came up", firewallMode: "route", proxy: undefined }));
    expect(linesOf(text)[0]).to.equal("asa-ips/ctcp-builtin: ctcp via route — expected fails, got lab-error");
    expect(text).to.contain("\n  error: tunnel never came up");
  });

  it("one line per phase: delivered/sent, the percentage ('-' when nothing was sent), the rtt only when measured", () => {
    const lines = linesOf(summarize(scenarioResult({ phases: [phase("baseline", 100, 99, 2.5), phase("chaos", 0, 0), phase("recovery", 8, 2)] })));
    expect(lines).to.include("  baseline  99/100 delivered (99.0%), rtt p50 2.5 ms");
    expect(lines).to.include("  chaos     0/0 delivered (-)");
    expect(lines).to.include("  recovery  2/8 delivered (25.0%)");
  });

  it("a phase's probe counters follow when measured: RTT spread, duplicates, reorder and the lost seqs (the first 20)", () => {
    const chaos = { ...phase("chaos", 50, 40, 101), rttMsMean: 98.5, rttMsP95: 120, rttMsMax: 130, duplicates: 8, duplicateRate: 0.2, reordered: 4, reorderRate: 0.1, lostSeqs: Array.from({ length: 25 }, (_, i) => 100 + i) };
    const quiet = { ...phase("baseline", 50, 50, 1), rttMsMean: 1.2, rttMsP95: 2, rttMsMax: 3, duplicates: 0, duplicateRate: 0, reordered: 0, reorderRate: 0, lostSeqs: [] };
    const lines = linesOf(summarize(scenarioResult({ phases: [quiet, chaos] })));
    expect(lines).to.include("  baseline  50/50 delivered (100.0%), rtt p50 1 ms, mean 1.2 ms, p95 2 ms, max 3 ms");
    const lost = Array.from({ length: 20 }, (_, i) => 100 + i).join(",");
    expect(lines).to.include(`  chaos     40/50 delivered (80.0%), rtt p50 101 ms, mean 98.5 ms, p95 120 ms, max 130 ms, 8 duplicated (20.0%), 4 reordered (10.0%), lost seqs ${lost},… (25)`);
  });

  it("the tcp-stream line: bytes by send time per phase, with the goodput by arrival when measured", () => {
    const tcp = { phases: [{ phase: "chaos" as const, bytes: 500000, kbitPerSec: 1000, arrivedBytes: 600000, goodputKbitPerSec: 960 }], bytesWritten: 0, bytesReceived: 0, connections: 1, connected: true, lasted: true, survived: true };
    expect(summarize(scenarioResult({ tcp }))).to.contain("\n  tcp-stream: chaos 500000 B (1000 kbit/s, goodput 960 kbit/s); the connection lasted");
  });

  it("the tunnel line says 'never' for a side that did not go down, and the chaos steps with their backend", () => {
    const text = summarize(scenarioResult({ tunnel: { inner: "172.29.0.2", headendDownAtMs: 3100 } }));
    expect(text).to.contain("\n  tunnel: up as 172.29.0.2; client DPD down never ms; headend DPD down 3100 ms");
    expect(text).to.contain("\n  chaos @2003 ms wan.edge: loss 5% [nftables]");
    const noBackend = summarize(scenarioResult({ tunnel: {}, chaos: [{ atMs: 0, appliedAtMs: 7, on: "wan", action: "clear" }] }));
    expect(noBackend).to.contain("\n  tunnel: up as -;");
    expect(noBackend).to.contain("\n  chaos @7 ms wan: clear\n");
  });

  it("a seeded run: the seed with the command that replays it, and each step's seed and schedule", () => {
    const chaos = [{ atMs: 2000, appliedAtMs: 2001, on: "wan.edge", action: "partition (drop everything)", seed: 99, schedule: "flap 1/2: down", backend: "nftables" }];
    const text = summarize(scenarioResult({ seed: 5, chaos }));
    expect(text).to.contain("\n  seed 5 (replay: vpnlab run topologies/asa-ips.yaml -v ctcp-builtin --seed 5)\n");
    expect(text).to.contain("\n  chaos @2001 ms wan.edge: partition (drop everything) seed 99 (flap 1/2: down) [nftables]");
    expect(summarize(scenarioResult({}))).not.to.contain("seed");
  });

  describe("the proxy line", () => {
    const atRecoveryStart = mechanism({ clientBytesSent: 6000, proxyBytesReceived: 4000 });
    const atEnd = mechanism({ clientBytesSent: 9000, proxyBytesReceived: 4500, stalledBytes: 4500, oooPackets: 12, heldMemory: 8192, forwardedOut: 4400 });

    it("full-proxy: the stall in numbers, with the in-order bytes received during recovery", () => {
      const text = summarize(scenarioResult({ evidence: { proxy: { atRecoveryStart, atEnd } } }));
      const line = linesOf(text).find((l) => l.startsWith("  proxy:"));
      expect(line).to.equal(
        "  proxy: client sent 9000 B, proxy received in order 4500 B (500 B of it during recovery), stalled 4500 B, rcv_ooopack 12, skmem r 8192 B, forwarded to the headend 4400 B",
      );
      expect(text.endsWith(line as string), "the proxy line comes last").to.equal(true);
    });

    it("full-proxy without a measurement at the start of recovery says '-' for the recovery bytes", () => {
      // the type wants both; an older result (or a failed measurement) may lack the first
      const partial = { atEnd } as unknown as { atRecoveryStart: typeof atEnd; atEnd: typeof atEnd };
      const text = summarize(scenarioResult({ evidence: { proxy: partial } }));
      expect(text).to.contain("proxy received in order 4500 B (-), stalled 4500 B");
    });

    it("full-proxy that carried no connection of the flow says so", () => {
      const notProxied = mechanism({ proxied: false });
      expect(summarize(scenarioResult({ evidence: { proxy: { atRecoveryStart: notProxied, atEnd: notProxied } } }))).to.contain(
        "\n  proxy: carried no connection of this flow (not inspected, or bypassed)",
      );
      // no evidence at all reads the same way, never as a crash or zeros presented as a stall
      expect(summarize(scenarioResult({ evidence: {} }))).to.contain("\n  proxy: carried no connection of this flow");
      expect(proxyEvidence(scenarioResult({ evidence: {} })).proxied).to.equal(false);
    });

    it("is absent for any other firewall mode, even with proxy evidence", () => {
      for (const firewallMode of ["stateful", "route", "none"]) {
        const text = summarize(scenarioResult({ firewallMode, proxy: undefined, evidence: { proxy: { atRecoveryStart, atEnd } } }));
        expect(text, firewallMode).to.not.contain("proxy:");
      }
    });
  });
});

describe("report/summary: the host and the lab's longest stall", () => {
  it("names the sentinel's worst stall, the CPU pressure, and the endpoint that stalled with when; unsent probes in the phase line", () => {
    const r = scenarioResult({
      phases: [phase("baseline", 100, 100), phase("chaos", 200, 190), { ...phase("recovery", 1000, 899), unsent: 100 }],
      evidence: {
        host: { sentinelStallMs: 13, sentinelStallAt: 6100, sentinelPid: 4242, cpuSomeShare: 0.041, cpuSomeAvg10: 3.25 },
        endpointStall: { what: "the agent on client (the VPN client: its tunnel and the probe's sender)", node: "client", ms: 3005, atMs: 14_499 },
      },
    });
    const text = summarize(r);
    expect(text).to.contain(
      "  host: overload sentinel (pid 4242) worst stall 13 ms at 6.10 s, CPU pressure some 4.1% (avg10 3.3%); longest stall in the lab: the agent on client (the VPN client: its tunnel and the probe's sender) 3005 ms at 14.50 s",
    );
    expect(text).to.contain("  recovery  899/1000 delivered (89.9%), 100 due but never sent (the sender was held up)");
    expect(hostLine(scenarioResult())).to.equal(undefined);
  });
});
