// The HTML report: allure-commandline (a dependency of the project) turns a
// directory of Allure results into a static site. It is a Java program, so
// Java is looked for first and its absence said in one line — before the
// results are touched. The previous report's history is carried into the
// results (history.ts) so the trend charts go on across runs.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { PACKAGE_ROOT } from "../host/paths";
import { carryHistory, trendRuns } from "./history";

export const ALLURE_BIN = path.join(PACKAGE_ROOT, "node_modules", "allure-commandline", "dist", "bin", "allure");

/** No Java to run allure-commandline with: the CLI says this one line and exits 2. */
export class JavaMissing extends Error {
  constructor() {
    super("Java is missing: the HTML report needs Java 8 or newer (allure-commandline): apt-get install default-jre-headless, or set JAVA_HOME — the Allure results are kept as they are");
  }
}

function executable(f: string): boolean {
  try {
    fs.accessSync(f, fs.constants.X_OK);
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
}

/** The java allure's launcher would use: $JAVA_HOME/bin/java first (as the launcher does), else the first on PATH. */
export function findJava(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.JAVA_HOME) {
    const j = path.join(env.JAVA_HOME, "bin", "java");
    if (executable(j)) return j;
  }
  for (const d of (env.PATH ?? "").split(":").filter(Boolean)) {
    const j = path.join(d, "java");
    if (executable(j)) return j;
  }
  return undefined;
}

export interface ReportOptions {
  results: string;
  out: string;
  singleFile?: boolean;
  /** The report whose history is carried forward; default `out` itself (the last report, about to be replaced). */
  previous?: string;
  env?: NodeJS.ProcessEnv;
}

/** allure's argv for one generation: the output replaced whole (--clean), one self-contained HTML file when asked. */
export function generateArgv(o: Pick<ReportOptions, "results" | "out" | "singleFile">): string[] {
  return [ALLURE_BIN, "generate", o.results, "-o", o.out, "--clean", ...(o.singleFile ? ["--single-file"] : [])];
}

export interface Generated {
  out: string;
  /** index.html of the report. */
  index: string;
  ms: number;
  /** History files carried from the previous report. */
  carried: string[];
  /** Runs in the new report's trend (0 for a --single-file report, which keeps no history folder). */
  trend: number;
}

/** Generate the HTML report; JavaMissing before anything is touched when there is no Java. */
export async function generateReport(o: ReportOptions): Promise<Generated> {
  const env = o.env ?? process.env;
  const java = findJava(env);
  if (!java) throw new JavaMissing();
  if (!fs.existsSync(o.results)) throw new Error(`no Allure results at ${o.results} (vpnlab run --allure ${o.results}, vpnlab nightly or npm test write them)`);
  if (!fs.existsSync(ALLURE_BIN)) throw new Error(`allure-commandline is not installed (${ALLURE_BIN} missing): npm install`);
  const t0 = Date.now();
  // before --clean wipes the old report: its history is the trend so far
  const carried = carryHistory(o.previous ?? o.out, o.results);
  // the launcher finds java through JAVA_HOME or PATH: hand it the one found here
  const childEnv = { ...env, JAVA_HOME: env.JAVA_HOME && java.startsWith(env.JAVA_HOME) ? env.JAVA_HOME : path.dirname(path.dirname(fs.realpathSync(java))) };
  const [bin, ...args] = generateArgv(o);
  try {
    // exec.run takes no env: the launcher must be handed the java found here
    await promisify(execFile)(bin, args, { env: childEnv, timeout: 600_000, maxBuffer: 64 << 20 });
  } catch (e) {
    const x = e as Error & { stderr?: string; stdout?: string };
    const detail = (x.stderr || x.stdout || x.message).trim().split("\n").slice(0, 6).join("\n  ");
    throw new Error(`allure generate failed: ${detail}`);
  }
  const index = path.join(o.out, "index.html");
  if (!fs.existsSync(index)) throw new Error(`allure generate wrote no ${index}`);
  return { out: o.out, index, ms: Date.now() - t0, carried: carried.files, trend: trendRuns(o.out) };
}

/** Something to show the report on: a graphical session (X or Wayland). */
export function hasDisplay(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** allure's argv to serve a generated report and open it in the browser. */
export function openArgv(out: string): string[] {
  return [ALLURE_BIN, "open", out];
}
