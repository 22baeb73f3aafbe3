// `vpnlab report [--results DIR] [--out DIR] [--open] [--single-file]`: the
// Allure results of a run turned into the HTML report a lab engineer
// publishes (any static server serves the directory), the trend carried on.
import type { Command } from "./command";
import { err, out } from "./output";

export const DEFAULT_RESULTS = "reports/allure-results";
export const DEFAULT_REPORT = "reports/allure-report";

export const report = {
  command: "report",
  describe: "generate the HTML report from Allure results (needs Java): history carried from the last report, trend charts, categories",
  builder: (y) =>
    y
      .option("results", { type: "string", requiresArg: true, default: DEFAULT_RESULTS, describe: "the Allure results (vpnlab run --allure, vpnlab nightly or npm test write them)" })
      .option("out", { type: "string", requiresArg: true, default: DEFAULT_REPORT, describe: "the report directory (replaced; its history/ carried into the new one first)" })
      .option("open", { type: "boolean", default: false, describe: "serve the report and open it in a browser (allure open); without a display, print where it is" })
      .option("single-file", { type: "boolean", default: false, describe: "one self-contained index.html (mail it, attach it to a ticket; it keeps no history for the next run)" })
      .example("$0 report", "reports/allure-results → reports/allure-report")
      .example("$0 report --results /tmp/r --out /srv/www/vpnlab --single-file", "one HTML file to publish"),
  run: async (a) => {
    const { generateReport, JavaMissing } = await import("../report/generate");
    try {
      const g = await generateReport({ results: a.results, out: a.out, singleFile: a.singleFile });
      out(`report: ${g.index} (${(g.ms / 1000).toFixed(1)} s${g.trend > 0 ? `, trend of ${g.trend} run(s)` : ""})`);
      if (a.open) return await openReport(a.out);
      return 0;
    } catch (e) {
      if (e instanceof JavaMissing) {
        err(`vpnlab: ${e.message}`);
        return 2;
      }
      throw e;
    }
  },
} satisfies Command<{ results: string; out: string; open: boolean; "single-file": boolean }>;

/** Serve the report with allure open until it is stopped (Ctrl-C), or say where it is when there is no display. */
export async function openReport(dir: string): Promise<number> {
  const { hasDisplay, openArgv } = await import("../report/generate");
  if (!hasDisplay()) {
    out(`no display here: open ${dir}/index.html through any static server (python3 -m http.server -d ${dir}), or run \`allure open ${dir}\` where there is a browser`);
    return 0;
  }
  const { spawn } = await import("node:child_process");
  const [bin, ...args] = openArgv(dir);
  return new Promise((resolve) => {
    // the server runs until the user stops it; its own output (the URL) goes straight to the terminal
    const child = spawn(bin, args, { stdio: "inherit" });
    child.on("error", (e) => {
      err(`vpnlab: allure open: ${e.message}`);
      resolve(2);
    });
    child.on("close", (code) => resolve(code === 0 || code === null ? 0 : 2));
  });
}
