// The JSON Schema against the loader: every valid topology passes both, every
// structurally bad fixture fails both. Each bad fixture is classified here —
// structural (the schema must reject it), semantic (only the loader can: the
// schema must accept it) or YAML-level (not a data document at all) — so a new
// fixture nobody classified fails the suite.
import Ajv from "ajv";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { TopologyError, loadTopology, parseTopology } from "./load";
import { SCHEMA_PATH, loadSchema } from "./schema";
import { FIXTURES, ROOT, validTopologyFiles, yamlFiles } from "./testdata";

const VALID = validTopologyFiles();

/** Bad shapes: unknown keys, wrong types, missing keys, bad enum values, out-of-range numbers, bad names. */
const STRUCTURAL = [
  "bad-cidr", "capture-no-net", "bad-duration", "bad-enum", "bad-net-name", "bad-node-name", "bad-topology-name",
  "chaos-no-action", "chaos-two-actions", "cidr-no-prefix", "clear-false", "dpd-retries",
  "empty-file", "inspect-udp", "loss-range", "loss-zero", "missing-expect", "missing-role", "runtime-unknown",
  "pool-too-small", "port-not-number", "probe-port-range", "rate-range", "reserved-net-name",
  "reserved-node-name", "too-few-nodes", "top-level-list", "unknown-chaos-action", "unknown-key-nested",
  "unknown-key-root", "unknown-key-variant", "unsupported-flow", "variant-bad-name", "variant-error-line", "variant-named-base",
  "variant-nested-variants", "variant-not-a-map", "variant-sets-name", "vpn-port-range", "zero-baseline",
  // chaos steps: the impairment keys, match, direction, seed and the schedules
  "loss-model-two", "loss-correlation-range", "gemodel-missing-r", "delay-bad", "distribution-unknown", "rate-no-unit",
  "drop-zero", "drop-empty", "partition-false", "direction-unknown", "seed-negative", "scenario-seed-string",
  "match-port-no-proto", "match-unknown-key", "clear-with-match", "flap-missing-up", "burst-no-impairment", "ramp-two-lists",
  "schedule-and-fault",
];

/** Well-shaped but wrong: relations between values, which only the loader checks. */
const SEMANTIC = [
  "broadcast-address", "capture-not-on-net", "chaos-after-phase", "chaos-before-phase",
  "chaos-node-not-on-net", "chaos-unknown-net", "chaos-unknown-node", "dtls-not-anyconnect", "dtls-reference",
  "duplicate-address", "firewall-wrong-role", "full-proxy-no-inspect", "gw-no-neighbour",
  "gw-not-connected", "gw-own-address", "gw-wrong-link", "impl-mismatch", "impl-ocserv-ctcp",
  "network-address", "pool-overlap", "prefix-mismatch", "probe-from-not-client", "probe-unknown-node",
  "route-to-host-bits", "route-via-not-connected", "single-member-net", "subnet-mismatch",
  "two-gateways", "two-links-one-net", "variant-inherited-error",
  "via-own-address", "vpn-unknown-node", "vpn-wrong-role",
  // chaos: what a step refers to, combinations the model refuses, and schedules that do not fit the chaos phase
  "match-unknown-node", "match-host-bits", "reorder-correlation-alone", "reorder-no-delay", "correlation-no-jitter", "partition-with-loss",
  "flap-past-chaos", "burst-overlap", "ramp-past-chaos", "partition-for-past-chaos", "schedule-in-baseline", "schedule-over-fault", "fault-in-schedule-window",
];

/** Not one well-formed YAML document: the YAML parser refuses it before any schema applies. */
const YAML_LEVEL = ["alias-undefined", "duplicate-node", "multiple-docs", "syntax-error", "syntax-tab"];

/** Whether a parsed document converts to plain data. */
function toData(doc: { toJS(): unknown }): boolean {
  try {
    doc.toJS();
    return true;
  } catch {
    return false;
  }
}

function compile() {
  const ajv = new Ajv({ strict: true, allErrors: true });
  return ajv.compile(loadSchema());
}

