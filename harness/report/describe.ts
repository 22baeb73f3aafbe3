// What `vpnlab check` prints: a resolved scenario (variant merged over the
// base, defaults filled in) as plain data and as text. Pure: it imports the
// topology model only, so `check` runs without root and creates nothing.
import type { ChaosStep, FlowMatch, Scenario } from "../topology/model";
import { cidrText, msText } from "../topology/units";
import { stepAction, stepDescription, stepSelection } from "../topology/chaos";

export interface NodeDescription {
  name: string;
  role: string;
  links: { net: string; ip: string; gw?: string }[];
  gw?: string; // the default route, from whichever link sets it
  routes: { to: string; via: string }[];
}

export interface NetDescription {
  name: string;
  kind: "veth" | "bridge"; // two members: a veth pair; more: a bridge (DESIGN.md)
  members: { node: string; ip: string }[];
}

export interface ChaosDescription {
  at: string;
  atMs: number;
  target: string;
  action: string;
  /** The whole fault in words (impairment, then [selection] with the seed). */
  description: string;
  /** Which packets ("tcp dport 10000 ingress"), when not every packet egress. */
  selection?: string;
  /** The seed of the fault's random decisions (its own `seed:`, else mixed from the scenario seed). */
  seed?: number;
  /** The schedule the step was expanded from ("flap 2/3: down"). */
  schedule?: string;
  /** Not written in the file: every fault still active is cleared when recovery starts (scenario.ts). */
  implicit?: boolean;
}

export interface ScenarioDescription {
  topology: string;
  variant: string;
  expect: string;
  /** Where its nodes would run (when decided: `check` decides it as `run` does). */
  runtime?: string;
  /** The scenario seed (`seed:`, or --seed): each fault's seed derives from it. */
  seed?: number;
  nodes: NodeDescription[];
  nets: NetDescription[];
  vpn: { client: string; headend: string; transport: string; impl: string; port: number; pool: string; dpd: { interval: string; retries: number } | "off"; dtls?: boolean };
  firewall:
    | { node: string; mode: string; proxy?: string; redirects: string[]; bypasses: string[]; idleTimeout?: string }
    | "none";
  probe: { from: string; to: string; flows: string[]; rate: string; port: number; timeout: string; streamRate?: string };
  phases: { name: string; from: string; to: string }[];
  chaos: ChaosDescription[];
}

const flowText = (f: FlowMatch) => `${f.proto}/${f.port}`;
const sameFlow = (a: FlowMatch, b: FlowMatch) => a.proto === b.proto && a.port === b.port;
const targetText = (s: ChaosStep) => (s.on.net ? `${s.on.node}.${s.on.net}` : s.on.node);

export function describeScenario(s: Scenario): ScenarioDescription {
  const fw = s.firewall;
  const { baselineMs, chaosMs, recoveryMs } = s.phases;
  return {
    topology: s.name,
    variant: s.variant,
    expect: s.expect,
    ...(s.runtime ? { runtime: s.runtime } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    nodes: s.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      links: n.links.map((l) => ({ net: l.net, ip: cidrText(l.ip), ...(l.gw ? { gw: l.gw } : {}) })),
      ...(n.links.some((l) => l.gw) ? { gw: n.links.find((l) => l.gw)!.gw } : {}),
      routes: n.routes.map((r) => ({ to: cidrText(r.to), via: r.via })),
    })),
    nets: s.nets.map((n) => ({ name: n.name, kind: n.members.length === 2 ? "veth" : "bridge", members: n.members.map((m) => ({ node: m.node, ip: cidrText(m.ip) })) })),
    vpn: {
      client: s.vpn.client,
      headend: s.vpn.headend,
      transport: s.vpn.transport,
      impl: s.vpn.impl,
      port: s.vpn.port,
      pool: cidrText(s.vpn.pool),
      dpd: s.vpn.dpd ? { interval: msText(s.vpn.dpd.intervalMs), retries: s.vpn.dpd.retries } : "off",
      ...(s.vpn.transport === "anyconnect" ? { dtls: s.vpn.dtls } : {}),
    },
    firewall: fw
      ? {
          node: fw.node,
          mode: fw.mode,
          ...(fw.mode === "full-proxy"
            ? {
                proxy: fw.proxy,
                // as the ruleset does (firewall/ruleset.ts): only full-proxy redirects, and a bypass wins over inspect
                redirects: fw.inspect.filter((f) => !fw.bypass.some((b) => sameFlow(b, f))).map(flowText),
                idleTimeout: msText(fw.idleTimeoutMs),
              }
            : { redirects: [] }),
          bypasses: fw.bypass.map(flowText),
        }
      : "none",
    probe: {
      from: s.probe.from,
      to: s.probe.to,
      flows: [...s.probe.flows],
      rate: `${s.probe.ratePerSec}/s`,
      port: s.probe.port,
      timeout: msText(s.probe.timeoutMs),
      ...(s.probe.streamKbit !== undefined ? { streamRate: `${s.probe.streamKbit}kbit/s` } : {}),
    },
    phases: [
      { name: "baseline", from: msText(0), to: msText(baselineMs) },
      { name: "chaos", from: msText(baselineMs), to: msText(baselineMs + chaosMs) },
      { name: "recovery", from: msText(baselineMs + chaosMs), to: msText(baselineMs + chaosMs + recoveryMs) },
    ],
    chaos: chaosTimeline(s),
  };
}

