// The loader under fuzzing: valid topologies, mutated (keys deleted,
// duplicated, renamed, retyped; values swapped, huge, negative, NaN-ish,
// unicode, empty; deep nesting; long files; anchors, aliases and alias bombs;
// raw text edits), must each be accepted or refused with a TopologyError that
// says FILE:LINE:COL and what to do — never any other exception, never a hang.
// fast-check prints the seed and the shrunk counterexample on failure;
// FUZZ_SEED=<seed> replays a run; FUZZ_RUNS=N sets how many documents.
import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describeScenario, formatDescription } from "../report/describe";
import { MAX_CHARS, TopologyError, parseTopology, selectScenarios } from "./load";
import { FIXTURES, validTopologyFiles } from "./testdata";

/** The valid documents the mutations start from. */
const SEEDS = validTopologyFiles().map((f) => readFileSync(f, "utf8"));

const FILE = "fuzzed.yaml";
// npm test's share (~20 s on 2 loaded cores); FUZZ_RUNS=100000 for a deeper run
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);
const EXTREME_RUNS = 20;

// ---------------------------------------------------------------------------
// A YAML tree we can mutate freely (duplicate keys, anchors, aliases, raw text)
// and print ourselves, so nothing in the way normalises what we meant to break.

type Y =
  | { k: "map"; entries: [string, Y][] }
  | { k: "seq"; items: Y[] }
  | { k: "scalar"; v: string | number | boolean | null }
  | { k: "alias"; name: string }
  | { k: "anchor"; name: string; node: Y }
  | { k: "raw"; text: string }; // printed verbatim: flow text, broken syntax

function fromJs(v: unknown): Y {
  if (Array.isArray(v)) return { k: "seq", items: v.map(fromJs) };
  if (v !== null && typeof v === "object") return { k: "map", entries: Object.entries(v).map(([key, x]) => [key, fromJs(x)]) };
  return { k: "scalar", v: v as string | number | boolean | null };
}

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9._/%-]*$/;

function scalarText(v: string | number | boolean | null): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return ".nan";
    if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
    return Object.is(v, -0) ? "-0" : String(v);
  }
  if (typeof v === "boolean") return String(v);
  return PLAIN.test(v) ? v : JSON.stringify(v); // a JSON string is a valid YAML double-quoted scalar
}

const keyText = (key: string): string => (PLAIN.test(key) ? key : JSON.stringify(key));

/** A value that fits after `key: ` or `- ` on the same line, or undefined when it needs lines of its own. */
function inline(y: Y): string | undefined {
  switch (y.k) {
    case "scalar":
      return scalarText(y.v);
    case "alias":
      return `*${y.name}`;
    case "raw":
      return y.text;
    case "map":
      return y.entries.length === 0 ? "{}" : undefined;
    case "seq":
      return y.items.length === 0 ? "[]" : undefined;
    case "anchor": {
      const inner = inline(y.node);
      return inner === undefined ? undefined : `&${y.name} ${inner}`;
    }
  }
}

/** Block-style lines for a value that follows `head` (a `key:` or `-`) at `indent`. */
function emit(head: string, y: Y, indent: string, out: string[]): void {
  const one = inline(y);
  if (one !== undefined) {
    out.push(`${indent}${head} ${one}`);
    return;
  }
  let node = y;
  let anchor = "";
  if (node.k === "anchor") {
    anchor = ` &${node.name}`;
    node = node.node;
  }
  out.push(`${indent}${head}${anchor}`);
  body(node, `${indent}  `, out);
}

function body(y: Y, indent: string, out: string[]): void {
  if (y.k === "map") for (const [key, v] of y.entries) emit(`${keyText(key)}:`, v, indent, out);
  else if (y.k === "seq") for (const v of y.items) emit("-", v, indent, out);
  else out.push(`${indent}${inline(y) ?? ""}`);
}

function print(y: Y): string {
  const out: string[] = [];
  const one = inline(y);
  if (one !== undefined) out.push(one);
  else body(y.k === "anchor" ? y.node : y, "", out);
  return `${out.join("\n")}\n`;
}

/** Every node with a way to replace it, in document order. */
interface Slot {
  node: Y;
  set(y: Y): void;
  /** The container entry this node sits in, for deleting, duplicating and renaming. */
  entry?: { list: unknown[]; index: number; rename?: (key: string) => void };
}

