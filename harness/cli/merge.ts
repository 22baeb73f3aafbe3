// `vpnlab merge A.json B.json ...`: the JSON documents of several `vpnlab run
// --json` (the shards of a CI matrix, runs on different hosts) as one table,
// one summary and one exit code — or one JSON document with --json.
import * as fs from "node:fs";
import type { ScenarioResult } from "../scenario";
import { UsageError, type Command } from "./command";
import { out } from "./output";
import { runSummary } from "./summary";

interface RunDocument {
  topology?: string;
  file?: string;
  shard?: { index: number; count: number };
  results: ScenarioResult[];
}

function readDocument(file: string): RunDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`${file}: not a \`vpnlab run --json\` document: ${(e as Error).message}`);
  }
  const results = (doc as { results?: unknown }).results;
  if (!doc || typeof doc !== "object" || !Array.isArray(results)) throw new UsageError(`${file}: not a \`vpnlab run --json\` document (no "results" list)`);
  return doc as RunDocument;
}

export const merge = {
  command: "merge <files..>",
  describe: "combine the JSON of several `vpnlab run --json` (e.g. the --shard slices of one nightly) into one table or document",
  builder: (y) =>
    y
      .positional("files", { type: "string", array: true, demandOption: true, describe: "JSON documents written by `vpnlab run --json`" })
      .option("json", { type: "boolean", default: false, describe: "print one JSON document { files, results, summary } instead of the table" })
      .example("$0 merge shard-1.json shard-2.json", "one table for a nightly run as two CI jobs"),
  run: async (a) => {
    const docs = a.files.map((f) => ({ file: f, doc: readDocument(f) }));
    const results = docs.flatMap(({ doc }) => doc.results);
    // the same scenario twice means two overlapping runs were given, not shards of one: say so rather than count it twice
    const seen = new Map<string, string>();
    for (const { file, doc } of docs) {
      for (const r of doc.results) {
        const key = `${r.topology}/${r.variant}`;
        const before = seen.get(key);
        if (before) throw new UsageError(`${key} is in both ${before} and ${file}: merge takes disjoint runs (the --shard slices of one run)`);
        seen.set(key, file);
      }
    }
    const s = runSummary(results);
    if (a.json) out(JSON.stringify({ files: a.files, results, summary: s.counts }, null, 2));
    else {
      const { formatTable, resultRow } = await import("../report/table");
      out(formatTable(results.map(resultRow)));
      out(s.line);
    }
    return s.exitCode;
  },
} satisfies Command<{ files: string[]; json: boolean }>;
