// Test support for the report tests: a hand-made ScenarioResult (no lab run).
import type { ProxyMechanism } from "../firewall/mechanism";
import type { PhaseDelivery } from "../probe/phases";
import type { ScenarioResult } from "../scenario";

export function phase(name: PhaseDelivery["phase"], sent: number, delivered: number, rttMsP50?: number): PhaseDelivery {
  return { phase: name, startMs: 0, durationMs: 1000, sent, delivered, delivery: sent === 0 ? NaN : delivered / sent, rttMsP50 };
}

export function mechanism(m: Partial<ProxyMechanism> = {}): ProxyMechanism {
  return { proxied: true, clientBytesSent: 0, proxyBytesReceived: 0, stalledBytes: 0, oooPackets: 0, heldMemory: 0, forwardedOut: 0, ...m };
}

/** A cTCP run behind the builtin full proxy that failed as expected; override what a test is about. */
export function scenarioResult(r: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    topology: "asa-ips",
    file: "topologies/asa-ips.yaml",
    variant: "ctcp-builtin",
    transport: "ctcp",
    impl: "reference",
    firewallMode: "full-proxy",
    proxy: "builtin",
    expect: "fails",
    outcome: "verdict",
    verdict: "fails",
    passed: true,
    reasons: ["the tunnel went down during chaos"],
    labId: "abcde",
    runtime: "netns",
    startedAt: "2026-11-27T07:00:00.000Z",
    timing: { setupMs: 900, tunnelUpMs: 300, scenarioMs: 8000, totalMs: 9876 },
    tunnel: { inner: "172.29.0.2", clientDownAtMs: 4321 },
    phases: [phase("baseline", 100, 100, 1.5), phase("chaos", 200, 150), phase("recovery", 100, 0)],
    buckets: [],
    chaos: [{ atMs: 2000, appliedAtMs: 2003, on: "wan.edge", action: "loss 5%", backend: "nftables" }],
    captures: [],
    evidence: {},
    ...r,
  };
}