function slots(root: { y: Y }): Slot[] {
  const all: Slot[] = [{ node: root.y, set: (y) => (root.y = y) }];
  const walk = (y: Y): void => {
    if (y.k === "map") {
      y.entries.forEach((e, index) => {
        all.push({ node: e[1], set: (v) => (e[1] = v), entry: { list: y.entries, index, rename: (key) => (e[0] = key) } });
        walk(e[1]);
      });
    } else if (y.k === "seq") {
      y.items.forEach((it, index) => {
        all.push({ node: it, set: (v) => (y.items[index] = v), entry: { list: y.items, index } });
        walk(it);
      });
    } else if (y.k === "anchor") walk(y.node);
  };
  walk(root.y);
  return all;
}

const clone = (y: Y): Y => structuredClone(y);

/** The seeds as trees, parsed once (the YAML parser is most of a run's cost). */
const TREES = SEEDS.map((t) => fromJs(parse(t)));

// ---------------------------------------------------------------------------
// What the mutations put in.

const VOCABULARY = [
  // keys and values of the format, so mutations reach deep into validation
  "name", "nodes", "vpn", "firewall", "probe", "phases", "chaos", "expect", "variants", "role", "links", "routes",
  "net", "ip", "gw", "to", "via", "client", "headend", "transport", "impl", "port", "pool", "dpd", "dtls",
  "interval", "retries", "node", "mode", "proxy", "inspect", "bypass", "idle-timeout", "proto", "from",
  "flows", "rate", "timeout", "baseline", "recovery", "at", "on", "loss", "clear", "base", "server", "wan",
  "vpn-client", "vpn-headend", "router", "host", "ctcp", "natt", "esp", "anyconnect", "ocserv", "strongswan",
  "reference", "full-proxy", "stateful", "route", "builtin", "haproxy", "tcp", "udp", "udp-echo", "survives",
  "fails", "degraded", "off", "home", "edge", "corp", "dmz", "lo", "all", "default", "wan.edge", "client.home",
  "10.0.0.1/24", "10.0.0.2", "203.0.113.1", "192.0.2.0/24", "0.0.0.0/0", "255.255.255.255/32", "127.0.0.1/8",
  "172.29.0.0/30", "2s", "0s", "500ms", "1.5s", "2m", "5%", "0%", "100%", "50/s", "1/s",
];
const NASTY = [
  "", " ", "\t", "~", "null", "Null", "NULL", "true", "yes", "no", "on", "y", ".nan", "NaN", ".inf", "-.inf",
  "Infinity", "-Infinity", "0x1F", "0o17", "1e3", "1e400", "1_000", "-0", "-1", "-1s", "-5%", "1e400s", "9".repeat(400),
  "99999999999999999999m", "1.5.5s", "5%%", "%", "/s", "-1/s", "1e9/s", "__proto__", "constructor", "toString",
  "hasOwnProperty", "a.b.c", ".", "..", "a..b", "wan.", ".edge", "ノード", "🙂", "\u200b", "e\u0301", "\u202eevil",
  "ǅ", "\ud800", "\u0000", "\u2028", "a: b", "- x", "#", "&a", "*a", "!!str", "{", "[", "'", '"', "\\",
];

const hugeNumber = fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -(2 ** 53), 2 ** 31, 65536, 1e21, 5e-324, -0, NaN, Infinity, -Infinity);
const text = fc.oneof(
  fc.constantFrom(...VOCABULARY),
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom(256, 4096).map((n) => "x".repeat(n)),
);
const scalar: fc.Arbitrary<Y> = fc.oneof(
  text.map((v) => ({ k: "scalar" as const, v })),
  fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.double(), hugeNumber).map((v) => ({ k: "scalar" as const, v })),
  fc.constantFrom<Y>({ k: "scalar", v: true }, { k: "scalar", v: false }, { k: "scalar", v: null }),
);
const value: fc.Arbitrary<Y> = fc.letrec<{ y: Y }>((tie) => ({
  y: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("y"), { maxLength: 4 }).map((items): Y => ({ k: "seq", items })),
    fc.array(fc.tuple(text, tie("y")), { maxLength: 4 }).map((entries): Y => ({ k: "map", entries })),
  ),
})).y;

/** Deep nesting written as flow text (printing it as blocks would only test our printer). */
const deep = (min: number, max: number): fc.Arbitrary<Y> =>
  fc
    .tuple(fc.constantFrom("[", "{a: ", "{? "), fc.integer({ min, max }))
    .map(([open, n]): Y => ({ k: "raw", text: `${open.repeat(n)}x${(open === "[" ? "]" : "}").repeat(n)}` }));

