import { expect } from "chai";
import * as path from "node:path";
import { TopologyError, loadTopology, parseTopology, selectScenarios } from "./load";
import type { Scenario } from "./model";

// Compiled tests run from dist/; YAML files stay in the source tree.
const ROOT = path.join(__dirname, "../../..");
const ASA = path.join(ROOT, "topologies/asa-ips.yaml");
const MINI = path.join(ROOT, "harness/topology/fixtures/mini.yaml");

function rejects(fn: () => unknown): TopologyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TopologyError) return e;
    throw e;
  }
  throw new Error("accepted");
}

/** A small valid topology; `extra` is appended (later keys win only through variants). */
const SMALL = `name: small
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 10.0.0.2/24, gw: 10.0.0.1 }] }
  headend: { role: vpn-headend, links: [{ net: home, ip: 10.0.0.1/24 }, { net: corp, ip: 10.1.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.1.0.2/24, gw: 10.1.0.1 }] }
vpn: { client: client, headend: headend, transport: ctcp }
probe: { from: client, to: server, rate: 20 }
expect: survives
`;

describe("topology loader: topologies/asa-ips.yaml", () => {
  const t = loadTopology(ASA);
  const all = selectScenarios(t, []);
  const by = (v: string): Scenario => {
    const s = all.find((x) => x.variant === v);
    if (!s) throw new Error(`no scenario ${v}`);
    return s;
  };

  it("has the base and eleven variants, in file order", () => {
    expect(t.name).to.equal("asa-ips");
    expect(all.map((s) => s.variant)).to.deep.equal(["base", "ctcp-haproxy", "ctcp-no-dpd", "ctcp-no-loss", "ctcp-state-bypass", "ctcp-stateful", "natt", "esp", "natt-strongswan", "anyconnect-tls", "ocserv-tls", "ocserv-dtls"]);
    expect(all.map((s) => s.expect)).to.deep.equal(["fails", "fails", "fails", "survives", "survives", "survives", "survives", "survives", "survives", "survives", "survives", "survives"]);
    for (const s of all) {
      expect(s.name).to.equal("asa-ips");
      expect(s.file).to.equal(ASA);
    }
  });

  it("builds the base scenario", () => {
    const b = t.base;
    expect(b.nodes.map((n) => [n.name, n.role])).to.deep.equal([
      ["client", "vpn-client"],
      ["wan", "router"],
      ["firewall", "firewall"],
      ["headend", "vpn-headend"],
      ["server", "host"],
    ]);
    expect(b.nodes[0].links).to.deep.equal([{ net: "home", ip: { addr: "203.0.113.10", prefix: 24 }, gw: "203.0.113.1" }]);
    expect(b.nodes[1].routes).to.deep.equal([{ to: { addr: "192.0.2.0", prefix: 24 }, via: "198.51.100.1" }]);
    expect(b.nets.map((n) => [n.name, n.members.map((m) => `${m.node}=${m.ip.addr}`)])).to.deep.equal([
      ["home", ["client=203.0.113.10", "wan=203.0.113.1"]],
      ["edge", ["wan=198.51.100.2", "firewall=198.51.100.1"]],
      ["dmz", ["firewall=192.0.2.1", "headend=192.0.2.10"]],
      ["corp", ["headend=10.10.0.1", "server=10.10.0.20"]],
    ]);
    expect(b.vpn).to.deep.equal({
      client: "client",
      headend: "headend",
      transport: "ctcp",
      impl: "reference",
      port: 10000,
      pool: { addr: "172.29.0.0", prefix: 24 },
      dpd: { intervalMs: 1000, retries: 3 },
      dtls: false,
    });
    expect(b.firewall).to.deep.equal({
      node: "firewall",
      mode: "full-proxy",
      proxy: "builtin",
      inspect: [{ proto: "tcp", port: 10000 }],
      bypass: [],
      idleTimeoutMs: 30000,
    });
    expect(b.probe).to.deep.equal({ from: "client", to: "server", flows: ["udp-echo", "tcp-stream"], ratePerSec: 50, port: 7, timeoutMs: 1000 });
    expect(b.phases).to.deep.equal({ baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 });
    expect(b.chaos.map(({ line: _line, ...s }) => s)).to.deep.equal([
      { atMs: 2000, on: { node: "wan", net: "edge" }, fault: { impairment: { loss: { kind: "random", percent: 5 } } } },
      { atMs: 6000, on: { node: "wan", net: "edge" }, clear: true },
    ]);
    expect(b.chaos[0].line).to.be.greaterThan(1);
  });

  it("merges each variant over the base", () => {
    expect(by("ctcp-haproxy").firewall).to.include({ mode: "full-proxy", proxy: "haproxy" });
    expect(by("ctcp-haproxy").chaos).to.have.length(2);

    expect(by("ctcp-no-loss").chaos).to.deep.equal([]);
    expect(by("ctcp-no-loss").firewall).to.deep.equal(t.base.firewall);

    const bypass = by("ctcp-state-bypass").firewall;
    expect(bypass?.bypass).to.deep.equal([{ proto: "tcp", port: 10000 }]);
    expect(bypass?.inspect).to.deep.equal([{ proto: "tcp", port: 10000 }]); // bypass wins over inspect downstream
    expect(bypass?.mode).to.equal("full-proxy");

    expect(by("ctcp-stateful").firewall).to.include({ mode: "stateful", proxy: "builtin" });

    const natt = by("natt");
    expect(natt.vpn).to.include({ transport: "natt", port: 4500, client: "client", headend: "headend", impl: "reference" });
    expect(natt.vpn.dpd).to.deep.equal({ intervalMs: 1000, retries: 3 });
    expect(natt.firewall).to.deep.equal(t.base.firewall);
    expect(natt.chaos).to.deep.equal(t.base.chaos);
    expect(natt.nodes).to.deep.equal(t.base.nodes);
  });

  it("leaves the base untouched by the variants", () => {
    expect(t.base.vpn.transport).to.equal("ctcp");
    expect(t.base.firewall?.proxy).to.equal("builtin");
    expect(t.base.firewall?.bypass).to.deep.equal([]);
    expect(t.base.chaos).to.have.length(2);
  });
});

