// timeline.svg: what the probe saw, 100 ms at a time — the UDP probe's delivery and the
// tcp stream's bytes, the chaos windows shaded, the tunnel-down (DPD) moment marked.
// Pure string SVG, so the report needs no chart library and a test can read the marks.
import { STALL_FLOOR_MS } from "../probe/verdict";
import type { ScenarioResult } from "../scenario";
import { firstDownMs } from "../scenario";

export interface ChaosWindow {
  fromMs: number; // from the start of the baseline
  toMs: number;
  what: string; // "loss 30% on wan.edge", "partition (drop everything) on wan.edge (flap 1/3: down)"
  /** The short label drawn in the window. */
  label: string;
  /** 0 for the first window in force at its start, 1 for one overlapping it, ... (where its label goes). */
  lane: number;
}

const W = 900;
const LEFT = 70;
const RIGHT = 20;
const PANEL_H = 150;
const GAP = 55;
const TOP = 64; // room for the title, the panel's title and the phase names
const PLOT_W = W - LEFT - RIGHT;

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const n1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** The scenario's length (ms from the start of the baseline): its phases, else its buckets. */
export function timelineEndMs(r: ScenarioResult): number {
  const last = r.phases[r.phases.length - 1];
  const byPhases = last ? last.startMs + last.durationMs : 0;
  const lastBucket = r.buckets[r.buckets.length - 1];
  return Math.max(byPhases, r.timing.scenarioMs, lastBucket ? lastBucket.t + 100 : 0);
}

/**
 * Every fault's window, from the executed records: a fault is in force on its target (and direction) from its
 * step until a clear there, the next fault there (which replaces it), the end-of-chaos clear, or the end.
 */
export function chaosWindows(r: Pick<ScenarioResult, "chaos">, endMs: number): ChaosWindow[] {
  const windows: ChaosWindow[] = [];
  const open = new Map<string, { fromMs: number; what: string; label: string; on: string }>();
  const close = (key: string, at: number) => {
    const w = open.get(key);
    if (!w) return;
    open.delete(key);
    windows.push({ fromMs: w.fromMs, toMs: at, what: w.what, label: w.label, lane: 0 });
  };
  for (const c of [...r.chaos].sort((a, b) => a.appliedAtMs - b.appliedAtMs)) {
    const at = Math.max(0, c.appliedAtMs); // a step at 0 went in just before the probe started
    const key = `${c.on} ${c.direction ?? "egress"}`;
    if (c.action.startsWith("clear (end")) {
      // every target it names, in either direction
      const targets = new Set(c.on.split(","));
      for (const [k, w] of [...open]) if (targets.has(w.on)) close(k, at);
    } else if (c.action.startsWith("clear")) {
      close(key, at);
    } else {
      close(key, at);
      const sched = c.schedule ? ` (${c.schedule})` : "";
      const seed = c.seed !== undefined ? `, seed ${c.seed}` : "";
      open.set(key, { fromMs: at, what: `${c.description ?? c.action} on ${c.on}${sched}${seed}`, label: c.schedule ? c.schedule.replace(/:.*$/, "") : c.action, on: c.on });
    }
  }
  for (const k of [...open.keys()]) close(k, endMs);
  windows.sort((a, b) => a.fromMs - b.fromMs || a.toMs - b.toMs);
  // lanes: the lowest one free at the window's start, so overlapping labels do not sit on each other
  const busyUntil: number[] = [];
  for (const w of windows) {
    let lane = busyUntil.findIndex((t) => t <= w.fromMs);
    if (lane < 0) lane = busyUntil.length;
    busyUntil[lane] = w.toMs;
    w.lane = lane;
  }
  return windows;
}

/** One point of a timeline panel: the bucket's start (ms from the start of the baseline) and its value. */
export interface SeriesPoint {
  t: number;
  v: number;
}

/** The UDP probe's delivery per 100 ms (by send time), in %: what the timeline's first panel draws, and what tests read. */
export function deliverySeries(r: Pick<ScenarioResult, "buckets">): SeriesPoint[] {
  // a bucket the probe sent nothing in shows 0: nothing got through in it either
  return r.buckets.map((b) => ({ t: b.t, v: b.sent === 0 ? 0 : (100 * b.delivered) / b.sent }));
}