/** Billion laughs: each level lists the one before `width` times. */
function bomb(levels: number, width: number, prefix: string): Y {
  const items: Y[] = [{ k: "anchor", name: `${prefix}0`, node: { k: "seq", items: Array.from({ length: width }, () => ({ k: "scalar", v: "lol" })) } }];
  for (let i = 1; i < levels; i++) {
    items.push({ k: "anchor", name: `${prefix}${i}`, node: { k: "seq", items: Array.from({ length: width }, () => ({ k: "alias", name: `${prefix}${i - 1}` })) } });
  }
  return { k: "seq", items };
}

type Op =
  | { op: "delete" | "duplicate"; at: number }
  | { op: "rename"; at: number; key: string }
  | { op: "retype"; at: number; y: Y }
  | { op: "copy"; at: number; from: number }
  | { op: "deep"; at: number; y: Y }
  | { op: "long"; at: number; n: number }
  | { op: "alias"; at: number; from: number; name: string }
  | { op: "dangling" | "self"; at: number; name: string }
  | { op: "bomb"; at: number; levels: number; width: number };

const at = fc.nat();
const anchorName = fc.oneof(fc.constantFrom("a", "x1", "srv", "base"), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/));
/**
 * One mutation. `extreme` makes files long (thousands of repeated entries) and
 * nesting deep (thousands of levels): each costs the YAML parser a good part of
 * a second, so they get a property of their own with fewer runs.
 */
const op = (extreme: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    { arbitrary: fc.record({ op: fc.constantFrom("delete" as const, "duplicate" as const), at }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant("rename" as const), at, key: text }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant("retype" as const), at, y: value }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant("copy" as const), at, from: at }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant("deep" as const), at, y: extreme ? deep(300, 5000) : deep(10, 200) }), weight: extreme ? 4 : 1 },
    { arbitrary: fc.record({ op: fc.constant("long" as const), at, n: extreme ? fc.integer({ min: 500, max: 6000 }) : fc.integer({ min: 2, max: 50 }) }), weight: extreme ? 4 : 1 },
    { arbitrary: fc.record({ op: fc.constant("alias" as const), at, from: at, name: anchorName }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constantFrom("dangling" as const, "self" as const), at, name: anchorName }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant("bomb" as const), at, levels: fc.integer({ min: 2, max: 12 }), width: fc.integer({ min: 2, max: 10 }) }), weight: 1 },
  );

function apply(root: { y: Y }, o: Op): void {
  const all = slots(root);
  const s = all[o.at % all.length];
  switch (o.op) {
    case "delete":
      s.entry?.list.splice(s.entry.index, 1);
      return;
    case "duplicate": // for a map entry: the same key twice
      if (s.entry) s.entry.list.splice(s.entry.index, 0, structuredClone(s.entry.list[s.entry.index]));
      return;
    case "rename":
      s.entry?.rename?.(o.key);
      return;
    case "retype":
    case "deep":
      s.set(o.y);
      return;
    case "copy":
      s.set(clone(all[o.from % all.length].node));
      return;
    case "long": {
      const n = s.node;
      if (n.k === "map") {
        const model = n.entries[0] ?? (["k", { k: "scalar", v: 1 }] as [string, Y]);
        for (let i = 0; i < o.n; i++) n.entries.push([`${model[0]}${i}`, clone(model[1])]);
      } else if (n.k === "seq") {
        const model = n.items[0] ?? ({ k: "scalar", v: 1 } as Y);
        for (let i = 0; i < o.n; i++) n.items.push(clone(model));
      } else s.set({ k: "scalar", v: String(n.k === "scalar" ? n.v : "x").repeat(o.n).slice(0, 300_000) });
      return;
    }
    case "alias": {
      // anchor one node, refer to it from another (before or after it in the file)
      const target = all[o.from % all.length];
      if (target.node.k !== "anchor") target.set({ k: "anchor", name: o.name, node: target.node });
      s.set({ k: "alias", name: o.name });
      return;
    }
    case "dangling":
      s.set({ k: "alias", name: `${o.name}-nowhere` });
      return;
    case "self":
      s.set({ k: "anchor", name: o.name, node: { k: "seq", items: [{ k: "alias", name: o.name }] } });
      return;
    case "bomb":
      s.set(bomb(o.levels, o.width, "lol"));
      return;
  }
}

/** Raw edits of the printed text: broken syntax, stray indicators, tabs, cut files. */
type Edit = { at: number; kind: "insert"; s: string } | { at: number; kind: "cut"; n: number } | { at: number; kind: "dupline" | "tab" | "truncate" };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ at, kind: fc.constant("insert" as const), s: fc.oneof(fc.constantFrom(":", "- ", "{", "}", "[", "]", ",", "&a ", "*a", "!", "|", ">", "'", '"', "#", "%", "@", "`", "\t", "\n", "  ", "---\n", "? ", "<<: *a\n", "\ufeff"), fc.string({ maxLength: 6 })) }),
  fc.record({ at, kind: fc.constant("cut" as const), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ at, kind: fc.constantFrom("dupline" as const, "tab" as const, "truncate" as const) }),
);

