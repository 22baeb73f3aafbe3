// `vpnlab doctor`: what this host can do, and what to install.
import type { Command } from "./command";
import { out } from "./output";

export const doctor = {
  command: "doctor",
  describe: "check root, iproute2, nft, tun, raw sockets, haproxy, netem, docker, java: found or missing",
  builder: (y) => y.option("config", { type: "string", requiresArg: true, describe: "the host's settings file (each of its engines: is checked); default VPNLAB_CONFIG" }),
  run: async (a) => {
    const { doctor: probe } = await import("../doctor");
    const { configPath, loadConfig } = await import("../config");
    const cfgFile = configPath(a.config);
    const checks = await probe({ config: cfgFile ? loadConfig(cfgFile) : undefined });
    const w = Math.max(12, ...checks.map((c) => c.name.length));
    for (const c of checks) {
      out(`${c.ok ? "ok     " : c.required ? "MISSING" : "absent "} ${c.name.padEnd(w)} ${c.detail}${c.ok ? "" : `\n        ${"".padEnd(w)} → ${c.fix}`}`);
    }
    return checks.some((c) => c.required && !c.ok) ? 2 : 0;
  },
} satisfies Command<{ config: string | undefined }>;
