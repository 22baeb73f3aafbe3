// The topology loader: YAML text → positioned tree → validated base Scenario
// and one Scenario per variant (the variant deep-merged over the base).
// Every problem is a TopologyError carrying file:line:col and a dotted key.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Alias, type Document, type Node as YNode } from "yaml";
import { TopologyError, didYouMean } from "./errors";
import { childPath, itemPath, mergeNodes, type PEntry, type PMap, type PNode, type Pos } from "./merge";
import type { Scenario, Topology } from "./model";
import { Checker, ROOT_KEYS, VARIANT_NAME_RE, buildScenario } from "./validate";

export { TopologyError } from "./errors";

/** Where each topology's `variants:` key was written (for selectScenarios' messages). */
const variantsKeyPos = new WeakMap<Topology, Pos>();

/** A topology file's aliases could otherwise expand without bound. */
export const MAX_NODES = 100_000;
/** A topology nests about six levels; the bound keeps every recursive walk far from the stack's end. */
export const MAX_DEPTH = 64;
/** A topology is a few kilobytes; the bound keeps a wrong file (a log, an image) from costing seconds or gigabytes. */
export const MAX_CHARS = 256 * 1024;

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readBounded(file, 4 * MAX_CHARS);
  } catch (e) {
    if (e instanceof TopologyError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new TopologyError(file, 1, 1, "(file)", `cannot read the topology file: ${why} — check the path`);
  }
  return parseTopology(text, file);
}

/**
 * The file's text, read up to `maxBytes` (+1 to tell it is longer): bounded whatever the file is —
 * a regular file, /dev/stdin, a FIFO, /dev/zero — where a plain readFileSync of a device would never end.
 */
function readBounded(file: string, maxBytes: number): string {
  const fd = openSync(file, "r");
  try {
    if (fstatSync(fd).isDirectory()) throw new Error("EISDIR: it is a directory");
    const buf = Buffer.alloc(maxBytes + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > maxBytes) {
        // at up to 4 bytes a character, more bytes than this is more characters than parseTopology takes
        throw new TopologyError(file, 1, 1, "(file)", `the file holds more than ${maxBytes} bytes; a topology is at most ${MAX_CHARS} characters — is this the right file?`);
      }
    }
    return buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export function parseTopology(text: string, file: string): Topology {
  if (text.length > MAX_CHARS) {
    throw new TopologyError(file, 1, 1, "(file)", `the file holds ${text.length} characters; a topology is at most ${MAX_CHARS} — is this the right file?`);
  }
  const lc = new LineCounter();
  // Duplicate keys are found by TreeBuilder: yaml's uniqueKeys compares every key with every other
  // (a 60 000-key map took 90 s), and tells apart keys (1 and "1") that our maps would merge.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false, strict: true });
  const posOf = (offset: number): Pos => {
    const p = lc.linePos(offset);
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  };

  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const pos = posOf(problem.pos[0]);
    const what = SYNTAX_MESSAGES[problem.code] ?? problem.message.replace(/\s+at line \d+, column \d+:[\s\S]*$/, "");
    // a broken document has no reliable path
    throw new TopologyError(file, pos.line, pos.col, "(yaml)", `YAML syntax error: ${what} — ${SYNTAX_HINTS[problem.code] ?? "fix the YAML syntax here"}`);
  }

  const ck: Checker = new Checker(file, "base"); // annotated: lets `never` calls narrow
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new TopologyError(file, 1, 1, "(file)", "the file is empty — a topology needs at least name, nodes, vpn, probe and expect (see topologies/asa-ips.yaml)");
  }
  const root = new TreeBuilder(doc, posOf, ck).root(doc.contents);
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
  RESOURCE_EXHAUSTION: "the document nests too deeply to be read",
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
  RESOURCE_EXHAUSTION: "a topology nests a few levels: remove the extra brackets or indentation",
};

/** The message for key `key` written twice in the map at `path`, first at line `first`. */
function duplicateDetail(path: string, key: string, first: number): string {
  if (path === "nodes") return `node \`${key}\` is declared twice (first at line ${first}) — node names must be unique: rename one of them`;
  if (path === "variants") return `variant \`${key}\` is declared twice (first at line ${first}) — variant names must be unique: rename or merge one of them`;
  return `duplicate key \`${key}\` (first at line ${first}) — each key may appear only once in a map: remove or merge the two`;
}

/**
 * The YAML document as a positioned tree (aliases resolved; every scalar a
 * string, number, boolean or null), within bounds: at most MAX_NODES values
 * however aliases multiply them, and at most MAX_DEPTH levels (recursion stays
 * far from the stack's end).
 */
class TreeBuilder {
  private left = MAX_NODES;
  private readonly resolving = new Set<unknown>();
  /** How many values each aliased node expands to (memoised: a bomb is measured, not expanded). */
  private readonly sizes = new Map<unknown, number>();
  /** Each alias's anchored node, found in one pass at the first alias (yaml's own resolve walks the whole document per call). */
  private targets?: Map<unknown, unknown>;

  constructor(
    private readonly doc: Document,
    private readonly posOf: (o: number) => Pos,
    private readonly ck: Checker,
  ) {}

  /** The document's tree, refused up front (measured, never expanded) when aliases would multiply it past MAX_NODES. */
  root(n: unknown): PNode {
    if (this.size(n, 0) > MAX_NODES) this.overflow(n, "", { line: 1, col: 1 }, 0, { left: MAX_NODES });
    return this.build(n, "", { line: 1, col: 1 }, 0);
  }

