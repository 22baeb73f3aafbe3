// What an Allure report says about the run besides its tests: the host (environment.properties),
// how failures are sorted (categories.json) and which CI job made it (executor.json).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Status } from "allure-js-commons";
import { findProgram } from "../host/programs";
import { engineOf, type Engine } from "../runtime/docker/engines";

/** Allure 2's categories: matched against a result's status and its statusDetails.message (whole message, Java regex). */
export interface AllureCategory {
  name: string;
  description?: string;
  matchedStatuses?: Status[];
  messageRegex?: string;
}

/**
 * How the docker parity suite words a docker result that differs from netns' (suites/docker-parity.spec.ts uses
 * these, so the category below keeps matching what it writes).
 */
export const PARITY = {
  verdict: (variant: string): string => `docker's verdict for ${variant}`,
  mechanism: (netns: string): string => `the mechanism on docker (netns: ${netns})`,
};
const PARITY_RE = "(docker's verdict for |the mechanism on docker \\(netns: )";
/** A mismatch the parity suite found is docker's, whatever verdicts it names: kept out of the verdict categories. */
const NOT_PARITY = `(?!.*${PARITY_RE})`;
/** One verdict change, in both wordings: the file writer's "expected X, got Y" (allure-build.ts) and chai's in the mocha suites. */
const changed = (expected: string, got: string): string => `(?s)${NOT_PARITY}.*(expected ${expected}, got ${got}|expected '${got}' to equal '${expected}').*`;

const verdictChange = (name: string, description: string, expected: string, got: string): AllureCategory => ({ name, description, matchedStatuses: [Status.FAILED], messageRegex: changed(expected, got) });

/**
 * The regressions a lab engineer watches for, and lab errors. Allure files a result under every category that
 * matches (status and the whole statusDetails.message, Java regex), so the regexes exclude one another.
 */
export const CATEGORIES: AllureCategory[] = [
  verdictChange("A remedy that now fails", "the scenario is expected to survive, and the verdict is fails or degraded", "survives", "(fails|degraded)"),
  verdictChange("An expected failure that no longer reproduces", "the scenario is expected to fail (or degrade), and the tunnel survived", "(fails|degraded)", "survives"),
  verdictChange("A failure that now only degrades", "the scenario is expected to fail, and the tunnel came through degraded: the fault no longer kills it", "fails", "degraded"),
  verdictChange("A degradation that now fails", "the scenario is expected to degrade, and the tunnel went down instead", "degraded", "fails"),
  {
    name: "Docker differs from netns",
    description: "the docker runtime gave another verdict, or another mechanism, than network namespaces for the same scenario",
    matchedStatuses: [Status.FAILED],
    messageRegex: `(?s).*${PARITY_RE}.*`,
  },
  { name: "Lab errors", description: "no verdict: the lab, the tunnel or the harness failed", matchedStatuses: [Status.BROKEN] },
];

export interface Executor {
  name: string;
  type: string;
  url?: string;
  buildOrder?: number;
  buildName?: string;
  buildUrl?: string;
  reportUrl?: string;
}

const orderOf = (s: string | undefined): number | undefined => (s && /^\d+$/.test(s) ? Number(s) : undefined);

