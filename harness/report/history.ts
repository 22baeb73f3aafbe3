// Allure keeps its trend charts (pass/fail per run, durations, retries) in a
// report's history/ folder, and reads them back only from the *results* it is
// given. So before each report is generated, the previous report's history is
// copied into the new results: every nightly run then adds one point to the
// trend instead of starting it over.
import * as fs from "node:fs";
import * as path from "node:path";

export interface Carried {
  /** The files copied (their names under history/); empty when the previous report had no history (a first run). */
  files: string[];
  from: string;
}

/**
 * Copy `<previousReport>/history/*` into `<results>/history/` (created when missing; a file of the same name
 * there is replaced: the previous report's history already holds everything older). A missing previous report
 * is a first run, not an error.
 */
export function carryHistory(previousReport: string, results: string): Carried {
  const from = path.join(previousReport, "history");
  const carried: Carried = { files: [], from };
  let names: string[];
  try {
    names = fs.readdirSync(from);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return carried;
    throw e;
  }
  const to = path.join(results, "history");
  fs.mkdirSync(to, { recursive: true });
  for (const name of names.sort()) {
    const src = path.join(from, name);
    if (!fs.statSync(src).isFile()) continue; // Allure writes flat JSON files; anything else is not its history
    fs.copyFileSync(src, path.join(to, name));
    carried.files.push(name);
  }
  return carried;
}

/** How many runs a report's trend holds (history-trend.json has one entry per run), 0 when it has none. */
export function trendRuns(report: string): number {
  try {
    const trend = JSON.parse(fs.readFileSync(path.join(report, "history", "history-trend.json"), "utf8")) as unknown;
    return Array.isArray(trend) ? trend.length : 0;
  } catch {
    return 0;
  }
}
