// Lab lifecycle cost on this host: how long building a lab, bringing the
// tunnel up and tearing it down take, per variant. Prints numbers; asserts nothing.
//   node dist/bench/lab.js [FILE] [iterations]
import * as path from "node:path";
import { Lab } from "../harness/lab";
import { loadTopology, selectScenarios } from "../harness/topology/load";

const file = process.argv[2] ?? path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
const n = Number(process.argv[3] ?? 5);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]} ms  median ${s[Math.floor(s.length / 2)]} ms  max ${s[s.length - 1]} ms`;
};

async function main(): Promise<void> {
  for (const s of selectScenarios(loadTopology(file), [])) {
    const up: number[] = [];
    const tunnel: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = Date.now();
      const lab = await Lab.up(s);
      up.push(Date.now() - t);
      try {
        tunnel.push((await lab.tunnelUp()).ms);
      } finally {
        t = Date.now();
        await lab.down();
        down.push(Date.now() - t);
      }
    }
    console.log(`${s.variant.padEnd(18)} lab up: ${stats(up)}`);
    console.log(`${"".padEnd(18)} tunnel up: ${stats(tunnel)}`);
    console.log(`${"".padEnd(18)} lab down: ${stats(down)}`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e.message);
    process.exit(2);
  },
);