/** A series as one line of "t:v" pairs (s, %), for a failure message. */
export function formatSeries(points: readonly SeriesPoint[]): string {
  return points.map((p) => `${(p.t / 1000).toFixed(1)}:${Math.round(p.v)}`).join(" ");
}

interface Panel {
  top: number;
  title: string;
  yLabel: string;
  yMax: number;
  yTicks: number[];
  yTickText: (v: number) => string;
  cls: string;
  values: SeriesPoint[];
}

/** A stall worth drawing: at least the verdict's floor (STALL_FLOOR_MS). */
export interface StallBand {
  cls: "endpoint-stall" | "host-stall";
  fromMs: number;
  toMs: number;
  label: string;
  what: string;
}

/** The endpoint's longest stall and the sentinel's, where each reached the verdict's cut-off (ms from the start of the baseline). */
export function stallBands(r: Pick<ScenarioResult, "evidence">): StallBand[] {
  const out: StallBand[] = [];
  const cutoff = r.evidence.stallCutoffMs ?? STALL_FLOOR_MS;
  const e = r.evidence.endpointStall;
  if (e && e.atMs !== undefined && e.ms >= cutoff) {
    out.push({ cls: "endpoint-stall", fromMs: e.atMs, toMs: e.atMs + e.ms, label: `${e.node} stalled ${e.ms} ms`, what: `${e.what} stalled ${e.ms} ms: the endpoint's own process (evidence, not an excuse)` });
  }
  const h = r.evidence.host;
  if (h && h.sentinelStallAt !== undefined && h.sentinelStallMs >= cutoff) {
    out.push({ cls: "host-stall", fromMs: h.sentinelStallAt, toMs: h.sentinelStallAt + h.sentinelStallMs, label: `host: sentinel stalled ${h.sentinelStallMs} ms`, what: `the overload sentinel (a process apart from the lab) stalled ${h.sentinelStallMs} ms: the host held the lab up` });
  }
  return out;
}

