// `vpnlab impair LAB TARGET <options>`: put a fault on a lab held by `vpnlab
// up`, from any shell, with the topology file's vocabulary and units. Each
// impair replaces the fault on that (node, interface, direction); the lab's
// record keeps it, so `vpnlab ls` shows it and `vpnlab heal` clears it.
import { isNoImpairment } from "../impair/impairment";
import type { HeldFault } from "../runtime/state";
import { UsageError, type Command } from "./command";
import { faultOf, impairmentOf, withImpairOptions, type ImpairArgs } from "./impair-options";
import { out } from "./output";

export const impair = {
  command: "impair <lab> <target>",
  describe: "impair a lab held by `vpnlab up`: NODE.NET (one interface) or NODE (all of its), replacing the fault there",
  builder: (y) =>
    withImpairOptions(
      y
        .positional("lab", { type: "string", demandOption: true, describe: "the lab id (see `vpnlab ls`)" })
        .positional("target", { type: "string", demandOption: true, describe: "NODE.NET (e.g. wan.edge) or NODE (every interface of the node)" }),
    )
      .example("$0 impair 1a2b3 wan.edge --loss 5%", "5% random loss on wan's egress to net edge")
      .example("$0 impair 1a2b3 wan.edge --delay 100ms --jitter 20ms --distribution normal", "delay with normal jitter (the userspace wire on a host without netem)")
      .example("$0 impair 1a2b3 wan.edge --drop 1 --match proto=tcp,dport=10000,from=client,to=headend", "drop the first client→headend segment of the cTCP port")
      .example("$0 impair 1a2b3 firewall --partition --direction ingress", "blackhole everything arriving at the firewall"),
  run: async (a) => {
    const impairment = impairmentOf(a);
    if (isNoImpairment(impairment)) throw new UsageError("give an impairment: e.g. --loss 5%, --delay 100ms, --rate 1mbit, --partition (`vpnlab heal` removes one)");
    const { ImpairmentRefused } = await import("../impair/apply");
    const { droppedText, faultPlace, faultText, firstAddress, recordFaults, resolveTarget, withHeldLab } = await import("./held");
    return withHeldLab(a.lab, true, async (lab) => {
      const { target, devs } = resolveTarget(lab.scenario, a.target);
      const fault = faultOf(a, (n) => firstAddress(lab.scenario, n), impairment);
      const direction = fault.direction ?? "egress";
      const { heldWireRefusal } = await import("../impair/preflight");
      const fw = await heldWireRefusal(lab.scenario, target.node, fault);
      if (fw) throw new UsageError(`${lab.state.labId}: ${a.target}: ${fw}`);
      const added: HeldFault[] = [];
      try {
        for (const dev of devs) {
          const before = (lab.state.faults ?? []).find((f) => f.node === target.node && f.dev === dev && f.direction === direction);
          const r = await lab.impairer.apply(target.node, dev, fault);
          const rec = lab.impairer.applied[lab.impairer.applied.length - 1];
          const held: HeldFault = { target: a.target, node: target.node, dev, direction, fault: { ...fault, direction }, backend: r.backend, at: rec.at };
          added.push(held);
          const replaced = before ? `; replaced ${faultText(before)} (${before.backend}: ${droppedText(rec.dropped)})` : "";
          out(`lab ${lab.state.labId}: ${faultPlace(held)}: ${faultText(held)} — served by ${r.backend}${replaced}`);
        }
      } catch (e) {
        // nothing was changed on the interface it names: a usage error, with every backend's reason
        if (e instanceof ImpairmentRefused) throw new UsageError(`${lab.state.labId}: ${e.message}`);
        throw e;
      } finally {
        // what was applied before a failure is in place: the record says so
        if (added.length) recordFaults(lab.state, added, []);
      }
      return 0;
    });
  },
} satisfies Command<{ lab: string; target: string } & ImpairArgs>;
