// `vpnlab check FILE [--variant NAME ...] [--json]`: validate a topology and
// print its resolved scenarios. Loads the topology model only: no root, no
// lab, nothing created — editors and CI can lint topologies with it.
import { describeScenario, formatDescription } from "../report/describe";
import { loadTopology } from "../topology/load";
import { notRunnable } from "../vpn/support";
import { selectCells, withSelectors, withTopology, type Command } from "./command";
import type { FirewallMode, Impl, Transport } from "../topology/model";
import { err, out } from "./output";

export const check = {
  command: "check <file>",
  describe: "validate a topology and print its resolved scenarios (needs no root, creates nothing)",
  builder: (y) =>
    withSelectors(withTopology(y, 'describe only this scenario ("base" names the base); repeat it or give a comma list'))
      .option("json", { type: "boolean", default: false, describe: "print one JSON document { topology, file, scenarios } instead of text" })
      .example("$0 check topologies/asa-ips.yaml -v natt", "the NAT-T variant as it will run"),
  run: async (a) => {
    const t = loadTopology(a.file);
    const selected = selectCells(t, a);
    const scenarios = selected.map(describeScenario);
    // valid as a file, but `run` would refuse it here: a lint that passes must mean the run can start
    const refused = selected.flatMap((s) => {
      const why = notRunnable(s.vpn);
      return why ? [{ variant: s.variant, why }] : [];
    });
    if (a.json) {
      out(JSON.stringify({ topology: t.name, file: a.file, scenarios, notRunnable: refused }, null, 2));
    } else {
      out(`${a.file}: valid; topology ${t.name}, ${scenarios.length} scenario(s): ${scenarios.map((s) => s.variant).join(", ")}`);
      for (const s of scenarios) out(`\n${formatDescription(s)}`);
    }
    for (const r of refused) err(`vpnlab: ${a.file}: ${r.variant}: ${r.why} — \`vpnlab run\` would report a lab error`);
    return refused.length > 0 ? 2 : 0;
  },
} satisfies Command<{ file: string; variant: string[] | undefined; transport: Transport[] | undefined; mode: FirewallMode[] | undefined; impl: Impl[] | undefined; json: boolean }>;