export function renderTimeline(r: ScenarioResult): string {
  const endMs = timelineEndMs(r);
  const x = (ms: number): number => LEFT + (Math.min(Math.max(ms, 0), endMs) / Math.max(endMs, 1)) * PLOT_W;
  const panels: Panel[] = [
    {
      top: TOP,
      title: "UDP probe: share of probes delivered, per 100 ms (by send time)",
      yLabel: "delivered %",
      yMax: 100,
      yTicks: [0, 50, 100],
      yTickText: (v) => `${v}%`,
      cls: "delivery",
      values: deliverySeries(r),
    },
  ];
  const tcp = r.tcp?.buckets;
  if (tcp?.length) {
    const peak = Math.max(1, ...tcp.map((b) => b.bytes / 1000));
    panels.push({
      top: TOP + PANEL_H + GAP,
      title: "tcp stream: kB the sink received, per 100 ms (by arrival)",
      yLabel: "kB / 100 ms",
      yMax: peak,
      yTicks: [0, peak / 2, peak],
      yTickText: (v) => n1(v),
      cls: "tcp",
      values: tcp.map((b) => ({ t: b.t, v: b.bytes / 1000 })),
    });
  }
  const height = TOP + panels.length * (PANEL_H + GAP) + 10;
  const bottom = panels[panels.length - 1].top + PANEL_H;
  const parts: string[] = [];
  const verdict = r.outcome === "lab-error" ? "lab error" : `${r.verdict} (expected ${r.expect})`;
  parts.push(`<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${esc(`${r.topology}/${r.variant}: ${r.transport} via ${r.firewallMode}${r.proxy ? `/${r.proxy}` : ""} — ${verdict}`)}</text>`);

  // shading first, so the lines stay on top
  for (const w of chaosWindows(r, endMs)) {
    const width = x(w.toMs) - x(w.fromMs);
    parts.push(
      `<rect class="chaos" data-from-ms="${w.fromMs}" data-to-ms="${w.toMs}" x="${n1(x(w.fromMs))}" y="${TOP}" width="${n1(width)}" height="${bottom - TOP}" fill="#f4a261" fill-opacity="0.25"><title>${esc(w.what)}</title></rect>`,
    );
    // the label inside its window at the foot of the first panel, cut to the window's width (the title holds all of it)
    const fits = Math.floor((width - 4) / 4.8); // about the width of a 9 px character
    if (fits >= 3) {
      const text = w.label.length > fits ? `${w.label.slice(0, fits - 1)}…` : w.label;
      parts.push(`<text class="chaos-label" x="${n1(x(w.fromMs) + 2)}" y="${TOP + PANEL_H - 4 - w.lane * 11}" font-size="9" fill="#9c4a10">${esc(text)}</text>`);
    }
  }
  // stalls at or over the verdict's cut-off: an endpoint's own (evidence about it) and the sentinel's (the host), hatched in grey
  for (const st of stallBands(r)) {
    parts.push(
      `<rect class="${st.cls}" data-from-ms="${st.fromMs}" data-to-ms="${st.toMs}" x="${n1(x(st.fromMs))}" y="${TOP}" width="${n1(Math.max(1, x(st.toMs) - x(st.fromMs)))}" height="${bottom - TOP}" fill="${st.cls === "host-stall" ? "#6c757d" : "#7b2cbf"}" fill-opacity="0.18"><title>${esc(st.what)}</title></rect>`,
    );
    parts.push(`<text class="${st.cls}-label" x="${n1(x(st.fromMs) + 2)}" y="${TOP + 24}" font-size="9" fill="${st.cls === "host-stall" ? "#495057" : "#5a189a"}">${esc(st.label)}</text>`);
  }
  for (const p of r.phases.slice(1)) {
    parts.push(`<line class="phase" data-at-ms="${p.startMs}" x1="${n1(x(p.startMs))}" x2="${n1(x(p.startMs))}" y1="${TOP}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${n1(x(p.startMs) + 3)}" y="${TOP - 4}" font-size="10" fill="#555">${esc(p.phase)}</text>`);
  }

  for (const p of panels) {
    const y = (v: number): number => p.top + PANEL_H - (Math.min(v, p.yMax) / p.yMax) * PANEL_H;
    parts.push(`<text x="${LEFT}" y="${p.top - 16}" font-size="12">${esc(p.title)}</text>`);
    parts.push(`<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${p.top}" y2="${p.top + PANEL_H}" stroke="#000"/>`);
    parts.push(`<line class="axis" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${p.top + PANEL_H}" y2="${p.top + PANEL_H}" stroke="#000"/>`);
    for (const v of p.yTicks) {
      parts.push(`<text x="${LEFT - 6}" y="${n1(y(v) + 4)}" font-size="10" text-anchor="end">${esc(p.yTickText(v))}</text>`);
    }
    parts.push(`<text class="y-label" transform="translate(14 ${p.top + PANEL_H / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(p.yLabel)}</text>`);
    // each bucket drawn at its middle
    const points = p.values.map((b) => `${n1(x(b.t + 50))},${n1(y(b.v))}`).join(" ");
    parts.push(`<polyline class="${p.cls}" points="${points}" fill="none" stroke="${p.cls === "tcp" ? "#2a9d8f" : "#264653"}" stroke-width="1.5"/>`);
    const stepS = endMs > 20000 ? 5 : endMs > 8000 ? 2 : 1;
    for (let s = 0; s * 1000 <= endMs; s += stepS) {
      parts.push(`<text x="${n1(x(s * 1000))}" y="${p.top + PANEL_H + 14}" font-size="10" text-anchor="middle">${s}</text>`);
    }
    parts.push(`<text class="x-label" x="${LEFT + PLOT_W / 2}" y="${p.top + PANEL_H + 30}" font-size="11" text-anchor="middle">seconds from the start of the baseline</text>`);
  }

  const down = firstDownMs(r);
  if (down !== undefined) {
    const side = down === r.tunnel.clientDownAtMs ? "client" : "headend";
    const label = `tunnel down (DPD, ${side}) at ${(down / 1000).toFixed(2)} s${side === "client" && r.tunnel.downReason ? `: ${r.tunnel.downReason}` : ""}`; // the reason is the client's
    parts.push(`<line class="tunnel-down" data-at-ms="${down}" x1="${n1(x(down))}" x2="${n1(x(down))}" y1="${TOP}" y2="${bottom}" stroke="#e63946" stroke-width="2"><title>${esc(label)}</title></line>`);
    // on the side of the marker with room for it
    const right = x(down) > LEFT + PLOT_W / 2;
    parts.push(`<text x="${n1(x(down) + (right ? -4 : 4))}" y="${TOP + 12}" font-size="11" fill="#e63946"${right ? ' text-anchor="end"' : ""}>${esc(label)}</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<rect x="0" y="0" width="${W}" height="${height}" fill="#fff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