function applyEdit(t: string, e: Edit): string {
  const i = t.length === 0 ? 0 : e.at % t.length;
  switch (e.kind) {
    case "insert":
      return t.slice(0, i) + e.s + t.slice(i);
    case "cut":
      return t.slice(0, i) + t.slice(i + e.n);
    case "truncate":
      return t.slice(0, i);
    case "dupline":
    case "tab": {
      const lines = t.split("\n");
      const l = e.at % lines.length;
      if (e.kind === "dupline") lines.splice(l, 0, lines[l]);
      else lines[l] = `\t${lines[l]}`;
      return lines.join("\n");
    }
  }
}

/** A mutated document: a seed, tree mutations (printed by us) or none (the seed's own text), then raw edits. */
export const documents = (extreme: boolean): fc.Arbitrary<string> =>
  fc
    .record({
      seed: fc.nat({ max: SEEDS.length - 1 }),
      ops: fc.array(op(extreme), { minLength: extreme ? 1 : 0, maxLength: 5 }),
      edits: fc.oneof({ arbitrary: fc.constant([] as Edit[]), weight: 3 }, { arbitrary: fc.array(edit, { minLength: 1, maxLength: 3 }), weight: 1 }),
    })
    .map(({ seed, ops, edits }) => {
      let t = SEEDS[seed];
      if (ops.length > 0) {
        const root = { y: clone(TREES[seed]) };
        for (const o of ops) {
          // a document past twice the loader's bound only tests the bound, and costs the generator memory
          const grows = o.op === "long" || o.op === "copy" || o.op === "duplicate";
          const before = grows ? clone(root.y) : root.y;
          apply(root, o);
          if (grows && print(root.y).length > 2 * MAX_CHARS) root.y = before;
        }
        t = print(root.y);
      }
      for (const e of edits) t = applyEdit(t, e);
      return t;
    });

// ---------------------------------------------------------------------------

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const HEAD = new RegExp(`^${escape(FILE)}:(\\d+):(\\d+): `);

