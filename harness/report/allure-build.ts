// One scenario as an Allure test: labels to group by, parameters to compare, a description in
// words, a step per stage placed at its measured times, and the evidence as attachments. Pure:
// the writers (allure.ts into a running mocha test, allure-files.ts into a results directory)
// decide where it goes.
import { STALL_FLOOR_MS } from "../probe/verdict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { Status, type Label, type Parameter, type StatusDetails } from "allure-js-commons";
import type { ChaosRecord, ScenarioResult } from "../scenario";
import { firstDownMs } from "../scenario";
import { describeSelection } from "../impair/fault";
import type { Scenario } from "../topology/model";
import { describeScenario, formatDescription } from "./describe";
import { SCENARIO_LABEL } from "./allure-env";
import { summarize } from "./summary";
import { renderTimeline } from "./timeline";

export interface AttachmentSpec {
  name: string;
  contentType: string;
  fileExtension: string;
  /** The content, or the file holding it (a pcap). */
  content?: string;
  path?: string;
}

export interface StepSpec {
  name: string;
  status: Status;
  statusDetails?: StatusDetails;
  start: number; // ms since the epoch
  stop: number;
  steps: StepSpec[];
}

export interface ScenarioTest {
  name: string;
  fullName: string;
  /** Stable across runs (history and trends): the same topology, variant and runtime. */
  historyId: string;
  testCaseId: string;
  status: Status;
  statusDetails: StatusDetails;
  labels: Label[];
  parameters: Parameter[];
  description: string;
  start: number;
  stop: number;
  steps: StepSpec[];
  attachments: AttachmentSpec[];
}

const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const pct = (d: number): string => (Number.isNaN(d) ? "-" : `${(d * 100).toFixed(1)}%`);

/** passed: the verdict is the one expected; failed: another verdict; broken: no verdict (a lab error). */
export function scenarioStatus(r: ScenarioResult): Status {
  if (r.outcome === "lab-error" || r.verdict === undefined) return Status.BROKEN;
  return r.verdict === r.expect ? Status.PASSED : Status.FAILED;
}

export function firewallText(r: Pick<ScenarioResult, "firewallMode" | "proxy">): string {
  return r.proxy ? `${r.firewallMode}/${r.proxy}` : r.firewallMode;
}

/** The loss the chaos steps applied, "30%" or "5%, 30%" (steps record it as "loss N%"). */
export function lossText(chaos: readonly ChaosRecord[]): string | undefined {
  const losses = [...new Set(chaos.map((c) => /^loss (\S+%)/.exec(c.action)?.[1]).filter((x): x is string => x !== undefined))];
  return losses.length ? losses.join(", ") : undefined;
}

export function backendText(chaos: readonly ChaosRecord[]): string | undefined {
  const b = [...new Set(chaos.flatMap((c) => (c.backend ? c.backend.split(",") : [])))];
  return b.length ? b.join(",") : undefined;
}

/** An executed chaos step in words: "drop packet #1 [tcp dport 10000 seed 7] on wan.edge at 2.00 s (flap 1/3: down) [nftables]". */
export function chaosStepText(c: ChaosRecord): string {
  const sel = c.match || c.direction === "ingress" || c.seed !== undefined ? describeSelection({ impairment: {}, ...(c.match ? { match: c.match } : {}), ...(c.direction ? { direction: c.direction } : {}), ...(c.seed !== undefined ? { seed: c.seed } : {}) }) : "";
  // a clear's action already names its direction
  const shown = c.action.startsWith("clear") ? sel.replace(/(^| )ingress\b/, "").trim() : sel;
  return `${c.action}${shown ? ` [${shown}]` : ""} on ${c.on} at ${sec(c.appliedAtMs)}${c.schedule ? ` (${c.schedule})` : ""}${c.backend ? ` [${c.backend}]` : ""}`;
}

export function scenarioLabels(r: ScenarioResult): Label[] {
  const tags = [r.transport, r.impl, firewallText(r), `expect-${r.expect}`, r.runtime].filter((t) => t !== "");
  return [
    { name: "epic", value: r.topology },
    { name: "feature", value: `transport ${r.transport}` },
    { name: "story", value: `firewall ${firewallText(r)}` },
    { name: "parentSuite", value: r.topology },
    { name: "suite", value: r.variant },
    { name: "runtime", value: r.runtime },
    { name: "impl", value: r.impl },
    ...(r.engine ? [{ name: "host", value: r.engine }] : []),
    ...tags.map((t) => ({ name: "tag", value: t })),
    { name: SCENARIO_LABEL, value: `${r.topology}/${r.variant}` },
  ];
}

