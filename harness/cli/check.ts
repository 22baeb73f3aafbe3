// `vpnlab check FILE [--variant NAME ...] [--json]`: validate a topology and
// print its resolved scenarios. Loads the topology model only: no root, no
// lab, nothing created — editors and CI can lint topologies with it.
import { describeScenario, formatDescription } from "../report/describe";
import { loadTopology } from "../topology/load";
import { notRunnable } from "../vpn/support";
import { seeded, selectCells, withRuntime, withSeedOption, withSelectors, withTopology, type Command } from "./command";
import type { FirewallMode, Impl, RuntimeKind, Transport } from "../topology/model";
import { err, out } from "./output";

export const check = {
  command: "check <file>",
  describe: "validate a topology and print its resolved scenarios (needs no root, creates nothing)",
  builder: (y) =>
    withSeedOption(withRuntime(withSelectors(withTopology(y, 'describe only this scenario ("base" names the base); repeat it or give a comma list'))))
      .option("json", { type: "boolean", default: false, describe: "print one JSON document { topology, file, scenarios } instead of text" })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (its runtime: decides where scenarios would run); default VPNLAB_CONFIG" })
      .example("$0 check topologies/asa-ips.yaml -v natt", "the NAT-T variant as it will run"),
  run: async (a) => {
    const t = loadTopology(a.file);
    // the runtime each scenario would run on, decided as `run` decides it; the registry loads no backend,
    // and the config file (with the engine URL parser) is read only when there is one
    const { withRuntimes } = await import("../runtime");
    const cfgFile = a.config ?? (process.env.VPNLAB_CONFIG || undefined);
    const cfg = cfgFile ? (await import("../config")).loadConfig(cfgFile) : undefined;
    const selected = seeded(withRuntimes(selectCells(t, a), a.runtime, cfg?.runtime), a.seed);
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
} satisfies Command<{ file: string; variant: string[] | undefined; transport: Transport[] | undefined; mode: FirewallMode[] | undefined; impl: Impl[] | undefined; runtime: RuntimeKind | undefined; config: string | undefined; json: boolean; seed: number | undefined }>;
