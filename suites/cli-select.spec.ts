// `vpnlab run` / `check` select scenarios by --transport, --mode and --impl
// (on top of --variant): parsed, validated and intersected by the real CLI.
// Through `check` only: no lab runs.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const MATRIX = "topologies/matrix.yaml";

function vpnlab(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The scenarios `check --json` would run. */
function selected(args: string[]): string[] {
  const r = vpnlab(["check", MATRIX, "--json", ...args]);
  expect(r.code, r.stderr).to.equal(0);
  return (JSON.parse(r.stdout) as { scenarios: { variant: string }[] }).scenarios.map((s) => s.variant);
}

describe("vpnlab check/run: --transport, --mode, --impl", function () {
  this.timeout(30000);

  it("repeated options and comma lists are unions within an axis, axes intersect", () => {
    expect(selected(["--transport", "natt", "--impl", "strongswan", "--mode", "route,stateful"])).to.deep.equal([
      "natt-strongswan-route-loss", "natt-strongswan-route-noloss", "natt-strongswan-stateful-loss", "natt-strongswan-stateful-noloss",
    ]);
    expect(selected(["--transport", "esp", "--transport", "ctcp", "--mode", "full-proxy"])).to.deep.equal([
      "base", "ctcp-proxy-noloss", "ctcp-proxy-bypass-loss", "esp-proxy-loss", "esp-proxy-noloss",
    ]);
  });

  it("--variant and the selectors intersect", () => {
    expect(selected(["-v", "base,esp-route-loss,natt-route-loss", "--transport", "esp,ctcp"])).to.deep.equal(["base", "esp-route-loss"]);
  });

  it("an unknown value is a usage error with a did-you-mean (exit 2, nothing on stdout)", () => {
    // the bad value last in a comma list: every value is checked, not only the first
    for (const [opt, value, bad, near] of [["--transport", "ctcp,espp", "espp", "esp"], ["--mode", "ful-proxy", "ful-proxy", "full-proxy"], ["--impl", "strongswann", "strongswann", "strongswan"]]) {
      const r = vpnlab(["check", MATRIX, opt, value]);
      expect(r.code, `${opt} ${bad}: ${r.stderr}`).to.equal(2);
      expect(r.stdout).to.equal("");
      expect(r.stderr).to.contain(`${opt} \`${bad}\` is not known`).and.contain(`did you mean \`${near}\`?`);
      expect(r.stderr).to.not.match(/^\s+at /m);
    }
  });

  it("an empty value and a missing value are usage errors", () => {
    expect(vpnlab(["check", MATRIX, "--mode", ""]).code).to.equal(2);
    const r = vpnlab(["check", MATRIX, "--impl"]);
    expect(r.code, r.stderr).to.equal(2);
  });

  it("a selection that matches nothing is an error naming the filters (run refuses it before any lab)", () => {
    for (const cmd of ["check", "run"]) {
      const r = vpnlab([cmd, MATRIX, "--transport", "esp", "--impl", "ocserv"]);
      expect(r.code, `${cmd}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.contain("no scenario of topologies/matrix.yaml matches --transport esp --impl ocserv");
      expect(r.stderr).to.not.contain("running");
    }
    const r = vpnlab(["check", MATRIX, "-v", "esp-route-loss", "--mode", "full-proxy"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("matches --variant esp-route-loss --mode full-proxy");
  });
});
