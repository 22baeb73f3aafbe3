// `vpnlab up FILE [--variant NAME]`: one lab, tunnel up, held until a signal.
import { loadTopology, selectScenarios } from "../topology/load";
import type { RuntimeKind } from "../topology/model";
import { UsageError, withRuntime, withTopology, type Command } from "./command";
import { err, out } from "./output";

export const up = {
  command: "up <file>",
  describe: "build one lab, bring the tunnel up, hold it until Ctrl-C or `vpnlab down`",
  builder: (y) =>
    withRuntime(withTopology(y, 'the scenario to hold (default "base")'))
      .option("engine", { type: "string", requiresArg: true, describe: "the Docker engine for the docker runtime (unix:///path, tcp://host:port, ssh://user@host); default: the config's first engine, else VPNLAB_ENGINES' first, else DOCKER_HOST" })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (engines:, runtime:); default VPNLAB_CONFIG" })
      .example("$0 up topologies/asa-ips.yaml -v natt", "hold the NAT-T variant")
      .example("$0 up topologies/asa-ips.yaml --runtime docker --engine unix:///run/vpnlab-ci2/docker.sock", "hold base as containers of that engine"),
  run: async (a) => {
    const variants = a.variant ?? [];
    if (variants.length > 1) throw new UsageError(`up holds one lab: give at most one --variant (got ${variants.join(", ")})`);
    // loaded here: `check` and --help load nothing of the runtimes (suites/cli.spec checks it)
    const { configPath, loadConfig } = await import("../config");
    const { runtimeModule, withRuntimes } = await import("../runtime");
    const cfgFile = configPath(a.config);
    const cfg = cfgFile ? loadConfig(cfgFile) : undefined;
    const [scenario] = withRuntimes(selectScenarios(loadTopology(a.file), variants.length ? variants : ["base"]), a.runtime, cfg?.runtime);
    // the first location of its runtime (docker: --engine, else the first configured engine)
    let where: import("../runtime/runtime").Location;
    try {
      [where] = (await runtimeModule(scenario.runtime!)).locations(cfg, a.engine === undefined ? undefined : [a.engine]);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { Lab } = await import("../lab");
    const lab = await Lab.up(scenario, { log: err, holder: "up", ...where.options });
    try {
      const t = await lab.tunnelUp();
      out(`lab ${lab.labId} (${scenario.name}/${scenario.variant}) is up; tunnel inner address ${t.inner}`);
      for (const n of scenario.nodes) out(`  ${n.name.padEnd(10)} ${lab.runtime.enterArgv(n.name).join(" ")}`);
      out(`stop it with Ctrl-C or \`vpnlab down ${lab.labId}\``);
    } catch (e) {
      await lab.down();
      throw e;
    }
    // held until a signal: harness/cleanup.ts tears the lab down and exits
    return new Promise<number>(() => undefined);
  },
} satisfies Command<{ file: string; variant: string[] | undefined; runtime: RuntimeKind | undefined; engine: string | undefined; config: string | undefined }>;