describe("topology loader: selectScenarios", () => {
  const t = loadTopology(ASA);

  it("returns the named scenarios in the given order", () => {
    expect(selectScenarios(t, ["natt", "base", "ctcp-no-loss"]).map((s) => s.variant)).to.deep.equal(["natt", "base", "ctcp-no-loss"]);
  });

  it("rejects an unknown name at the `variants:` key, listing the known names", () => {
    const e = rejects(() => selectScenarios(t, ["natt", "nat-t"]));
    expect(e.key).to.equal("variants");
    expect(e.line).to.equal(25);
    expect(e.col).to.equal(1);
    expect(e.detail).to.equal("unknown variant `nat-t` — did you mean `natt`? known: base, ctcp-haproxy, ctcp-no-dpd, ctcp-no-loss, ctcp-state-bypass, ctcp-stateful, natt, esp, natt-strongswan, anyconnect-tls, ocserv-tls, ocserv-dtls");
    expect(e.message).to.equal(`${ASA}:25:1: variants: ${e.detail}`);
  });

  it("points at line 1 when the file has no variants", () => {
    const s = parseTopology(SMALL, "small.yaml");
    expect(selectScenarios(s, []).map((x) => x.variant)).to.deep.equal(["base"]);
    const e = rejects(() => selectScenarios(s, ["natt"]));
    expect([e.line, e.col, e.key]).to.deep.equal([1, 1, "variants"]);
    expect(e.detail).to.match(/has no variants; the only scenario is `base`/);
  });
});

