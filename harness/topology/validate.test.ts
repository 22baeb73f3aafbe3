// Every rejection the loader makes, one fixture each. A fixture's header says
// where the error must point and what it must say:
//   # rejects: what is wrong
//   # expect: LINE:COL KEY
//   # detail: REGEX (matched against the detail part of the message)
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { TopologyError, loadTopology, parseTopology } from "./load";
import { IFNAME_RE, RESERVED_IFNAMES } from "./validate";

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

describe("topology validation: node and net names the runtime cannot use", () => {
  /** client and server on net `home`, with `name` standing in for the server node or the net. */
  const doc = (node: string, net: string): string => `name: t
nodes:
  client: { role: vpn-client,  links: [{ net: ${net}, ip: 10.0.0.2/24 }] }
  ${node}: { role: vpn-headend, links: [{ net: ${net}, ip: 10.0.0.1/24 }] }
vpn: { client: client, headend: ${node}, transport: ctcp }
probe: { from: client, to: ${node}, rate: 20 }
expect: survives
`;
  const rejected = (text: string): TopologyError => {
    try {
      parseTopology(text, "t.yaml");
    } catch (e) {
      if (e instanceof TopologyError) return e;
      throw e;
    }
    throw new Error("accepted");
  };

  it("reserves lo, all and default", () => {
    expect([...RESERVED_IFNAMES.keys()].sort()).to.deep.equal(["all", "default", "lo"]);
  });

  for (const name of ["lo", "all", "default"]) {
    it(`rejects node name \`${name}\` at the node's key, saying why and what to do`, () => {
      const e = rejected(doc(name, "home"));
      expect([e.line, e.col, e.key]).to.deep.equal([4, 3, `nodes.${name}`]);
      expect(e.detail).to.match(new RegExp(`^node name \`${name}\` (is the loopback|is refused by the kernel).*; it becomes a network namespace and interface name — choose another name$`));
    });
    it(`rejects net name \`${name}\` at the first link naming it, saying why and what to do`, () => {
      const e = rejected(doc("headend", name));
      expect([e.line, e.col, e.key]).to.deep.equal([3, 47, "nodes.client.links[0].net"]);
      expect(e.detail).to.match(new RegExp(`^net name \`${name}\` (is the loopback|is refused by the kernel).*; it becomes an interface name — choose another name$`));
    });
  }

  it("says why the kernel refuses all and default", () => {
    expect(rejected(doc("all", "home")).detail).to.contain("net.ipv4.conf.all").and.contain("Invalid argument");
    expect(rejected(doc("headend", "default")).detail).to.contain("net.ipv4.conf.default").and.contain("Invalid argument");
  });

  it("accepts names that merely contain a reserved word", () => {
    expect(() => parseTopology(doc("alldefault", "lonet"), "t.yaml")).not.to.throw();
  });

  it("never suggests a reserved name as the rename", () => {
    for (const [bad, reserved] of [["ALL", "all"], ["De-fault", "default"], ["LO", "lo"]]) {
      const e = rejected(doc(bad, "home"));
      expect(e.detail).to.match(/rename it to at most 10 lowercase letters\/digits/);
      expect(e.detail).not.to.contain(`(e.g. \`${reserved}\`)`);
    }
  });

  it("forbids '-', so no name can clash with vl-<labid>-..., br-lab or tun-vpn", () => {
    for (const n of ["br-lab", "tun-vpn", "net-home", "a-b"]) expect(IFNAME_RE.test(n), n).to.equal(false);
    const e = rejected(doc("headend", "tun-vpn"));
    expect(e.detail).to.match(/^net name `tun-vpn` contains characters other than lowercase letters and digits/);
  });
});