/** The CI job that ran, from its variables; undefined when none is set (a run by hand or from cron). */
export function executorFromEnv(env: NodeJS.ProcessEnv = process.env): Executor | undefined {
  const e = (k: string): string | undefined => env[k] || undefined;
  const clean = (x: Executor): Executor => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as unknown as Executor;
  if (e("GITHUB_ACTIONS") && e("GITHUB_RUN_ID")) {
    const repo = `${e("GITHUB_SERVER_URL") ?? "https://github.com"}/${e("GITHUB_REPOSITORY") ?? ""}`;
    return clean({
      name: "GitHub Actions",
      type: "github",
      url: repo,
      buildOrder: orderOf(e("GITHUB_RUN_NUMBER")),
      buildName: `${e("GITHUB_WORKFLOW") ?? "workflow"} #${e("GITHUB_RUN_NUMBER") ?? e("GITHUB_RUN_ID")}`,
      buildUrl: `${repo}/actions/runs/${e("GITHUB_RUN_ID")}`,
      reportUrl: e("VPNLAB_REPORT_URL"),
    });
  }
  if (e("GITLAB_CI") || e("CI_PIPELINE_ID")) {
    return clean({
      name: "GitLab CI",
      type: "gitlab",
      url: e("CI_PROJECT_URL"),
      buildOrder: orderOf(e("CI_PIPELINE_IID") ?? e("CI_PIPELINE_ID")),
      buildName: `${e("CI_PROJECT_PATH") ?? "pipeline"} #${e("CI_PIPELINE_IID") ?? e("CI_PIPELINE_ID")}${e("CI_JOB_NAME") ? ` (${e("CI_JOB_NAME")})` : ""}`,
      buildUrl: e("CI_PIPELINE_URL") ?? e("CI_JOB_URL"),
      reportUrl: e("VPNLAB_REPORT_URL"),
    });
  }
  if (e("BUILD_URL")) {
    // Jenkins and the CIs that copy its variables
    return clean({
      name: e("JENKINS_URL") ? "Jenkins" : "CI",
      type: e("JENKINS_URL") ? "jenkins" : "ci",
      url: e("JENKINS_URL") ?? e("JOB_URL"),
      buildOrder: orderOf(e("BUILD_NUMBER")),
      buildName: `${e("JOB_NAME") ?? "build"} #${e("BUILD_NUMBER") ?? ""}`.trim(),
      buildUrl: e("BUILD_URL"),
      reportUrl: e("VPNLAB_REPORT_URL"),
    });
  }
  return undefined;
}

export function vpnlabVersion(): string {
  // dist/harness/report or harness/report: package.json is at the root either way
  for (const up of ["../../..", "../.."]) {
    const f = path.join(__dirname, up, "package.json");
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "vpnlab") return pkg.version ?? "unknown";
    }
  }
  return "unknown";
}

/** The impairment backends this host offers: netem when its module is there, nftables when nft is installed, the wire when TUN is there too. */
export function impairBackends(): string {
  const b: string[] = [];
  if (fs.existsSync("/sys/module/sch_netem")) b.push("netem");
  const nft = !!findProgram("nft");
  if (nft) b.push("nftables");
  if (nft && fs.existsSync("/dev/net/tun")) b.push("wire");
  return b.length ? b.join(", ") : "none (nft missing, no sch_netem)";
}

/** The Docker engine's version when one answers (the suites' engine: DOCKER_HOST, else the default socket — engines.ts engineOf) within 2 s. */
export async function dockerVersion(timeoutMs = 2000): Promise<string> {
  let engine: Engine;
  try {
    engine = engineOf();
  } catch (e) {
    return `no engine: ${(e as Error).message}`;
  }
  if (engine.options.socketPath !== undefined && !fs.existsSync(engine.options.socketPath)) return `no engine (no DOCKER_HOST, no ${engine.options.socketPath})`;
  try {
    const { default: Dockerode } = await import("dockerode");
    const docker = new Dockerode(engine.options);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const v = await Promise.race([docker.version(), timeout]);
      return `${v.Version} (API ${v.ApiVersion})`;
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    return `no engine answered at ${engine.url} (${(e as Error).message})`;
  }
}

/** environment.properties' entries; runtimes: the ones the results ran on. */
export async function environmentInfo(runtimes: readonly string[]): Promise<Record<string, string>> {
  return {
    "vpnlab.version": vpnlabVersion(),
    "vpnlab.runtime": runtimes.length ? [...new Set(runtimes)].join(", ") : process.env.VPNLAB_RUNTIME || "netns",
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    docker: await dockerVersion(),
    "impairment.backends": impairBackends(),
    host: os.hostname(),
    cpus: String(os.cpus().length),
  };
}

/** The label every published scenario carries: the results a lab engineer publishes are the tests that have it. */
export const SCENARIO_LABEL = "vpnlab.scenario";