describe("topology schema (schema/topology.schema.json)", () => {
  const validate = compile();
  const errors = (): string => JSON.stringify(validate.errors, null, 1);

  it("is found from dist/ and is a draft-07 schema that compiles in ajv's strict mode", () => {
    expect(SCHEMA_PATH).to.equal(path.join(ROOT, "schema", "topology.schema.json"));
    expect(loadSchema().$schema).to.equal("http://json-schema.org/draft-07/schema#");
    expect(() => compile()).not.to.throw();
  });

  it("describes every property, so editors can show what a key means", () => {
    const missing: string[] = [];
    const walk = (s: unknown, where: string): void => {
      if (typeof s !== "object" || s === null) return;
      const o = s as Record<string, unknown>;
      const props = o.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [k, p] of Object.entries(props ?? {})) {
        // `true` marks a key required next to an allOf that describes it; a $ref carries its definition's description
        if (typeof p === "object" && p.description === undefined && p.$ref === undefined) missing.push(`${where}.${k}`);
      }
      for (const [k, v] of Object.entries(o)) if (k !== "oneOf") walk(v, `${where}.${k}`);
    };
    walk(loadSchema(), "#");
    expect(missing).to.deep.equal([]);
  });

  for (const file of VALID) {
    it(`accepts ${path.relative(ROOT, file)} (which the loader accepts too)`, () => {
      expect(() => loadTopology(file)).not.to.throw();
      expect(validate(parse(readFileSync(file, "utf8"))), errors()).to.equal(true);
    });
  }

  it("asa-ips.yaml names the schema for the YAML language server", () => {
    const first = readFileSync(path.join(ROOT, "topologies/asa-ips.yaml"), "utf8").split("\n")[0];
    expect(first).to.equal("# yaml-language-server: $schema=../schema/topology.schema.json");
    expect(path.resolve(path.join(ROOT, "topologies"), "../schema/topology.schema.json")).to.equal(SCHEMA_PATH);
  });

  describe("bad fixtures", () => {
    const dir = path.join(FIXTURES, "bad");
    const names = yamlFiles(dir).map((f) => path.basename(f, ".yaml"));

    it("classifies every fixture exactly once (structural, semantic or YAML-level)", () => {
      const all = [...STRUCTURAL, ...SEMANTIC, ...YAML_LEVEL];
      expect(new Set(all).size, "a fixture is listed twice").to.equal(all.length);
      expect([...all].sort()).to.deep.equal(names);
    });

    for (const name of STRUCTURAL) {
      it(`rejects ${name} (structural)`, () => {
        const data: unknown = parse(readFileSync(path.join(dir, `${name}.yaml`), "utf8"));
        expect(validate(data), `the schema accepted ${name}.yaml`).to.equal(false);
      });
    }

    for (const name of SEMANTIC) {
      it(`accepts ${name}: semantic, the loader's job`, () => {
        const data: unknown = parse(readFileSync(path.join(dir, `${name}.yaml`), "utf8"));
        expect(validate(data), errors()).to.equal(true);
      });
    }

    for (const name of YAML_LEVEL) {
      it(`${name}: refused by the YAML parser before any schema`, () => {
        const docs = parseAllDocuments(readFileSync(path.join(dir, `${name}.yaml`), "utf8"), { uniqueKeys: true });
        const refused = !Array.isArray(docs) || docs.length !== 1 || docs[0].errors.length > 0;
        // an alias without its anchor parses, but has no value: turning it into data fails
        expect(refused || !toData(docs[0]), name).to.equal(true);
      });
    }
  });

  describe("value forms: the schema agrees with the loader", () => {
    type Doc = Record<string, any>; // any: the edits reach into arbitrary depths of a parsed document
    const small = readFileSync(path.join(FIXTURES, "good/small.yaml"), "utf8");
    const edited = (edit: (d: Doc) => void): Doc => {
      const d = parse(small) as Doc;
      edit(d);
      return d;
    };
    /** The schema's and the loader's answer for small.yaml after `edit`. */
    const both = (edit: (d: Doc) => void): { schema: boolean; loader: boolean } => {
      const d = edited(edit);
      let loader = true;
      try {
        parseTopology(stringify(d), "edited.yaml");
      } catch (e) {
        if (!(e instanceof TopologyError)) throw e;
        loader = false;
      }
      return { schema: validate(d) as boolean, loader };
    };
    const agree = (values: unknown[], ok: boolean, edit: (v: unknown) => (d: Doc) => void): void => {
      for (const v of values) expect(both(edit(v)), JSON.stringify(v)).to.deep.equal({ schema: ok, loader: ok });
    };

    it("dpd: a map, off, false or nothing — nothing else", () => {
      const set = (v: unknown) => (d: Doc) => (d.vpn.dpd = v);
      agree([{ interval: "1s", retries: 3 }, {}, "off", false, null], true, set);
      agree(["on", true, "no", [], { interval: "0s" }, { retries: 0 }, { retries: 1001 }, { retry: 3 }], false, set);
    });
    it("durations: 500ms, 1.5s, 2m or a number of seconds, longer than 0 where it must be", () => {
      const set = (v: unknown) => (d: Doc) => (d.probe.timeout = v);
      agree(["500ms", "1.5s", "2m", "3", 3, 0.25], true, set);
      agree(["0s", 0, "-1s", -1, "1h", "1 sec", "1.s", true, 1e300], false, set);
    });
    it("loss: more than 0 % and at most 100 %", () => {
      const set = (v: unknown) => (d: Doc) => (d.chaos = [{ at: "2s", on: "client", loss: v }]);
      agree(["5%", "0.5%", "100%", "100.0%", "005%", "5 %", 1, 100, 0.01], true, set);
      agree(["0%", "0.0%", "100.5%", "101%", "-5%", "5", 0, 101, -1], false, set);
    });
    it("chaos step values: percents 0–100, bandwidths with a unit, packet numbers ≥ 1, partition true or a duration, seeds 0–2^32-1", () => {
      const step = (kv: Record<string, unknown>) => (d: Doc) => {
        d.phases = { baseline: "2s", chaos: "4s", recovery: "4s" };
        d.chaos = [{ at: "2s", on: "headend.corp", ...kv }];
      };
      agree(["0%", "25%", "100%", 0, 100], true, (v) => step({ duplicate: v }));
      agree(["101%", "-1%", "5", 101, -1, true], false, (v) => step({ duplicate: v }));
      agree(["1mbit", "500kbit", "2gbit", "1.5Mbit"], true, (v) => step({ rate: v }));
      agree(["0kbit", "1000", 1000, "1mb", "fast"], false, (v) => step({ rate: v }));
      agree([[1], [3, 7]], true, (v) => step({ drop: v }));
      agree([[], [0], [1.5], ["1"], 1], false, (v) => step({ drop: v }));
      agree([true, "2s", 1], true, (v) => step({ partition: v }));
      agree([false, "0s", "soon"], false, (v) => step({ partition: v }));
      agree([0, 7, 4294967295], true, (v) => step({ every: 2, seed: v }));
      agree([-1, 4294967296, 1.5, "7"], false, (v) => step({ every: 2, seed: v }));
      agree([{ proto: "tcp", dport: 10000, from: "client", to: "10.1.0.0/24" }, { to: "10.1.0.2" }], true, (v) => step({ drop: [1], match: v }));
      agree([{}, { dport: 7 }, { proto: "esp", sport: 1 }, { from: "10.1.0.2/33" }, { port: 7 }], false, (v) => step({ drop: [1], match: v }));
    });
    it("rate: 1 to 1000 per second", () => {
      const set = (v: unknown) => (d: Doc) => (d.probe.rate = v);
      agree(["50/s", "1/s", "1000/s", "7.5 / s", 1, 1000], true, set);
      agree(["0/s", "0.5/s", "1001/s", "2000/s", "50", 0, 1001], false, set);
    });
    it("ports: whole numbers 1–65535, unquoted", () => {
      const set = (v: unknown) => (d: Doc) => (d.vpn.port = v);
      agree([1, 10000, 65535], true, set);
      agree([0, 65536, -1, 1.5, "10000"], false, set);
    });
    it("addresses: four parts 0–255 without leading zeros, prefixes 0–32", () => {
      const set = (v: unknown) => (d: Doc) => (d.nodes.client.links[0].ip = v);
      // the loader also wants the address inside its net (semantic), so only the schema is asked about these
      for (const ip of ["10.0.0.2/24", "10.0.0.2/32", "255.255.255.254/0"]) expect(validate(edited(set(ip))), ip).to.equal(true);
      agree(["10.0.0.2", "10.0.0.256/24", "10.0.0.02/24", "10.0.0.2/33", "10.0.2/24", "::1/128"], false, set);
    });
  });
});
