// Lab up + down per runtime: the cost of building and removing the base
// scenario's lab (nodes, nets, addresses, firewall policy; no tunnel), so the
// runtimes can be compared on one host. Prints numbers; asserts nothing.
//   node dist/bench/runtime.js [FILE] [iterations] [runtime ...]
// A runtime that cannot run here is reported with the reason and skipped.
import * as path from "node:path";
import { Lab } from "../harness/lab";
import { RUNTIME_KINDS, isRuntimeKind, runtimeModule } from "../harness/runtime";
import { loadTopology, selectScenarios } from "../harness/topology/load";

const file = process.argv[2] ?? path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
const n = Number(process.argv[3] ?? 7);
const kinds = process.argv.slice(4).length ? process.argv.slice(4) : RUNTIME_KINDS;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]} ms  median ${median(s)} ms  max ${s[s.length - 1]} ms`;
};

async function main(): Promise<void> {
  const [base] = selectScenarios(loadTopology(file), ["base"]);
  console.log(`${base.name}/base, ${base.nodes.length} nodes, ${base.nets.length} nets, ${n} iterations (the first one warms caches and is not counted)`);
  for (const kind of kinds) {
    if (!isRuntimeKind(kind)) throw new Error(`no runtime ${kind} (known: ${RUNTIME_KINDS.join(", ")})`);
    const why = await (await runtimeModule(kind)).unavailable();
    if (why) {
      console.log(`${kind.padEnd(7)} skipped: ${why}`);
      continue;
    }
    const up: number[] = [];
    const down: number[] = [];
    const total: number[] = [];
    for (let i = 0; i <= n; i++) {
      const t0 = Date.now();
      const lab = await Lab.up(base, { runtime: kind });
      const t1 = Date.now();
      await lab.down();
      const t2 = Date.now();
      if (i === 0) continue;
      up.push(t1 - t0);
      down.push(t2 - t1);
      total.push(t2 - t0);
    }
    console.log(`${kind.padEnd(7)} up:      ${stats(up)}`);
    console.log(`${"".padEnd(7)} down:    ${stats(down)}`);
    console.log(`${"".padEnd(7)} up+down: ${stats(total)}`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e.message);
    process.exit(2);
  },
);