/** The steps in the order they run, then the clear the harness adds at recovery start for faults still active. */
function chaosTimeline(s: Scenario): ChaosDescription[] {
  const steps = [...s.chaos].sort((a, b) => a.atMs - b.atMs);
  const active = new Map<string, string>(); // target and direction → target
  const out: ChaosDescription[] = steps.map((step) => {
    const target = targetText(step);
    const key = `${target} ${step.fault?.direction ?? step.direction ?? "egress"}`;
    if (step.clear) active.delete(key);
    else active.set(key, target);
    const selection = stepSelection(step);
    const seed = step.fault?.seed;
    return {
      at: msText(step.atMs),
      atMs: step.atMs,
      target,
      action: stepAction(step),
      description: stepDescription(step),
      ...(selection ? { selection } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(step.schedule ? { schedule: step.schedule } : {}),
    };
  });
  if (active.size > 0) {
    const at = s.phases.baselineMs + s.phases.chaosMs;
    const targets = [...new Set(active.values())].join(",");
    out.push({ at: msText(at), atMs: at, target: targets, action: "clear (end of chaos phase)", description: "every fault still in place is cleared", implicit: true });
  }
  return out;
}

const list = (xs: string[]) => (xs.length ? xs.join(", ") : "nothing");

/** The human form: one block per scenario, aligned, every fact on a line a reader can grep. */
export function formatDescription(d: ScenarioDescription): string {
  const lines: string[] = [`${d.topology}/${d.variant}: expect ${d.expect}${d.runtime ? `, on ${d.runtime}` : ""}${d.seed !== undefined ? `, seed ${d.seed}` : ""}`];
  const nameW = Math.max(...d.nodes.map((n) => n.name.length), ...d.nets.map((n) => n.name.length));
  lines.push("  nodes:");
  for (const n of d.nodes) {
    const links = n.links.map((l) => `${l.net} ${l.ip}`).join(", ");
    const gw = n.gw ? `; gw ${n.gw}` : "";
    const routes = n.routes.length ? `; routes ${n.routes.map((r) => `${r.to} via ${r.via}`).join(", ")}` : "";
    lines.push(`    ${n.name.padEnd(nameW)}  ${n.role.padEnd(11)}  ${links}${gw}${routes}`);
  }
  lines.push("  nets:");
  for (const n of d.nets) lines.push(`    ${n.name.padEnd(nameW)}  ${n.kind.padEnd(6)}  ${n.members.map((m) => `${m.node} ${m.ip}`).join(", ")}`);
  const v = d.vpn;
  const dpd = v.dpd === "off" ? "dpd off" : `dpd every ${v.dpd.interval}, ${v.dpd.retries} retries`;
  lines.push(`  vpn:      ${v.transport} (${v.impl}) ${v.client} → ${v.headend} port ${v.port}, pool ${v.pool}, ${dpd}${v.dtls !== undefined ? `, dtls ${v.dtls}` : ""}`);
  const f = d.firewall;
  if (f === "none") lines.push("  firewall: none");
  else {
    const proxy = f.proxy ? ` (proxy ${f.proxy}, idle timeout ${f.idleTimeout})` : "";
    lines.push(`  firewall: ${f.node} ${f.mode}${proxy}; redirects ${list(f.redirects)}; bypasses ${list(f.bypasses)}`);
  }
  const p = d.probe;
  lines.push(`  probe:    ${p.flows.join(",")} ${p.from} → ${p.to} port ${p.port}, ${p.rate}, timeout ${p.timeout}${p.streamRate ? `, tcp-stream ${p.streamRate}` : ""}`);
  lines.push(`  phases:   ${d.phases.map((ph) => `${ph.name} ${ph.from}–${ph.to}`).join(", ")}`);
  if (d.chaos.length === 0) lines.push("  chaos:    none");
  else {
    lines.push("  chaos:");
    const atW = Math.max(...d.chaos.map((c) => c.at.length));
    const targetW = Math.max(...d.chaos.map((c) => c.target.length));
    for (const c of d.chaos) {
      const extra = [c.selection ? `[${c.selection}]` : "", c.seed !== undefined ? `seed ${c.seed}` : "", c.schedule ? `(${c.schedule})` : ""].filter(Boolean);
      lines.push(`    ${c.at.padEnd(atW)}  ${c.target.padEnd(targetW)}  ${c.action}${extra.length ? `  ${extra.join("  ")}` : ""}`);
    }
  }
  lines.push(`  expect:   ${d.expect}`);
  return lines.join("\n");
}