export function scenarioParameters(r: ScenarioResult): Parameter[] {
  const loss = lossText(r.chaos);
  const backend = backendText(r.chaos);
  return [
    { name: "variant", value: r.variant },
    ...(loss ? [{ name: "loss", value: loss }] : []),
    // the run replays with `vpnlab run --seed N`
    ...(r.seed !== undefined ? [{ name: "seed", value: String(r.seed) }] : []),
    { name: "runtime", value: r.runtime },
    ...(backend ? [{ name: "backend", value: backend }] : []),
    { name: "firewall", value: firewallText(r) },
    { name: "expect", value: r.expect },
    { name: "verdict", value: r.verdict ?? r.outcome, excluded: true },
    { name: "lab", value: r.labId, excluded: true },
    ...(r.engine ? [{ name: "engine", value: r.engine, excluded: true }] : []),
  ];
}

/** The host judged apart from the lab, and an endpoint's own stall (evidence, not an excuse), in a sentence. */
function stallText(r: ScenarioResult): string {
  const h = r.evidence.host;
  const e = r.evidence.endpointStall;
  const host = h
    ? `The overload sentinel, a process apart from the lab, stalled at most ${h.sentinelStallMs} ms${h.cpuSomeShare !== undefined ? `; some task waited for a CPU ${pct(h.cpuSomeShare)} of the scenario` : ""}.`
    : "";
  const endpoint = e && e.ms >= (r.evidence.stallCutoffMs ?? STALL_FLOOR_MS) ? ` ${e.what} stalled ${e.ms} ms${e.atMs !== undefined ? ` at ${sec(e.atMs)}` : ""}: the endpoint's own process, part of what its user saw.` : "";
  return `${host}${endpoint}`.trim();
}

/** The scenario in words: what was built, what was done to it, what was expected and what came out. */
export function describeInWords(r: ScenarioResult): string {
  const via = r.firewallMode === "none" ? "with no firewall in the path" : r.proxy ? `through a ${r.firewallMode} firewall (${r.proxy})` : `through a ${r.firewallMode} firewall`;
  const steps = r.chaos.map(chaosStepText);
  const outcome =
    r.outcome === "lab-error"
      ? `The lab failed before a verdict: ${r.error ?? r.reasons.join("; ")}.`
      : `Expected **${r.expect}**, measured **${r.verdict}**${r.reasons.length ? `, because ${r.reasons.join("; ")}` : ""}.`;
  const phases = r.phases.map((p) => `${p.phase} ${p.delivered}/${p.sent} (${pct(p.delivery)})`).join(", ");
  const down = firstDownMs(r);
  return [
    `A ${r.impl} VPN tunnel over **${r.transport}** ${via}, on the ${r.runtime || "default"} runtime (topology ${r.topology}, variant ${r.variant}, ${r.file}).`,
    "",
    steps.length ? `Chaos: ${steps.join("; ")}.` : "No chaos steps.",
    phases ? `Probe delivery: ${phases}.` : "",
    down === undefined ? (r.outcome === "verdict" ? "The tunnel stayed up." : "") : `The tunnel was declared down at ${sec(down)}${r.tunnel.downReason ? ` (${r.tunnel.downReason})` : ""}.`,
    stallText(r),
    "",
    outcome,
    "",
    "```",
    summarize(r),
    "```",
  ]
    .filter((l, i, a) => !(l === "" && a[i - 1] === ""))
    .join("\n");
}

/**
 * The stages at their measured times: lab up, tunnel up, baseline, chaos (a step per chaos record),
 * recovery, verdict, teardown. Only the stages reached; a lab error marks its stage broken.
 */
