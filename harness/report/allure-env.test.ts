// categories.json against the messages that really reach Allure: the ones buildScenarioTest writes
// (vpnlab run / nightly), and chai's AssertionError messages of the mocha suites, produced here by chai
// itself. Allure files a result under every category that matches, so each message must match one.
import { AssertionError, expect } from "chai";
import { Status } from "allure-js-commons";
import { VERDICTS } from "../topology/model";
import { buildScenarioTest } from "./allure-build";
import { CATEGORIES, PARITY } from "./allure-env";
import { scenarioResult } from "./testkit";

/** Allure's match: the status is listed, and the regex (Java, `matches()`: the whole message) matches. */
function categoriesOf(status: string, message: string): string[] {
  return CATEGORIES.filter((c) => {
    if (!(c.matchedStatuses ?? []).includes(status as Status)) return false;
    if (!c.messageRegex) return true;
    // Java's leading (?s) is JS's s flag; matches() is anchored at both ends
    const body = c.messageRegex.startsWith("(?s)") ? c.messageRegex.slice(4) : c.messageRegex;
    return new RegExp(`^(?:${body})$`, c.messageRegex.startsWith("(?s)") ? "s" : "").test(message);
  }).map((c) => c.name);
}

/** chai's own message for expect(actual, prefix).to.equal(expected), as a failing suite leaves it. */
function chaiMessage(prefix: string, assert: () => void): string {
  try {
    assert();
  } catch (e) {
    if (e instanceof AssertionError) return e.message;
    throw e;
  }
  throw new Error(`no assertion failed for ${prefix}`);
}

const WANT: Record<string, string> = {
  "survives→fails": "A remedy that now fails",
  "survives→degraded": "A remedy that now fails",
  "fails→survives": "An expected failure that no longer reproduces",
  "degraded→survives": "An expected failure that no longer reproduces",
  "fails→degraded": "A failure that now only degrades",
  "degraded→fails": "A degradation that now fails",
};

describe("report/allure-env: categories", () => {
  it("every verdict mismatch the builder writes falls in exactly one category, the one named for it", () => {
    const seen: string[] = [];
    for (const expected of VERDICTS) {
      for (const got of VERDICTS.filter((v) => v !== expected)) {
        const t = buildScenarioTest(scenarioResult({ expect: expected, verdict: got, passed: false, reasons: ["delivery 0.0% in recovery", "tunnel down\nat 4.3 s"] }));
        const message = t.statusDetails.message ?? "";
        expect(t.status, message).to.equal(Status.FAILED);
        expect(categoriesOf(t.status, message), `${expected}→${got}: ${JSON.stringify(message)}`).to.deep.equal([WANT[`${expected}→${got}`]]);
        seen.push(`${expected}→${got}`);
      }
    }
    expect(seen.sort()).to.deep.equal(Object.keys(WANT).sort());
  });

  it("the same mismatches in the mocha suites' wording (chai's message under the suite's own text) fall in the same one", () => {
    for (const [change, name] of Object.entries(WANT)) {
      const [expected, got] = change.split("→");
      // as asa-ips.spec: expect(r.verdict, msg).to.equal(s.expect), msg a table of numbers over several lines
      const message = chaiMessage(change, () => expect(got, `natt: delivery 12.0% → 0.0%\nreasons: recovery 0%`).to.equal(expected));
      expect(categoriesOf(Status.FAILED, message), `${change}: ${JSON.stringify(message)}`).to.deep.equal([name]);
    }
  });

  it("a docker/netns parity mismatch is docker's, not a verdict change, whatever verdicts it names", () => {
    const table = "variant  expect  netns  docker\nnatt     survives survives fails";
    const verdict = chaiMessage("parity", () => expect("fails", `${PARITY.verdict("natt")}\n${table}`).to.equal("survives"));
    const mechanism = chaiMessage("parity", () =>
      expect({ verdict: "survives", proxied: true }, `${PARITY.mechanism(JSON.stringify({ verdict: "survives", proxied: false }))}\n${table}`).to.deep.equal({ verdict: "survives", proxied: false }),
    );
    expect(verdict).to.match(/expected 'fails' to equal 'survives'/); // the wording a verdict category would also take
    expect(categoriesOf(Status.FAILED, verdict), verdict).to.deep.equal(["Docker differs from netns"]);
    expect(categoriesOf(Status.FAILED, mechanism), mechanism).to.deep.equal(["Docker differs from netns"]);
  });

  it("a lab error is a lab error only; a passed result and an unrelated assertion fall in none", () => {
    const broken = buildScenarioTest(scenarioResult({ outcome: "lab-error", verdict: undefined, passed: false, error: "agent on fw died: expected fails, got survives" }));
    expect(categoriesOf(broken.status, broken.statusDetails.message ?? ""), broken.statusDetails.message).to.deep.equal(["Lab errors"]);
    const passed = buildScenarioTest(scenarioResult());
    expect(categoriesOf(passed.status, passed.statusDetails.message ?? "")).to.deep.equal([]);
    const other = chaiMessage("other", () => expect(3, "packets the loss rule dropped").to.be.greaterThan(4));
    expect(categoriesOf(Status.FAILED, other), other).to.deep.equal([]);
  });
});
