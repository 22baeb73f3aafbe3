// The topology loader: YAML text → positioned tree → validated base Scenario
// and one Scenario per variant (the variant deep-merged over the base).
// Every problem is a TopologyError carrying file:line:col and a dotted key.
import { readFileSync } from "node:fs";
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YNode } from "yaml";
import { TopologyError, didYouMean } from "./errors";
import { childPath, itemPath, mergeNodes, type PEntry, type PMap, type PNode, type Pos } from "./merge";
import type { Scenario, Topology } from "./model";
import { Checker, ROOT_KEYS, VARIANT_NAME_RE, buildScenario } from "./validate";

export { TopologyError } from "./errors";

/** Where each topology's `variants:` key was written (for selectScenarios' messages). */
const variantsKeyPos = new WeakMap<Topology, Pos>();

/** A topology file's aliases could otherwise expand without bound. */
const MAX_NODES = 100_000;

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new TopologyError(file, 1, 1, "(file)", `cannot read the topology file: ${why} — check the path`);
  }
  return parseTopology(text, file);
}

export function parseTopology(text: string, file: string): Topology {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true });
  const posOf = (offset: number): Pos => {
    const p = lc.linePos(offset);
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  };

  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const pos = posOf(problem.pos[0]);
    const where = locate(doc.contents, "", problem.pos[0]);
    let detail: string;
    if (problem.code === "DUPLICATE_KEY" && where) {
      detail = duplicateDetail(where, posOf);
    } else {
      const what = SYNTAX_MESSAGES[problem.code] ?? problem.message.replace(/\s+at line \d+, column \d+:[\s\S]*$/, "");
      detail = `YAML syntax error: ${what} — ${SYNTAX_HINTS[problem.code] ?? "fix the YAML syntax here"}`;
    }
    const key = problem.code === "DUPLICATE_KEY" && where ? where.path : "(yaml)"; // a broken document has no reliable path
    throw new TopologyError(file, pos.line, pos.col, key, detail);
  }

  const ck: Checker = new Checker(file, "base"); // annotated: lets `never` calls narrow
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new TopologyError(file, 1, 1, "(file)", "the file is empty — a topology needs at least name, nodes, vpn, probe and expect (see topologies/asa-ips.yaml)");
  }
  const budget = { left: MAX_NODES };
  const root = toTree(doc, doc.contents, "", posOf, ck, budget, new Set());
  if (root.kind !== "map") {
    ck.fail(root.pos, "(file)", "the top level must be a map (name: ..., nodes: ..., ...) — see topologies/asa-ips.yaml");
  }

  const baseEntries = new Map(root.entries);
  const variantsEntry = baseEntries.get("variants");
  baseEntries.delete("variants");
  const baseRoot: PMap = { ...root, entries: baseEntries };
  // Unknown top-level keys (and `variants` itself) are checked here, before the base is built.
  ck.map(root, "the topology", ROOT_KEYS);
  const base = buildScenario(baseRoot, ck);

  const variants = new Map<string, Scenario>();
  if (variantsEntry !== undefined) {
    const vn = variantsEntry.value;
    const vm = vn.kind === "scalar" && vn.value === null ? undefined : ck.anyMap(vn, "variants");
    for (const e of vm?.entries.values() ?? []) {
      variants.set(e.key, buildVariant(baseRoot, e, file, ck));
    }
  }

  const t: Topology = { file, name: base.name, base, variants };
  if (variantsEntry) variantsKeyPos.set(t, variantsEntry.keyPos);
  return t;
}

function buildVariant(baseRoot: PMap, e: PEntry, file: string, ck: Checker): Scenario {
  const name = e.key;
  if (!VARIANT_NAME_RE.test(name)) {
    ck.atKey(e, `variant name \`${name}\` is not allowed — use 1–32 lowercase letters, digits and '-', starting with a letter or digit`);
  }
  if (name === "base") ck.atKey(e, "variant name `base` is reserved for the base scenario — rename the variant");
  const vm = ck.anyMap(e.value, `variant ${name}`);
  for (const k of ["name", "variants"]) {
    const bad = vm.entries.get(k);
    if (bad) {
      ck.atKey(
        bad,
        k === "name"
          ? `a variant may not set \`name\`: all variants share the topology's name — remove it`
          : "a variant may not contain `variants` (variants do not nest) — declare it as a top-level variant instead",
      );
    }
  }
  const merged = mergeNodes(baseRoot, vm);
  if (merged.kind !== "map") throw new Error("unreachable: a map merged over a map is a map");
  return buildScenario(merged, new Checker(file, name));
}

/**
 * The base scenario then every variant (when `names` is empty), or just the
 * named ones in the given order ("base" names the base).
 */
export function selectScenarios(t: Topology, names: string[]): Scenario[] {
  if (names.length === 0) return [t.base, ...t.variants.values()];
  return names.map((n) => {
    if (n === "base") return t.base;
    const s = t.variants.get(n);
    if (s) return s;
    const pos = variantsKeyPos.get(t) ?? { line: 1, col: 1 };
    const known = ["base", ...t.variants.keys()];
    const detail =
      t.variants.size === 0
        ? `unknown variant \`${n}\` — ${t.file} has no variants; the only scenario is \`base\``
        : `unknown variant \`${n}\` — ${didYouMean(n, known)}known: ${known.join(", ")}`;
    throw new TopologyError(t.file, pos.line, pos.col, "variants", detail);
  });
}

