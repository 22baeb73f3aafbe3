import { expect } from "chai";
import { mergeNodes, plain, type PMap, type PNode } from "./merge";

let n = 0;
/** A positioned tree from plain values; every node gets a distinct line so positions can be traced. */
function tree(v: unknown, path = "", tag = "base"): PNode {
  const pos = { line: ++n, col: 1 };
  if (Array.isArray(v)) return { kind: "seq", pos, path: `${tag}:${path}`, items: v.map((x, i) => tree(x, `${path}[${i}]`, tag)) };
  if (v !== null && typeof v === "object") {
    const entries = new Map(Object.entries(v).map(([k, x]) => [k, { key: k, keyPos: { line: ++n, col: 1 }, value: tree(x, path ? `${path}.${k}` : k, tag) }]));
    return { kind: "map", pos, path: `${tag}:${path}`, entries };
  }
  return { kind: "scalar", pos, path: `${tag}:${path}`, value: v as string | number | boolean | null };
}

function get(m: PNode, ...keys: string[]): PNode {
  let cur = m;
  for (const k of keys) {
    if (cur.kind !== "map") throw new Error("not a map");
    const e = cur.entries.get(k);
    if (!e) throw new Error(`no ${k}`);
    cur = e.value;
  }
  return cur;
}

describe("topology merge", () => {
  it("merges maps recursively; lists, scalars and null replace", () => {
    const base = tree({ a: 1, m: { x: 1, y: [1, 2], z: { q: 1 } }, l: [1, 2, 3], f: { node: "fw" } });
    const over = tree({ m: { y: [9], z: { r: 2 } }, l: [], f: null, b: "new" }, "", "over");
    expect(plain(mergeNodes(base, over))).to.deep.equal({ a: 1, m: { x: 1, y: [9], z: { q: 1, r: 2 } }, l: [], f: null, b: "new" });
  });

  it("keeps each value's source position and path", () => {
    const base = tree({ vpn: { transport: "ctcp", port: 10000 } });
    const over = tree({ vpn: { transport: "natt" } }, "", "over");
    const m = mergeNodes(base, over);
    expect(get(m, "vpn").path).to.equal("base:vpn"); // a merged map keeps the base's place
    expect(get(m, "vpn", "transport").path).to.equal("over:vpn.transport");
    expect(get(m, "vpn", "transport").pos).to.deep.equal(get(over, "vpn", "transport").pos);
    expect(get(m, "vpn", "port").pos).to.deep.equal(get(base, "vpn", "port").pos);
  });

  it("keeps the base's key order and appends new keys", () => {
    const m = mergeNodes(tree({ a: 1, b: 2, c: 3 }), tree({ d: 4, b: 5 }, "", "over")) as PMap;
    expect([...m.entries.keys()]).to.deep.equal(["a", "b", "c", "d"]);
  });

  it("does not modify its inputs", () => {
    const base = tree({ m: { x: 1 } });
    const before = JSON.stringify(plain(base));
    mergeNodes(base, tree({ m: { y: 2 } }, "", "over"));
    expect(JSON.stringify(plain(base))).to.equal(before);
  });
});