describe("topology loader: defaults and value forms", () => {
  it("fills the defaults", () => {
    const s = parseTopology(SMALL, "small.yaml").base;
    expect(s.firewall).to.equal(undefined);
    expect(s.vpn).to.deep.include({ impl: "reference", port: 10000, pool: { addr: "172.29.0.0", prefix: 24 }, dtls: false });
    expect(s.vpn.dpd).to.deep.equal({ intervalMs: 1000, retries: 3 });
    expect(s.probe).to.deep.equal({ from: "client", to: "server", flows: ["udp-echo"], ratePerSec: 20, port: 7, timeoutMs: 1000 });
    expect(s.phases).to.deep.equal({ baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 });
    expect(s.chaos).to.deep.equal([]);
    expect(s.nodes[0].routes).to.deep.equal([]);
  });

  it("defaults the port by transport; esp has none", () => {
    const text = `${SMALL}variants:
  natt: { vpn: { transport: natt } }
  esp: { vpn: { transport: esp } }
  ac: { vpn: { transport: anyconnect, impl: ocserv, dtls: true } }
  sw: { vpn: { transport: natt, impl: strongswan, port: 14500 } }
`;
    const t = parseTopology(text, "p.yaml");
    // a variant that changes the transport but not the port keeps the base's explicit port only when the base wrote one
    expect(t.variants.get("natt")?.vpn.port).to.equal(4500);
    expect(t.variants.get("esp")?.vpn.port).to.equal(0);
    expect(t.variants.get("ac")?.vpn).to.deep.include({ port: 443, impl: "ocserv", dtls: true });
    expect(t.variants.get("sw")?.vpn).to.deep.include({ port: 14500, impl: "strongswan" });
  });

  it("ignores a port inherited by an esp variant", () => {
    const text = SMALL.replace("transport: ctcp", "transport: ctcp, port: 10001") + "variants:\n  esp: { vpn: { transport: esp } }\n";
    const t = parseTopology(text, "p.yaml");
    expect(t.base.vpn.port).to.equal(10001);
    expect(t.variants.get("esp")?.vpn.port).to.equal(0);
  });

  it("reads durations, percentages and rates in every written form", () => {
    const text = SMALL.replace("rate: 20", 'rate: "7/s", timeout: 250ms, port: 7007') +
      `phases: { baseline: 1.5s, chaos: 1m, recovery: 3 }
chaos:
  - { at: 61.5, on: client, clear: true }
  - { at: 1500ms, on: headend.corp, loss: 0.5% }
  - { at: 2s, on: headend, loss: 100 }
firewall: { node: headend, mode: route, idle-timeout: 2m }
`.replace("node: headend", "node: fw");
    const withFw = text.replace(
      "  server:",
      "  fw:      { role: firewall,    links: [{ net: home, ip: 10.0.0.3/24 }] }\n  server:",
    );
    const s = parseTopology(withFw, "p.yaml").base;
    expect(s.probe).to.include({ ratePerSec: 7, timeoutMs: 250, port: 7007 });
    expect(s.phases).to.deep.equal({ baselineMs: 1500, chaosMs: 60000, recoveryMs: 3000 });
    // sorted by time (stable); `on: NODE` has no net
    expect(s.chaos.map((c) => [c.atMs, c.on, c.fault?.impairment.loss?.kind === "random" ? c.fault.impairment.loss.percent : "clear"])).to.deep.equal([
      [1500, { node: "headend", net: "corp" }, 0.5],
      [2000, { node: "headend" }, 100],
      [61500, { node: "client" }, "clear"],
    ]);
    expect(s.chaos.map((c) => c.line)).to.deep.equal([13, 14, 12]);
    expect(s.firewall).to.deep.equal({ node: "fw", mode: "route", proxy: "builtin", inspect: [], bypass: [], idleTimeoutMs: 120000 });
  });

  it("accepts a bypass port that is also inspected (bypass wins downstream)", () => {
    const text = SMALL.replace(
      "  server:",
      "  fw:      { role: firewall,    links: [{ net: home, ip: 10.0.0.3/24 }] }\n  server:",
    ) + "firewall: { node: fw, mode: full-proxy, inspect: [{ proto: tcp, port: 10000 }], bypass: [{ proto: tcp, port: 10000 }, { proto: udp, port: 4500 }] }\n";
    const f = parseTopology(text, "p.yaml").base.firewall;
    expect(f?.bypass).to.deep.equal([{ proto: "tcp", port: 10000 }, { proto: "udp", port: 4500 }]);
  });

  it("treats `key:` with no value as absent for optional keys", () => {
    const s = parseTopology(SMALL.replace("rate: 20", "rate: 20, flows:, port:"), "p.yaml").base;
    expect(s.probe).to.include({ port: 7 });
    expect(s.probe.flows).to.deep.equal(["udp-echo"]);
  });
});

describe("topology loader: dpd off", () => {
  for (const off of ["off", "false"]) {
    it(`dpd: ${off} switches dead-peer detection off, in the base and in a variant over a dpd map`, () => {
      const t = parseTopology(`${SMALL.replace("transport: ctcp", `transport: ctcp, dpd: ${off}`)}variants:\n  on: { vpn: { dpd: { interval: 2s } } }\n`, "d.yaml");
      expect(t.base.vpn.dpd).to.equal(null);
      // a map in a variant replaces the scalar: DPD on again, with defaults for what it does not say
      expect(t.variants.get("on")?.vpn.dpd).to.deep.equal({ intervalMs: 2000, retries: 3 });
      const v = parseTopology(`${SMALL}variants:\n  no-dpd: { vpn: { dpd: ${off} } }\n`, "d.yaml");
      expect(v.variants.get("no-dpd")?.vpn.dpd).to.equal(null);
      expect(v.base.vpn.dpd).to.deep.equal({ intervalMs: 1000, retries: 3 });
    });
  }
  it("refuses any other scalar with file:line and what to write", () => {
    expect(() => parseTopology(SMALL.replace("transport: ctcp", "transport: ctcp, dpd: on"), "d.yaml")).to.throw(/d\.yaml:\d+:\d+: .*dpd must be a map \{ interval, retries \} or off, got "on"/);
  });
});