  /** Walks in document order to the value that takes the count past MAX_NODES and fails there, naming the alias. */
  private overflow(n: unknown, path: string, fallback: Pos, depth: number, count: { left: number }): void {
    const size = this.size(n, depth);
    if (size <= count.left) {
      count.left -= size;
      return;
    }
    const range = (n as YNode | null)?.range;
    const pos = range ? this.posOf(range[0]) : fallback;
    if (isAlias(n)) {
      const total = size > MAX_NODES ? `more than ${MAX_NODES}` : String(size);
      this.ck.fail(pos, path || "(file)", `alias *${n.source} takes the document past the ${MAX_NODES} values a topology may hold (it expands to ${total}; an alias bomb?) — write the values out, or use fewer aliases`);
    }
    count.left -= 1;
    if (isMap(n)) {
      for (const pair of n.items) {
        const kr = (pair.key as YNode | null)?.range;
        this.overflow(pair.value, childPath(path, isScalar(pair.key) ? String(pair.key.value) : "?"), kr ? this.posOf(kr[0]) : pos, depth + 1, count);
      }
    } else if (isSeq(n)) {
      n.items.forEach((it, i) => this.overflow(it, itemPath(path, i), pos, depth + 1, count));
    }
    // plain values alone past the bound: build reports it where the count runs out
  }

  build(n: unknown, path: string, fallback: Pos, depth: number): PNode {
    const ck: Checker = this.ck; // annotated: lets `never` calls narrow
    const where = path || "(file)";
    const range = (n as YNode | null)?.range;
    const pos = range ? this.posOf(range[0]) : fallback;
    if (--this.left < 0) ck.fail(pos, where, `the document holds more than ${MAX_NODES} values — a topology needs far fewer; split it or remove what is repeated`);
    if (depth > MAX_DEPTH) ck.fail(pos, where, `values nest more than ${MAX_DEPTH} levels deep here — a topology nests a few levels: remove the extra brackets or indentation`);
    if (n === null || n === undefined) return { kind: "scalar", pos, path, value: null };
    if (isAlias(n)) {
      const target = this.anchorOf(n);
      if (target === undefined) ck.fail(pos, where, `alias *${n.source} has no anchor — define &${n.source} before using it`);
      if (this.resolving.has(target)) ck.fail(pos, where, `alias *${n.source} refers to a value that contains it — remove the recursion`);
      this.resolving.add(target);
      const t = this.build(target, path, pos, depth);
      this.resolving.delete(target);
      return { ...t, pos, path };
    }
    if (isMap(n)) {
      const entries = new Map<string, PEntry>();
      for (const pair of n.items) {
        const kr = (pair.key as YNode | null)?.range;
        const keyPos = kr ? this.posOf(kr[0]) : pos;
        if (!isScalar(pair.key) || pair.key.value === null || typeof pair.key.value === "object") {
          ck.fail(keyPos, where, "a key must be a plain name — write `name: value`");
        }
        const key = String(pair.key.value);
        if (key === "") ck.fail(keyPos, where, "a key is empty — write `name: value`");
        const first = entries.get(key);
        if (first) ck.fail(keyPos, childPath(path, key), duplicateDetail(path, key, first.keyPos.line));
        const value = this.build(pair.value, childPath(path, key), keyPos, depth + 1);
        entries.set(key, { key, keyPos, value });
      }
      return { kind: "map", pos, path, entries };
    }
    if (isSeq(n)) {
      return { kind: "seq", pos, path, items: n.items.map((it, i) => this.build(it, itemPath(path, i), pos, depth + 1)) };
    }
    if (isScalar(n)) {
      const v = n.value;
      if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return { kind: "scalar", pos, path, value: v };
      ck.fail(pos, where, `unsupported value ${String(v)} — write a plain string, number or true/false`);
    }
    return ck.fail(pos, where, "unsupported YAML node — write plain maps, lists and values");
  }

  /** The values `n` expands to, aliases included, capped just past MAX_NODES (cycles and depth are build's to report). */
  private size(n: unknown, depth: number): number {
    if (depth > MAX_DEPTH) return 1;
    const known = this.sizes.get(n);
    if (known !== undefined) return known;
    this.sizes.set(n, 1); // provisional: a cycle through n counts once here
    let total = 1;
    if (isAlias(n)) {
      const target = this.anchorOf(n);
      total = target === undefined ? 1 : this.size(target, depth);
    } else if (isMap(n)) {
      for (const pair of n.items) total += this.size(pair.value, depth + 1);
    } else if (isSeq(n)) {
      for (const it of n.items) total += this.size(it, depth + 1);
    }
    total = Math.min(total, MAX_NODES + 1);
    this.sizes.set(n, total);
    return total;
  }

  /** The node the alias names: the last node anchored with its name before it, as YAML defines (and as yaml's Alias.resolve finds). */
  private anchorOf(a: Alias): unknown {
    if (this.targets === undefined) {
      const targets = new Map<unknown, unknown>();
      const last = new Map<string, unknown>();
      visit(this.doc, {
        Node: (_k, node) => {
          if (isAlias(node)) targets.set(node, last.get(node.source));
          else if (node.anchor) last.set(node.anchor, node);
        },
      });
      this.targets = targets;
    }
    return this.targets.get(a);
  }
}
