// `vpnlab heal LAB [TARGET] [--direction D]`: clear the faults `vpnlab impair`
// put on a lab (all of them without TARGET), saying what each dropped.
// Idempotent; it needs nothing of the process that impaired.
import type { Direction } from "../impair/fault";
import { DIRECTIONS } from "../impair/fault";
import type { Command } from "./command";
import { parseDirection } from "./impair-options";
import { err, out } from "./output";

export const heal = {
  command: "heal <lab> [target]",
  describe: "clear the faults `vpnlab impair` put on a lab: on TARGET (NODE.NET or NODE), or all of them",
  builder: (y) =>
    y
      .positional("lab", { type: "string", demandOption: true, describe: "the lab id (see `vpnlab ls`)" })
      .positional("target", { type: "string", describe: "NODE.NET or NODE; default every fault of the lab" })
      .option("direction", { type: "string", requiresArg: true, describe: "only this direction (egress or ingress); default both" })
      .example("$0 heal 1a2b3", "clear every fault of lab 1a2b3")
      .example("$0 heal 1a2b3 wan.edge --direction ingress", "clear wan.edge's ingress fault"),
  run: async (a) => {
    const direction = parseDirection(a.direction);
    const { clearFaults, resolveTarget, withHeldLab } = await import("./held");
    return withHeldLab(a.lab, false, async (lab) => {
      const on = a.target === undefined ? undefined : resolveTarget(lab.scenario, a.target);
      const faults = (lab.state.faults ?? []).filter((f) => (!on || (f.node === on.target.node && on.devs.includes(f.dev))) && (!direction || f.direction === direction));
      if (faults.length === 0) out(`lab ${lab.state.labId}: no active faults${a.target ? ` on ${a.target}` : ""}${direction ? ` (${direction})` : ""}`);
      const failed = await clearFaults(lab, faults, out, err);
      if (on) {
        // a named target is cleared whatever the record says: what an impair cut short may have left goes too
        const dirs: readonly Direction[] = direction ? [direction] : DIRECTIONS;
        for (const dev of on.devs) for (const d of dirs) if (!faults.some((f) => f.dev === dev && f.direction === d)) await lab.impairer.clear(on.target.node, dev, d);
      }
      return failed ? 2 : 0;
    });
  },
} satisfies Command<{ lab: string; target: string | undefined; direction: string | undefined }>;