describe("topology loader: variants", () => {
  it("merges maps recursively, replaces lists and scalars, and may add nodes", () => {
    const text = `${SMALL}chaos: [{ at: 2s, on: client, loss: 5% }]
variants:
  slow-dpd: { vpn: { dpd: { interval: 2s } } }
  more:
    nodes:
      extra: { role: host, links: [{ net: corp, ip: 10.1.0.3/24 }] }
      server: { links: [{ net: corp, ip: 10.1.0.9/24, gw: 10.1.0.1 }] }
    chaos: [{ at: 3s, on: extra.corp, loss: 1 }]
`;
    const t = parseTopology(text.replace("transport: ctcp", "transport: ctcp, dpd: { interval: 1s, retries: 5 }"), "v.yaml");
    expect(t.variants.get("slow-dpd")?.vpn.dpd).to.deep.equal({ intervalMs: 2000, retries: 5 });
    const more = t.variants.get("more");
    expect(more?.nodes.map((n) => n.name)).to.deep.equal(["client", "headend", "server", "extra"]);
    expect(more?.nodes[2]).to.deep.equal({ name: "server", role: "host", links: [{ net: "corp", ip: { addr: "10.1.0.9", prefix: 24 }, gw: "10.1.0.1" }], routes: [] });
    expect(more?.nets[1].members.map((m) => m.node)).to.deep.equal(["headend", "server", "extra"]);
    expect(more?.chaos).to.have.length(1);
    expect(more?.chaos[0]).to.deep.include({ atMs: 3000, fault: { impairment: { loss: { kind: "random", percent: 1 } } }, line: 16 });
    expect(t.base.nodes).to.have.length(3);
  });

  it("a variant may drop an optional section with null", () => {
    const text = SMALL.replace(
      "  server:",
      "  fw:      { role: firewall,    links: [{ net: home, ip: 10.0.0.3/24 }] }\n  server:",
    ) + "firewall: { node: fw }\nvariants:\n  no-fw: { firewall: null }\n";
    const t = parseTopology(text, "v.yaml");
    expect(t.base.firewall?.mode).to.equal("stateful");
    expect(t.variants.get("no-fw")?.firewall).to.equal(undefined);
  });

  it("reports a bad value at the variant's line, and a base value a variant broke at the base's line", () => {
    const text = `${SMALL}chaos: [{ at: 2s, on: client, loss: 5% }]
variants:
  ok: { expect: fails }
  bad-loss: { chaos: [{ at: 2s, on: client, loss: 101% }] }
`;
    const e1 = rejects(() => parseTopology(text, "v.yaml"));
    expect(e1.message).to.equal("v.yaml:12:51: variants.bad-loss.chaos[0].loss: loss 101% is out of range — loss must be more than 0 % and at most 100 % (to remove a fault, use clear: true)");

    const e2 = rejects(() => parseTopology(`${SMALL}chaos: [{ at: 2s, on: client, loss: 5% }]\nvariants:\n  long: { phases: { baseline: 10s } }\n`, "v.yaml"));
    expect([e2.line, e2.col, e2.key]).to.deep.equal([9, 15, "chaos[0].at"]);
    expect(e2.detail).to.match(/\(in variant long\)$/);
  });

  it("rejects a variant declared twice (YAML duplicate key)", () => {
    const e = rejects(() => parseTopology(`${SMALL}variants:\n  a: { expect: fails }\n  a: { expect: survives }\n`, "v.yaml"));
    expect([e.line, e.col, e.key]).to.deep.equal([11, 3, "variants.a"]);
    expect(e.detail).to.equal("variant `a` is declared twice (first at line 10) — variant names must be unique: rename or merge one of them");
  });

  it("rejects a duplicate key inside a section", () => {
    const e = rejects(() => parseTopology(SMALL.replace("rate: 20", "rate: 20, rate: 30"), "v.yaml"));
    expect([e.line, e.key]).to.deep.equal([7, "probe.rate"]);
    expect(e.detail).to.match(/^duplicate key `rate` \(first at line 7\) — each key may appear only once/);
  });
});

describe("topology loader: files", () => {
  it("loads the mini fixture", () => {
    const t = loadTopology(MINI);
    expect(selectScenarios(t, []).map((s) => `${s.variant}:${s.expect}`)).to.deep.equal(["base:fails", "no-loss:survives", "natt:survives"]);
  });

  it("reports a file it cannot read", () => {
    const e = rejects(() => loadTopology(path.join(ROOT, "no/such/topology.yaml")));
    expect([e.line, e.col, e.key]).to.deep.equal([1, 1, "(file)"]);
    expect(e.detail).to.match(/cannot read the topology file: .*ENOENT.* — check the path/);
  });

  it("reads a device or a pipe only up to the bound: /dev/zero is refused, not read for ever", () => {
    const e = rejects(() => loadTopology("/dev/zero"));
    expect([e.line, e.col, e.key]).to.deep.equal([1, 1, "(file)"]);
    expect(e.detail).to.match(/the file holds more than \d+ bytes; a topology is at most 262144 characters/);
  });

  it("refuses a directory with the reason", () => {
    const e = rejects(() => loadTopology(ROOT));
    expect(e.detail).to.match(/cannot read the topology file: EISDIR: it is a directory — check the path/);
  });
});
