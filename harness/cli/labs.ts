// The lab housekeeping commands: `vpnlab ls`, `vpnlab down`, `vpnlab gc`.
import { UsageError, type Command } from "./command";
import { err, out } from "./output";

/** ls, down and gc look through every Docker engine the host is configured with (and those the labs' records name). */
const CONFIG = { type: "string", requiresArg: true, describe: "the host's settings file (its engines: are searched); default VPNLAB_CONFIG" } as const;

async function labsOn(config: string | undefined) {
  const { hostConfig, listLabs } = await import("../gc");
  return listLabs({ config: hostConfig(config) });
}

export const ls = {
  command: "ls",
  describe: "list the labs on this machine (owner alive, or orphaned)",
  builder: (y) => y.option("config", CONFIG),
  run: async (a) => {
    const { formatTable } = await import("../report/table");
    const labs = await labsOn(a.config);
    if (labs.length === 0) {
      out("no labs");
      return 0;
    }
    const rows = labs.map((l) => [l.labId, l.state?.topology ?? "?", l.state?.variant ?? "?", l.alive ? `pid ${l.state?.ownerPid}` : "orphaned (vpnlab gc)", l.state?.runtime ?? l.runtimes.join(","), engineColumn(l), String(l.objects.length), String(l.state?.faults?.length ?? 0), l.state?.created ?? "-"]);
    out(formatTable(rows, ["lab", "topology", "variant", "owner", "runtime", "engine", "objects", "faults", "created"]));
    // a line per active fault (`vpnlab impair`), under the table: what `vpnlab heal` would clear
    const { faultPlace, faultText } = await import("./held");
    for (const l of labs) for (const f of l.state?.faults ?? []) out(`fault ${l.labId} ${faultPlace(f)}: ${faultText(f)} (${f.backend}, since ${f.at})`);
    return 0;
  },
} satisfies Command<{ config: string | undefined }>;

/** Where a lab lives (docker: its record's engine, else where its containers were found); "-" for this host. */
function engineColumn(l: import("../gc").LabInfo): string {
  return (l.state?.engine ? [l.state.engine] : l.locations).join(",") || "-";
}

/** How long `down` waits for a lab's owner to tear it down and exit. */
const DOWN_WAIT_MS = 10_000;

export const down = {
  command: "down [lab]",
  describe: "tear down labs held by `vpnlab up`: one lab id, every lab of a topology, or --all",
  builder: (y) =>
    y
      .positional("lab", { type: "string", describe: "a lab id (see `vpnlab ls`) or a topology name" })
      .option("all", { type: "boolean", default: false, describe: "every lab on this machine" })
      .option("config", CONFIG)
      .check((a) => {
        if (!a.lab && !a.all) throw new Error("down needs a lab id, a topology name or --all");
        if (a.lab && a.all) throw new Error("give a lab id or topology name, or --all, not both");
        return true;
      }),
  run: async (a) => {
    const { removeLab } = await import("../gc");
    const { processStart } = await import("../runtime/state");
    const labs = (await labsOn(a.config)).filter((l) => a.all || l.labId === a.lab || l.state?.topology === a.lab);
    if (labs.length === 0) throw new UsageError(a.all ? "no labs on this machine" : `no lab named ${a.lab}; see \`vpnlab ls\``);
    let refused = 0;
    let failed = 0;
    for (const l of labs) {
      if (l.alive && l.state && l.state.holder !== "up") {
        // a run holds several labs and reports on them: stopping it is the user's call, not a side effect
        err(`lab ${l.labId} belongs to a running \`vpnlab run\` or test (pid ${l.state.ownerPid}): stop that run (Ctrl-C, or kill -TERM ${l.state.ownerPid}); it tears its labs down`);
        refused++;
        continue;
      }
      if (l.state?.faults?.length) {
        // the namespaces go anyway, but a fault's own program (the wire's) is cleared by its backend, harvested, and said
        const { clearFaults, withHeldLab } = await import("./held");
        await withHeldLab(l.labId, false, (lab) => clearFaults(lab, lab.state.faults ?? [], out, err)).catch((e: Error) => err(`lab ${l.labId}: its faults could not be cleared (${e.message}); the teardown removes them with the lab`));
      }
      if (l.alive && l.state) {
        // the owner holds the agents and tears the lab down itself; we only ask, by the PID it recorded
        const { ownerPid, ownerStart } = l.state;
        process.kill(ownerPid, "SIGTERM");
        for (let i = 0; i < DOWN_WAIT_MS / 100 && processStart(ownerPid) === ownerStart; i++) await new Promise((r) => setTimeout(r, 100));
        if (processStart(ownerPid) === ownerStart) {
          // sweeping under a live owner would pull the lab from under its agents; it may still be tearing down
          err(`lab ${l.labId}: its \`vpnlab up\` (pid ${ownerPid}) is still alive ${DOWN_WAIT_MS / 1000} s after SIGTERM; nothing swept — try again, or kill -KILL ${ownerPid} and then \`vpnlab gc\``);
          failed++;
          continue;
        }
      }
      const rest = (await labsOn(a.config)).find((x) => x.labId === l.labId);
      const left = rest ? (await removeLab(rest)).left : [];
      if (left.length > 0) {
        err(`lab ${l.labId}: could not remove ${left.join(", ")} — \`vpnlab gc\` tries again`);
        failed++;
        continue;
      }
      out(`lab ${l.labId} down`);
    }
    return refused ? 2 : failed ? 1 : 0;
  },
} satisfies Command<{ lab: string | undefined; all: boolean; config: string | undefined }>;

export const gc = {
  command: "gc",
  describe: "remove what killed runs left: namespaces (with their interfaces), containers (on every configured Docker engine) and processes",
  builder: (y) => y.option("config", CONFIG),
  run: async (a) => {
    const { countByKind, gc: sweep, hostConfig } = await import("../gc");
    const r = await sweep({ config: hostConfig(a.config) });
    out(`removed ${r.labs.length} lab(s), ${countByKind(r.removed)}${r.skippedLive.length ? `; left ${r.skippedLive.length} live lab(s): ${r.skippedLive.join(", ")}` : ""}`);
    for (const o of r.removed) out(`  ${o}`);
    for (const s of r.skippedRemote) out(`skipped engine ${s}`);
    if (r.left.length) {
      err(`could not remove (processes inside would not die, or the engine refused): ${r.left.join(", ")}`);
      return 1;
    }
    return 0;
  },
} satisfies Command<{ config: string | undefined }>;
