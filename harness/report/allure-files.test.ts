import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Attachment, StepResult, TestResult } from "allure-js-commons";
import { loadTopology } from "../topology/load";
import { cleanResults, earlierResults, isAllureFile, scenarioOf, writeRunFiles, writeScenarioResult } from "./allure-files";
import { CATEGORIES, executorFromEnv } from "./allure-env";
import { phase, scenarioResult } from "./testkit";

const ASA = path.join(__dirname, "../../../topologies/asa-ips.yaml");

describe("report/allure-files", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-allure-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const allAttachments = (r: { attachments: Attachment[]; steps: StepResult[] }): Attachment[] => [...r.attachments, ...r.steps.flatMap(allAttachments)];

  it("writes <uuid>-result.json in Allure 2's shape, and every attachment it names exists in the directory", () => {
    const pcap = path.join(dir, "src.pcap");
    fs.writeFileSync(pcap, "pcap bytes");
    const r = scenarioResult({
      phases: [phase("baseline", 10, 10), phase("chaos", 10, 0), phase("recovery", 10, 0)],
      captures: [{ target: "fw.outside", file: pcap, bytes: 10 }, { target: "fw.inside", file: path.join(dir, "gone.pcap"), bytes: 0 }],
      evidence: { logs: { client: "up\ndown" } },
    });
    const topo = loadTopology(ASA);
    const name = writeScenarioResult(path.join(dir, "results"), r, topo.base);
    const out = path.join(dir, "results");
    expect(name).to.match(/^[0-9a-f-]{36}-result\.json$/);
    const result = JSON.parse(fs.readFileSync(path.join(out, name), "utf8")) as TestResult;
    expect(result.uuid).to.equal(name.replace("-result.json", ""));
    expect(result.status).to.equal("passed");
    expect(result.stage).to.equal("finished");
    expect(result.labels.find((l) => l.name === "epic")?.value).to.equal("asa-ips");
    expect(result.steps.length).to.be.greaterThan(3);
    const attached = allAttachments(result);
    const names = attached.map((a) => a.name);
    expect(names).to.include.members(["timeline.svg", "summary.txt", "topology (resolved).txt", "events.txt", "log client.txt", "result.json", "src.pcap"]);
    expect(names, "a pcap that is gone is not linked").not.to.include("gone.pcap");
    for (const a of attached) expect(fs.existsSync(path.join(out, a.source)), `${a.name} → ${a.source}`).to.equal(true);
    const svg = attached.find((a) => a.name === "timeline.svg")!;
    expect(fs.readFileSync(path.join(out, svg.source), "utf8")).to.match(/^<svg /);
    expect(fs.readFileSync(path.join(out, attached.find((a) => a.name === "src.pcap")!.source), "utf8")).to.equal("pcap bytes");
    const topoText = fs.readFileSync(path.join(out, attached.find((a) => a.name === "topology (resolved).txt")!.source), "utf8");
    expect(topoText).to.contain("asa-ips");
  });

  it("two results of one run are two files; the run files are environment.properties, categories.json and executor.json under CI", async () => {
    writeScenarioResult(dir, scenarioResult());
    writeScenarioResult(dir, scenarioResult({ variant: "natt" }));
    const env = { GITHUB_ACTIONS: "true", GITHUB_RUN_ID: "987", GITHUB_RUN_NUMBER: "12", GITHUB_REPOSITORY: "lab/vpnlab", GITHUB_SERVER_URL: "https://github.com", GITHUB_WORKFLOW: "nightly" };
    await writeRunFiles(dir, ["netns", "netns"], env);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith("-result.json"))).to.have.length(2);
    const props = fs.readFileSync(path.join(dir, "environment.properties"), "utf8");
    for (const key of ["vpnlab.version", "vpnlab.runtime", "kernel", "node", "docker", "impairment.backends"]) expect(props).to.match(new RegExp(`^${key.replace(".", "\\.")}=.+`, "m"));
    expect(props).to.contain("vpnlab.runtime=netns\n");
    expect(JSON.parse(fs.readFileSync(path.join(dir, "categories.json"), "utf8"))).to.deep.equal(JSON.parse(JSON.stringify(CATEGORIES)));
    const ex = JSON.parse(fs.readFileSync(path.join(dir, "executor.json"), "utf8"));
    expect(ex).to.deep.include({ type: "github", buildOrder: 12, buildName: "nightly #12", buildUrl: "https://github.com/lab/vpnlab/actions/runs/987" });
  });

  it("no executor.json outside CI", async () => {
    await writeRunFiles(dir, [], {});
    expect(fs.existsSync(path.join(dir, "executor.json"))).to.equal(false);
    expect(fs.existsSync(path.join(dir, "categories.json"))).to.equal(true);
  });

  it("executor from GitLab and Jenkins variables", () => {
    expect(executorFromEnv({ GITLAB_CI: "true", CI_PIPELINE_ID: "555", CI_PIPELINE_IID: "7", CI_PROJECT_PATH: "lab/vpnlab", CI_PIPELINE_URL: "https://gl/p/555", CI_PROJECT_URL: "https://gl/lab/vpnlab" })).to.deep.equal({
      name: "GitLab CI",
      type: "gitlab",
      url: "https://gl/lab/vpnlab",
      buildOrder: 7,
      buildName: "lab/vpnlab #7",
      buildUrl: "https://gl/p/555",
    });
    expect(executorFromEnv({ BUILD_URL: "https://j/job/n/3/", JENKINS_URL: "https://j/", JOB_NAME: "n", BUILD_NUMBER: "3" })).to.deep.include({ type: "jenkins", buildOrder: 3, buildName: "n #3" });
  });

  it("categories sort both messages: the file writer's and chai's in the suites", () => {
    const match = (status: string, message: string) => CATEGORIES.filter((c) => (c.matchedStatuses ?? []).includes(status as never) && (!c.messageRegex || new RegExp(c.messageRegex.replace("(?s)", ""), "s").test(message))).map((c) => c.name);
    expect(match("failed", "expected survives, got degraded: the stream stalled")).to.deep.equal(["A remedy that now fails"]);
    expect(match("failed", "base: expected 'fails' to equal 'survives'")).to.deep.equal(["A remedy that now fails"]);
    expect(match("failed", "expected fails, got survives: ")).to.deep.equal(["An expected failure that no longer reproduces"]);
    expect(match("failed", "x\nexpected 'survives' to equal 'fails'")).to.deep.equal(["An expected failure that no longer reproduces"]);
    expect(match("broken", "lab error: agent died")).to.deep.equal(["Lab errors"]);
    expect(match("failed", "expected 3 to be above 4")).to.deep.equal([]);
  });

  it("finds a result's scenario again from its file, and says why when it cannot", () => {
    expect(scenarioOf({ file: ASA, variant: "base" }).scenario?.variant).to.equal("base");
    expect(scenarioOf({ file: ASA, variant: "no-such" }).why).to.contain("has no variant no-such");
    expect(scenarioOf({ file: path.join(dir, "missing.yaml"), variant: "base" }).why).to.be.a("string");
  });
  it("cleanResults removes what an Allure writer left (results, attachments, run files) and nothing else; earlierResults counts results", async () => {
    const out = path.join(dir, "results");
    expect(earlierResults(out), "no directory yet").to.equal(0);
    writeScenarioResult(out, scenarioResult({ evidence: { logs: { client: "up" } } }));
    writeScenarioResult(out, scenarioResult({ variant: "natt" }));
    await writeRunFiles(out, ["netns"], { GITHUB_ACTIONS: "true", GITHUB_RUN_ID: "1" });
    fs.writeFileSync(path.join(out, "0000-container.json"), "{}");
    const written = fs.readdirSync(out);
    expect(earlierResults(out)).to.equal(2);
    // what is not Allure's: a user's notes, a carried history/, a directory whose name looks like a result
    fs.writeFileSync(path.join(out, "notes.txt"), "mine");
    fs.writeFileSync(path.join(out, "result.json"), "{}");
    fs.mkdirSync(path.join(out, "history"));
    fs.writeFileSync(path.join(out, "history", "history.json"), "{}");
    fs.mkdirSync(path.join(out, "old-result.json"));
    const removed = cleanResults(out);
    expect(removed, "removed").to.deep.equal([...written].sort());
    expect(removed.filter((f) => f.includes("-attachment.")).length, "attachments among them").to.be.greaterThan(3);
    expect(removed).to.include.members(["environment.properties", "categories.json", "executor.json", "0000-container.json"]);
    expect(fs.readdirSync(out).sort()).to.deep.equal(["history", "notes.txt", "old-result.json", "result.json"]);
    expect(fs.readdirSync(path.join(out, "history"))).to.deep.equal(["history.json"]);
    expect(earlierResults(out)).to.equal(0);
    expect(cleanResults(path.join(dir, "missing"))).to.deep.equal([]);
    expect(["x-result.json.bak", "environment.properties.old", "categories.json~"].filter(isAllureFile)).to.deep.equal([]);
  });
});