const SYNTAX_MESSAGES: Record<string, string> = {
  MULTIPLE_DOCS: "the file contains more than one YAML document",
};

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MISSING_CHAR: "add the missing closing character (quote, ] or })",
  BAD_INDENT: "check the indentation: keys of one map line up, nested values go further right",
  BLOCK_AS_IMPLICIT_KEY: "check the indentation and put a space after each `key:`",
  MULTILINE_IMPLICIT_KEY: "check the indentation: a key and its `:` stay on one line",
  MULTIPLE_DOCS: "a topology file holds one document: remove the `---` separator and what follows, or split the file",
  UNEXPECTED_TOKEN: "remove or quote the unexpected character",
  TAG_RESOLVE_FAILED: "remove the tag (`!...`); plain values are enough",
  BAD_ALIAS: "define the anchor (&name) before using it (*name)",
};

interface Located {
  path: string;
  /** The map holding the key at the offset, and the key text, when the offset is a map key. */
  map?: { node: YNode; key: string; path: string };
}

/** The dotted path of the innermost key or value at `offset` in the YAML tree. */
function locate(n: unknown, path: string, offset: number): Located | undefined {
  if (isMap(n)) {
    for (const pair of n.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "?";
      const kr = isScalar(pair.key) ? pair.key.range : undefined;
      if (kr && offset >= kr[0] && offset < Math.max(kr[1], kr[0] + 1)) {
        return { path: childPath(path, key), map: { node: n, key, path } };
      }
      const vr = (pair.value as YNode | null)?.range;
      if (vr && offset >= vr[0] && offset < vr[2]) return locate(pair.value, childPath(path, key), offset) ?? { path: childPath(path, key) };
    }
    return undefined;
  }
  if (isSeq(n)) {
    for (let i = 0; i < n.items.length; i++) {
      const r = (n.items[i] as YNode | null)?.range;
      if (r && offset >= r[0] && offset < r[2]) return locate(n.items[i], itemPath(path, i), offset) ?? { path: itemPath(path, i) };
    }
  }
  return undefined;
}

function duplicateDetail(where: Located, posOf: (o: number) => Pos): string {
  const m = where.map;
  if (!m || !isMap(m.node)) return "duplicate key — each key may appear only once in a map; remove or merge the two";
  const first = m.node.items.find((p) => isScalar(p.key) && String(p.key.value) === m.key);
  const firstAt = first && isScalar(first.key) && first.key.range ? ` (first at line ${posOf(first.key.range[0]).line})` : "";
  if (m.path === "nodes") return `node \`${m.key}\` is declared twice${firstAt} — node names must be unique: rename one of them`;
  if (m.path === "variants") return `variant \`${m.key}\` is declared twice${firstAt} — variant names must be unique: rename or merge one of them`;
  return `duplicate key \`${m.key}\`${firstAt} — each key may appear only once in a map: remove or merge the two`;
}

/** The YAML node as a positioned tree (aliases resolved; every scalar a string, number, boolean or null). */
function toTree(
  doc: Document,
  n: unknown,
  path: string,
  posOf: (o: number) => Pos,
  ck: Checker,
  budget: { left: number },
  resolving: Set<unknown>,
  fallback: Pos = { line: 1, col: 1 },
): PNode {
  if (--budget.left < 0) ck.fail(fallback, path || "(file)", `the document expands to more than ${MAX_NODES} values (aliases?) — write the topology out plainly`);
  const range = (n as YNode | null)?.range;
  const pos = range ? posOf(range[0]) : fallback;
  if (n === null || n === undefined) return { kind: "scalar", pos, path, value: null };
  if (isAlias(n)) {
    const target = n.resolve(doc);
    if (target === undefined) ck.fail(pos, path, `alias *${n.source} has no anchor — define &${n.source} before using it`);
    if (resolving.has(target)) ck.fail(pos, path, `alias *${n.source} refers to a value that contains it — remove the recursion`);
    resolving.add(target);
    const t = toTree(doc, target, path, posOf, ck, budget, resolving, pos);
    resolving.delete(target);
    return { ...t, pos, path };
  }
  if (isMap(n)) {
    const entries = new Map<string, PEntry>();
    for (const pair of n.items) {
      if (!isScalar(pair.key) || pair.key.value === null || typeof pair.key.value === "object") {
        const kr = (pair.key as YNode | null)?.range;
        ck.fail(kr ? posOf(kr[0]) : pos, path || "(file)", "a key must be a plain name — write `name: value`");
      }
      const key = String(pair.key.value);
      const keyPos = pair.key.range ? posOf(pair.key.range[0]) : pos;
      const valuePath = childPath(path, key);
      const value = toTree(doc, pair.value, valuePath, posOf, ck, budget, resolving, keyPos);
      entries.set(key, { key, keyPos, value });
    }
    return { kind: "map", pos, path, entries };
  }
  if (isSeq(n)) {
    return { kind: "seq", pos, path, items: n.items.map((it, i) => toTree(doc, it, itemPath(path, i), posOf, ck, budget, resolving, pos)) };
  }
  if (isScalar(n)) {
    const v = n.value;
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return { kind: "scalar", pos, path, value: v };
    ck.fail(pos, path, `unsupported value ${String(v)} — write a plain string, number or true/false`);
  }
  return ck.fail(pos, path, "unsupported YAML node — write plain maps, lists and values");
}
