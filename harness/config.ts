// The host's vpnlab settings, apart from any topology: which Docker engines a
// run spreads over, and defaults for --runtime and --jobs. Read from
// `--config FILE` or VPNLAB_CONFIG; errors say file:line:col like the
// topology loader's.
//
//   engines:                       # scenarios of one run are spread over these
//     - unix:///run/vpnlab-ci1/docker.sock
//     - unix:///run/vpnlab-ci2/docker.sock
//   runtime: docker                # default for --runtime
//   jobs: 4                        # default for --jobs
import * as fs from "node:fs";
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YNode } from "yaml";
import { TopologyError, didYouMean } from "./topology/errors";
import { RUNTIME_KINDS, type RuntimeKind } from "./topology/model";
import { parseEngine } from "./runtime/docker/engines";

export interface HostConfig {
  file: string;
  engines?: string[];
  runtime?: RuntimeKind;
  jobs?: number;
}

const KEYS = ["engines", "runtime", "jobs"] as const;

/** The config file a command should read: --config, else VPNLAB_CONFIG, else none. */
export function configPath(cli: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return cli ?? (env.VPNLAB_CONFIG || undefined);
}

export function loadConfig(file: string): HostConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read the config file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(file, text);
}

export function parseConfig(file: string, text: string): HostConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, strict: true });
  const fail = (node: YNode | null | undefined, key: string, detail: string): never => {
    const pos = lc.linePos(node?.range?.[0] ?? 0);
    throw new TopologyError(file, pos.line, pos.col, key, detail);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lc.linePos(e.pos[0]);
    throw new TopologyError(file, pos.line, pos.col, "(yaml)", e.message.split("\n")[0]);
  }
  const cfg: HostConfig = { file };
  if (doc.contents === null) return cfg; // an empty file: no settings
  if (!isMap(doc.contents)) fail(doc.contents, "(root)", "a config file is a map (engines:, runtime:, jobs:)");
  for (const pair of (doc.contents as import("yaml").YAMLMap).items) {
    const keyNode = pair.key as YNode;
    const key = isScalar(keyNode) ? String(keyNode.value) : "";
    const value = pair.value as YNode | null;
    switch (key) {
      case "engines": {
        if (!isSeq(value) || value.items.length === 0) fail(value ?? keyNode, key, "a list of Docker engine URLs (unix:///path, tcp://host:port, ssh://user@host)");
        cfg.engines = (value as import("yaml").YAMLSeq).items.map((item, i) => {
          const n = item as YNode;
          if (!isScalar(n) || typeof n.value !== "string") return fail(n, `engines[${i}]`, "an engine URL (a string)");
          try {
            return parseEngine(n.value as string).url;
          } catch (e) {
            return fail(n, `engines[${i}]`, (e as Error).message);
          }
        });
        break;
      }
      case "runtime": {
        const v = isScalar(value) ? value.value : undefined;
        if (typeof v !== "string" || !(RUNTIME_KINDS as string[]).includes(v)) fail(value ?? keyNode, key, `one of ${RUNTIME_KINDS.join(", ")}`);
        cfg.runtime = v as RuntimeKind;
        break;
      }
      case "jobs": {
        const v = isScalar(value) ? value.value : undefined;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 16) fail(value ?? keyNode, key, "a whole number from 1 to 16");
        cfg.jobs = v as number;
        break;
      }
      default:
        fail(keyNode, key, `unknown key — ${didYouMean(key, KEYS)}a config file has ${KEYS.join(", ")}`);
    }
  }
  return cfg;
}