/** The loader's answer for one document: accepted, or a proper TopologyError (anything else throws, saying why). */
export function outcome(t: string): "accepted" | "rejected" {
  // plain checks, not chai: this runs ten thousand times
  function fail(why: string, message: string): never {
    throw new Error(`${why} — ${message.slice(0, 300)}\n--- document (${t.length} chars) ---\n${t.slice(0, 2000)}`);
  }
  try {
    const topo = parseTopology(t, FILE);
    if (topo.base.name !== topo.name) fail("the base scenario does not carry the topology's name", topo.name);
    // the rest of what `vpnlab check` does with an accepted document: select every scenario, describe it
    for (const s of selectScenarios(topo, [])) formatDescription(describeScenario(s));
    return "accepted";
  } catch (e) {
    if (!(e instanceof TopologyError)) return fail("not a TopologyError", e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    const m = HEAD.exec(e.message);
    if (!m) fail(`the message does not start with ${FILE}:LINE:COL:`, e.message);
    if (Number(m[1]) !== e.line || Number(m[2]) !== e.col || e.file !== FILE) fail("the message and the error's fields disagree", e.message);
    // the position is in the file: a line that exists (or the one after a final newline), a column from 1
    if (e.line < 1 || e.line > t.split("\n").length || e.col < 1) fail("the position is outside the file", e.message);
    if (e.key === "") fail("the error names no key", e.message);
    if (!e.detail.includes(" — ")) fail("the message does not say what to do (no ' — ')", e.message);
    return "rejected";
  }
}

/** Runs `runs` documents through the loader; returns the tally and prints it (the numbers a reader of the log wants). */
function fuzz(what: string, arb: fc.Arbitrary<string>, runs: number): { accepted: number; rejected: number } {
  const tally = { accepted: 0, rejected: 0, chars: 0 };
  const started = process.hrtime.bigint();
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  fc.assert(
    fc.property(arb, (t) => {
      tally[outcome(t)]++;
      tally.chars += t.length;
    }),
    { numRuns: runs, seed },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`      ${what}: ${runs} documents (${tally.accepted} accepted, ${tally.rejected} refused, ${(tally.chars / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s`);
  return tally;
}

describe("topology loader under fuzzing", () => {
  it("parses every seed document (the mutations start from valid topologies)", () => {
    expect(SEEDS.length).to.be.greaterThan(5);
    for (const t of SEEDS) expect(outcome(t)).to.equal("accepted");
  });

  it(`accepts or refuses ${RUNS} mutated documents with a TopologyError at FILE:LINE:COL, never anything else`, function () {
    this.timeout(180_000); // bounds a hang; 4000 documents take ~12 s alone on 2 cores, ~20 s beside lab suites
    const tally = fuzz("fuzz", documents(false), RUNS);
    // both outcomes must occur, or the mutations are not exercising the loader
    expect(tally.accepted, "no mutated document was accepted").to.be.greaterThan(0);
    expect(tally.rejected, "no mutated document was refused").to.be.greaterThan(0);
  });

  it(`does the same for ${EXTREME_RUNS} very long or very deeply nested documents`, function () {
    this.timeout(60_000); // bounds a hang
    const tally = fuzz("fuzz, extremes", documents(true), EXTREME_RUNS);
    expect(tally.rejected).to.be.greaterThan(0);
  });
});

describe("topology loader: resource bounds", () => {
  const SMALL = readFileSync(path.join(FIXTURES, "good/small.yaml"), "utf8");
  /** The TopologyError the loader throws for `t` (anything else, or acceptance, fails the test). */
  const refusal = (t: string): TopologyError => {
    try {
      parseTopology(t, FILE);
    } catch (e) {
      if (e instanceof TopologyError) return e;
      throw e;
    }
    throw new Error("accepted");
  };
  /** The billion laughs: nine levels of ten aliases each, 10^9 values once expanded. */
  const laughs = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i <= 9; i++) laughs.push(`lol${i}: &lol${i} [${Array(10).fill(`*lol${i - 1}`).join(", ")}]`);

  it("refuses the billion laughs at the alias that overflows, naming it", function () {
    this.timeout(1000); // bounds a hang: expanding it would take minutes and gigabytes
    const e = refusal(`${laughs.join("\n")}\n`);
    expect(e.message).to.match(/^fuzzed\.yaml:\d+:\d+: lol\d(\[\d+\])+: alias \*lol\d takes the document past the 100000 values a topology may hold \(it expands to \d+; an alias bomb\?\) — write the values out, or use fewer aliases$/);
    expect(laughs[e.line - 1].slice(e.col - 1)).to.match(/^\*lol\d/); // it points at an alias
  });

  it("refuses an alias bomb inside a valid topology, at the alias in probe.flows", function () {
    this.timeout(1000); // bounds a hang
    const levels = laughs.map((l) => l.replace(/^lol\d+: /, "")).join(", ");
    const e = refusal(SMALL.replace("rate: 20 }", `rate: 20, flows: [${levels}] }`));
    expect(e.key).to.match(/^probe\.flows\[\d\](\[\d+\])+$/);
    expect(e.detail).to.match(/^alias \*lol\d takes the document past the 100000 values a topology may hold/);
  });

  it("refuses a self-referential alias", () => {
    expect(refusal("name: &a [x, *a]\n").detail).to.equal("alias *a refers to a value that contains it — remove the recursion");
  });

  it("refuses nesting deeper than the loader walks, and deeper than the YAML parser reads", () => {
    expect(refusal(`name: ${"[".repeat(100)}x${"]".repeat(100)}\n`).detail).to.match(/^values nest more than 64 levels deep here — /);
    expect(refusal(`name: ${"[".repeat(20_000)}x${"]".repeat(20_000)}\n`).detail).to.match(/^YAML syntax error: the document nests too deeply to be read — /);
  });

  it("refuses a file larger than any topology without parsing it", () => {
    const e = refusal(`${SMALL}#${"x".repeat(MAX_CHARS)}\n`);
    expect([e.line, e.col, e.key]).to.deep.equal([1, 1, "(file)"]);
    expect(e.detail).to.match(/^the file holds \d+ characters; a topology is at most 262144 — /);
  });

  it("finds a key written twice in a map of thousands in linear time (yaml's own check is quadratic)", function () {
    this.timeout(5000); // bounds a hang: the quadratic check took 90 s on 60 000 keys
    const keys = Array.from({ length: 20_000 }, (_, i) => `  k${i}: 1`);
    const e = refusal(`name: x\nnodes:\n${keys.join("\n")}\n  k7: 2\n`);
    expect([e.line, e.key]).to.deep.equal([20_003, "nodes.k7"]);
    expect(e.detail).to.equal("node `k7` is declared twice (first at line 10) — node names must be unique: rename one of them");
  });

  it("refuses keys that only YAML tells apart (1 and \"1\")", () => {
    expect(refusal(`${SMALL}variants:\n  1: {}\n  "1": {}\n`).detail).to.match(/^variant `1` is declared twice/);
  });
});
