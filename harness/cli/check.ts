// `vpnlab check FILE [--variant NAME ...] [--json]`: validate a topology and
// print its resolved scenarios. Loads the topology model only: no root, no
// lab, nothing created — editors and CI can lint topologies with it.
import { describeScenario, formatDescription } from "../report/describe";
import { loadTopology, selectScenarios } from "../topology/load";
import { withTopology, type Command } from "./command";
import { out } from "./output";

export const check = {
  command: "check <file>",
  describe: "validate a topology and print its resolved scenarios (needs no root, creates nothing)",
  builder: (y) =>
    withTopology(y, 'describe only this scenario ("base" names the base); repeat it or give a comma list')
      .option("json", { type: "boolean", default: false, describe: "print one JSON document { topology, file, scenarios } instead of text" })
      .example("$0 check topologies/asa-ips.yaml -v natt", "the NAT-T variant as it will run"),
  run: async (a) => {
    const t = loadTopology(a.file);
    const scenarios = selectScenarios(t, a.variant ?? []).map(describeScenario);
    if (a.json) {
      out(JSON.stringify({ topology: t.name, file: a.file, scenarios }, null, 2));
    } else {
      out(`${a.file}: valid; topology ${t.name}, ${scenarios.length} scenario(s): ${scenarios.map((s) => s.variant).join(", ")}`);
      for (const s of scenarios) out(`\n${formatDescription(s)}`);
    }
    return 0;
  },
} satisfies Command<{ file: string; variant: string[] | undefined; json: boolean }>;
