// Every rejection the loader makes, one fixture each. A fixture's header says
// where the error must point and what it must say:
//   # rejects: what is wrong
//   # expect: LINE:COL KEY
//   # detail: REGEX (matched against the detail part of the message)
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { TopologyError, loadTopology } from "./load";

// Compiled tests run from dist/; fixtures stay in the source tree.
export const FIXTURES = path.join(__dirname, "../../../harness/topology/fixtures");

interface Expectation {
  what: string;
  line: number;
  col: number;
  key: string;
  detail: RegExp;
}

function header(file: string): Expectation {
  const text = readFileSync(file, "utf8");
  const what = /^# rejects: (.*)$/m.exec(text);
  const at = /^# expect: (\d+):(\d+) (\S+)$/m.exec(text);
  const detail = /^# detail: (.*)$/m.exec(text);
  if (!what || !at || !detail) throw new Error(`${file}: fixture header incomplete`);
  return { what: what[1], line: Number(at[1]), col: Number(at[2]), key: at[3], detail: new RegExp(detail[1]) };
}

function rejection(file: string): TopologyError {
  try {
    loadTopology(file);
  } catch (e) {
    if (e instanceof TopologyError) return e;
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

describe("topology validation: rejected inputs", () => {
  const dir = path.join(FIXTURES, "bad");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

  it("has the fixtures", () => {
    expect(files.length).to.be.greaterThan(40);
  });

  for (const f of files) {
    const file = path.join(dir, f);
    const exp = header(file);
    it(`${f}: ${exp.what}`, () => {
      const err = rejection(file);
      expect({ line: err.line, col: err.col, key: err.key }, err.message).to.deep.equal({ line: exp.line, col: exp.col, key: exp.key });
      expect(err.detail).to.match(exp.detail);
      expect(err.message).to.equal(`${file}:${exp.line}:${exp.col}: ${exp.key}: ${err.detail}`);
      expect(err.file).to.equal(file);
      // every message says what to do, not only what is wrong
      expect(err.detail).to.match(/ — /);
    });
  }

  it("accepts the valid base fixture (a control for the fixtures above)", () => {
    const t = loadTopology(path.join(FIXTURES, "mini.yaml"));
    expect(t.name).to.equal("mini");
    expect([...t.variants.keys()]).to.deep.equal(["no-loss", "natt"]);
  });
});