export function scenarioSteps(r: ScenarioResult): StepSpec[] {
  const t0 = Date.parse(r.startedAt);
  const end = t0 + r.timing.totalMs;
  const status = scenarioStatus(r);
  const broken = (stage: string): boolean => status === Status.BROKEN && (r.fault ? r.fault.phase === stage : false);
  const step = (name: string, start: number, stop: number, st: Status = Status.PASSED, steps: StepSpec[] = []): StepSpec => ({ name, status: st, start, stop: Math.max(start, stop), steps });
  const labUpEnd = t0 + r.timing.setupMs;
  const teardownAt = r.timing.teardownAt ?? end;
  const steps: StepSpec[] = [];
  const errorDetails = r.error ? { message: r.error } : undefined;
  if (r.timing.setupMs === 0 && r.outcome === "lab-error") {
    // the lab never came up
    steps.push({ ...step("lab up", t0, teardownAt, Status.BROKEN), ...(errorDetails ? { statusDetails: errorDetails } : {}) });
    if (r.timing.teardownAt !== undefined) steps.push(step("teardown", teardownAt, end));
    return steps;
  }
  steps.push(step(`lab up (${r.labId}, ${r.runtime})`, t0, labUpEnd));
  const tunnelUp = r.timing.tunnelUpMs > 0;
  const tunnelEnd = tunnelUp ? labUpEnd + r.timing.tunnelUpMs : (r.timing.baselineAt ?? teardownAt);
  steps.push({
    ...step(tunnelUp ? `tunnel up${r.tunnel.inner ? ` (${r.tunnel.inner})` : ""}` : "tunnel up: never", labUpEnd, tunnelEnd, tunnelUp && !broken("tunnel-up") ? Status.PASSED : Status.BROKEN),
    ...(!tunnelUp && errorDetails ? { statusDetails: errorDetails } : {}),
  });
  const base = r.timing.baselineAt ?? (tunnelUp ? tunnelEnd : undefined);
  if (base !== undefined) {
    const phaseEnd = new Map(r.phases.map((p) => [p.phase, base + p.startMs + p.durationMs]));
    for (const p of r.phases) {
      const name = `${p.phase}: ${p.delivered}/${p.sent} probes delivered (${pct(p.delivery)})${tcpText(r, p.phase)}`;
      const own = r.chaos.filter((c) => inPhase(r, c, p.phase));
      const sub = own.map((c, i) => {
        const next = own[i + 1];
        const stop = next ? base + next.appliedAtMs : base + p.startMs + p.durationMs;
        const dropped = c.dropped !== undefined ? `, ${c.dropped} packets dropped` : "";
        return step(`${chaosStepText(c)}${dropped}`, base + c.appliedAtMs, stop);
      });
      steps.push(step(name, base + p.startMs, base + p.startMs + p.durationMs, broken(p.phase) ? Status.BROKEN : Status.PASSED, sub));
    }
    if (!r.phases.length && r.fault) {
      // died during the timeline: the stage it died in, up to the teardown
      steps.push({ ...step(`${r.fault.phase}: ${r.fault.piece} ${r.fault.why}`, base + (r.fault.atMs ?? 0), teardownAt, Status.BROKEN) });
    }
    const verdictStart = Math.max(...phaseEnd.values(), base);
    const verdictName = r.outcome === "lab-error" ? `verdict: none (${r.error ?? r.reasons.join("; ")})` : `verdict: ${r.verdict} (expected ${r.expect})${r.reasons.length ? ` — ${r.reasons.join("; ")}` : ""}`;
    const s = step(verdictName, verdictStart, teardownAt, status);
    if (status !== Status.PASSED) s.statusDetails = { message: verdictName, expected: r.expect, actual: r.verdict ?? r.outcome };
    steps.push(s);
  }
  if (r.timing.teardownAt !== undefined) steps.push(step("teardown", teardownAt, end));
  return steps;
}

function tcpText(r: ScenarioResult, phase: string): string {
  const p = r.tcp?.phases.find((x) => x.phase === phase);
  return p ? `, tcp ${p.bytes} B (${p.kbitPerSec} kbit/s)` : "";
}

/** A chaos record belongs to the phase it was applied in (the end-of-chaos clear opens the recovery). */
function inPhase(r: ScenarioResult, c: ChaosRecord, phase: string): boolean {
  const p = r.phases.find((x) => x.phase === phase);
  if (!p) return false;
  const last = r.phases[r.phases.length - 1];
  // a step at 0 went in before the probe started (appliedAtMs < 0): it belongs to the baseline
  const t = Math.max(0, c.action.startsWith("clear (end") ? c.atMs : c.appliedAtMs);
  return t >= p.startMs && (t < p.startMs + p.durationMs || p === last);
}

/** What happened to the tunnel and the path, in time order (s from the start of the baseline; the tunnel came up before it). */
function eventLog(r: ScenarioResult): string {
  const lines: string[] = [];
  if (r.timing.tunnelUpMs > 0 && r.timing.baselineAt !== undefined) {
    const upAt = Date.parse(r.startedAt) + r.timing.setupMs + r.timing.tunnelUpMs - r.timing.baselineAt;
    lines.push(`${sec(upAt)} client: tunnel up${r.tunnel.inner ? ` as ${r.tunnel.inner}` : ""} (${r.timing.tunnelUpMs} ms to come up)`);
  }
  if (r.tunnel.clientDownAtMs !== undefined) lines.push(`${sec(r.tunnel.clientDownAtMs)} client: tunnel down (DPD)${r.tunnel.downReason ? `: ${r.tunnel.downReason}` : ""}`);
  if (r.tunnel.headendDownAtMs !== undefined) lines.push(`${sec(r.tunnel.headendDownAtMs)} headend: tunnel down (DPD)`);
  for (const c of r.chaos) lines.push(`${sec(c.appliedAtMs)} ${c.on}: ${chaosStepText(c).replace(` on ${c.on} at ${sec(c.appliedAtMs)}`, "")}${c.dropped !== undefined ? ` (${c.dropped} dropped)` : ""}`);
  if (r.fault) lines.push(`${r.fault.atMs !== undefined ? sec(r.fault.atMs) : r.fault.phase} ${r.fault.piece}: ${r.fault.why}`);
  return lines.sort((a, b) => parseFloat(a) - parseFloat(b)).join("\n");
}

