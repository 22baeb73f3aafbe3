// A small positioned tree (what the YAML said, and where) and the deep merge
// of a variant over the base. Every node keeps the position and dotted path of
// the text it came from, so a value a variant supplied is reported at the
// variant's line, and a value inherited from the base at the base's.

export interface Pos {
  line: number; // 1-based
  col: number; // 1-based
}

interface Common {
  pos: Pos;
  /** Dotted path of this value in the file, e.g. `variants.natt.vpn.port` or `nodes.client.links[0].ip`. */
  path: string;
}

export interface PMap extends Common {
  kind: "map";
  entries: Map<string, PEntry>;
}

export interface PEntry {
  key: string;
  keyPos: Pos;
  value: PNode;
}

export interface PSeq extends Common {
  kind: "seq";
  items: PNode[];
}

export type ScalarValue = string | number | boolean | null;

export interface PScalar extends Common {
  kind: "scalar";
  value: ScalarValue;
}

export type PNode = PMap | PSeq | PScalar;

/** The dotted path of child `key` of a value at `parent` ("" is the document root). */
export function childPath(parent: string, key: string): string {
  return parent === "" ? key : `${parent}.${key}`;
}

export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/**
 * `over` deep-merged onto `base`: maps merge key by key (recursively), anything
 * else in `over` (scalars, lists, null) replaces what the base had. Neither
 * input is modified. A merged map keeps the base's position; every entry and
 * value keeps the position of whichever side supplied it.
 */
export function mergeNodes(base: PNode, over: PNode): PNode {
  if (base.kind !== "map" || over.kind !== "map") return over;
  const entries = new Map<string, PEntry>();
  for (const [k, e] of base.entries) {
    const o = over.entries.get(k);
    if (o === undefined) entries.set(k, e);
    else if (e.value.kind === "map" && o.value.kind === "map") entries.set(k, { key: k, keyPos: e.keyPos, value: mergeNodes(e.value, o.value) });
    else entries.set(k, o);
  }
  for (const [k, o] of over.entries) if (!entries.has(k)) entries.set(k, o);
  return { kind: "map", pos: base.pos, path: base.path, entries };
}

/** The tree as plain JavaScript values (for tests and debugging). */
export function plain(n: PNode): unknown {
  switch (n.kind) {
    case "scalar":
      return n.value;
    case "seq":
      return n.items.map(plain);
    case "map": {
      const o: Record<string, unknown> = {};
      for (const [k, e] of n.entries) o[k] = plain(e.value);
      return o;
    }
  }
}