const text = (name: string, content: string, ext = "txt"): AttachmentSpec => ({ name, contentType: "text/plain", fileExtension: ext, content });

/** Every piece of evidence worth a look, in the order a reader wants them. */
export function scenarioAttachments(r: ScenarioResult, scenario?: Scenario): AttachmentSpec[] {
  const a: AttachmentSpec[] = [];
  a.push({ name: "timeline.svg", contentType: "image/svg+xml", fileExtension: "svg", content: renderTimeline(r) });
  a.push(text("summary.txt", summarize(r)));
  if (scenario) a.push(text("topology (resolved).txt", formatDescription(describeScenario(scenario))));
  a.push(text("events.txt", eventLog(r) || "(no events: no chaos step, no tunnel down)"));
  const fw = r.evidence.firewall;
  if (fw?.ruleset) a.push(text(`firewall ${fw.node}.nft`, fw.ruleset, "nft"));
  if (fw?.proxy?.config) a.push(text(fw.proxy.config.name, fw.proxy.config.text, path.extname(fw.proxy.config.name).slice(1) || "txt"));
  if (fw) {
    const sockets = JSON.stringify({ proxy: fw.proxy ? { label: fw.proxy.label, accepted: fw.proxy.accepted, connections: fw.proxy.connections } : undefined, sockets: fw.sockets, outOfOrder: fw.outOfOrder, conntrack: fw.conntrack }, null, 2);
    a.push({ name: "proxy socket state.json", contentType: "application/json", fileExtension: "json", content: sockets });
  }
  for (const [node, log] of Object.entries(r.evidence.logs ?? {})) a.push(text(`log ${node}.txt`, log));
  for (const s of r.evidence.daemonState ?? []) {
    const body = s.state ? Object.entries(s.state).map(([k, v]) => `--- ${k}\n${v}`).join("\n") : `(not available: ${s.error})`;
    a.push(text(`daemon state at ${s.phase} end.txt`, body));
  }
  for (const c of r.chaos) {
    if (c.detail?.length) a.push(text(`chaos ${c.appliedAtMs} ms ${c.on}.txt`, c.detail.join("\n")));
  }
  const csv = ["t_ms,sent,delivered", ...r.buckets.map((b) => `${b.t},${b.sent},${b.delivered}`)].join("\n");
  a.push({ name: "delivery-100ms.csv", contentType: "text/csv", fileExtension: "csv", content: csv });
  a.push({ name: "result.json", contentType: "application/json", fileExtension: "json", content: JSON.stringify(r, null, 2) });
  for (const c of r.captures ?? []) a.push({ name: path.basename(c.file), contentType: "application/vnd.tcpdump.pcap", fileExtension: "pcap", path: c.file });
  return a;
}

export function buildScenarioTest(r: ScenarioResult, scenario?: Scenario): ScenarioTest {
  const status = scenarioStatus(r);
  const start = Date.parse(r.startedAt);
  // keyed on the topology's name and file name, not the path as typed: `nightly` (absolute paths), `run
  // topologies/x.yaml` and another checkout directory must continue the same test's history
  const id = `${r.topology}/${path.basename(r.file)}#${r.variant}`;
  const key = `${id}@${r.runtime}`;
  const message =
    status === Status.BROKEN ? `lab error: ${r.error ?? r.reasons.join("; ")}` : status === Status.FAILED ? `expected ${r.expect}, got ${r.verdict}: ${r.reasons.join("; ")}` : `${r.verdict} as expected`;
  return {
    name: `${r.topology}/${r.variant} (${r.runtime})`,
    fullName: `${r.file}: ${r.variant} @${r.runtime}`,
    historyId: md5(key),
    testCaseId: md5(id),
    status,
    statusDetails: status === Status.PASSED ? {} : { message, expected: r.expect, actual: r.verdict ?? r.outcome },
    labels: scenarioLabels(r),
    parameters: scenarioParameters(r),
    description: describeInWords(r),
    start,
    stop: start + r.timing.totalMs,
    steps: scenarioSteps(r),
    attachments: scenarioAttachments(r, scenario),
  };
}
