import { expect } from "chai";
import {
  classifyTcError,
  explicitRoot,
  firstLines,
  ingressQdisc,
  ourRoot,
  parseFilterJson,
  parseQdiscJson,
  tcFilterAddArgv,
  tcFilterDelArgv,
  tcFilterShowArgv,
  tcIngressAddArgv,
  tcIngressDelArgv,
  tcQdiscArgv,
  tcQdiscDelRootArgv,
  tcQdiscReplaceArgv,
  tcQdiscShowArgv,
  tcQdiscShowRootArgv,
  tcQdiscStatsArgv,
  u32Selectors,
} from "./tc";

describe("impair/tc", () => {
  it("builds qdisc argv", () => {
    expect(tcQdiscArgv("replace", "eth0", "netem", ["delay", "10ms"])).to.deep.equal([
      "tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "10ms",
    ]);
    expect(tcQdiscArgv("add", "lo", "tbf")).to.deep.equal(["tc", "qdisc", "add", "dev", "lo", "root", "tbf"]);
    expect(tcQdiscDelRootArgv("eth0")).to.deep.equal(["tc", "qdisc", "del", "dev", "eth0", "root"]);
    expect(tcQdiscShowRootArgv("eth0")).to.deep.equal(["tc", "-j", "qdisc", "show", "dev", "eth0", "root"]);
  });

  it("refuses bad device names and qdisc kinds", () => {
    expect(() => tcQdiscArgv("add", "a b", "netem")).to.throw(/invalid interface name/);
    expect(() => tcQdiscArgv("add", "eth0", "netem; rm")).to.throw(/invalid qdisc kind/);
  });

  it("parses `tc -j qdisc show` and finds an explicit root", () => {
    // Real output of this iproute2 (6.1) for a fresh interface and for one with a tbf root.
    const fresh = parseQdiscJson('[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]\n');
    expect(fresh).to.deep.equal([{ kind: "noqueue", handle: "0:", root: true, options: {} }]);
    expect(explicitRoot(fresh)).to.equal(undefined);
    const tbf = parseQdiscJson(
      '[{"kind":"tbf","handle":"8001:","root":true,"refcnt":2,"options":{"rate":125000,"burst":4096,"lat":400000}}]',
    );
    expect(explicitRoot(tbf)?.kind).to.equal("tbf");
    expect(explicitRoot(tbf)?.options).to.deep.equal({ rate: 125000, burst: 4096, lat: 400000 });
    expect(parseQdiscJson("")).to.deep.equal([]);
    expect(() => parseQdiscJson('{"kind":"x"}')).to.throw(/expected a JSON array/);
  });

  it("classifies tc errors", () => {
    expect(classifyTcError("Error: Specified qdisc kind is unknown.\n")).to.equal("kind-unknown");
    expect(classifyTcError("RTNETLINK answers: No such file or directory\n")).to.equal("kind-unknown");
    expect(classifyTcError('Cannot find device "eth9"\n')).to.equal("no-such-device");
    expect(classifyTcError("Error: Exclusivity flag on, cannot modify.\n")).to.equal("exclusive");
    expect(classifyTcError("Error: Cannot delete qdisc with handle of zero.\n")).to.equal("no-qdisc");
    expect(classifyTcError("something else\n")).to.equal("other");
  });

  it("firstLines keeps a short, one-line reason", () => {
    expect(firstLines({ stdout: "", stderr: "a\n\nb\nc\nd\n", code: 2 })).to.equal("a / b / c");
    expect(firstLines({ stdout: "out\n", stderr: "", code: 1 })).to.equal("out");
  });

  describe("vpnlab's own objects", () => {
    it("qdiscs under a handle, at the root or under a class; ingress; show", () => {
      expect(tcQdiscReplaceArgv("eth0", { root: true }, "564c:", "netem", ["delay", "1ms"]).join(" ")).to.equal("tc qdisc replace dev eth0 root handle 564c: netem delay 1ms");
      expect(tcQdiscReplaceArgv("eth0", { parent: "564c:2" }, "564d:", "netem").join(" ")).to.equal("tc qdisc replace dev eth0 parent 564c:2 handle 564d: netem");
      expect(() => tcQdiscReplaceArgv("eth0", { root: true }, "564c", "netem")).to.throw(/invalid tc handle/);
      expect(() => tcQdiscReplaceArgv("eth0", { parent: "1:2 x" }, "564c:", "netem")).to.throw(/invalid tc handle/);
      expect(tcIngressAddArgv("eth0").join(" ")).to.equal("tc qdisc add dev eth0 handle ffff: ingress");
      expect(tcIngressDelArgv("eth0").join(" ")).to.equal("tc qdisc del dev eth0 ingress");
      expect(tcQdiscShowArgv("eth0").join(" ")).to.equal("tc -j qdisc show dev eth0");
      expect(tcQdiscStatsArgv("eth0").join(" ")).to.equal("tc -s -j qdisc show dev eth0");
    });

    it("u32 selectors: every packet, or each field of a flow match", () => {
      expect(u32Selectors(undefined).join(" ")).to.equal("protocol all pref 22092 u32 match u32 0 0");
      expect(u32Selectors({}).join(" ")).to.equal("protocol all pref 22092 u32 match u32 0 0");
      expect(u32Selectors({ proto: "tcp", src: "10.1.0.2", dst: "10.2.0.0/16", sport: 1234, dport: 10000 }).join(" ")).to.equal(
        "protocol ip pref 22092 u32 match ip protocol 6 0xff match ip src 10.1.0.2/32 match ip dst 10.2.0.0/16 match ip sport 1234 0xffff match ip dport 10000 0xffff",
      );
      expect(u32Selectors({ proto: "udp" }).slice(-5)).to.deep.equal(["match", "ip", "protocol", "17", "0xff"]);
      expect(u32Selectors({ proto: "icmp" }).slice(-2)).to.deep.equal(["1", "0xff"]);
      expect(u32Selectors({ proto: "esp" }).slice(-2)).to.deep.equal(["50", "0xff"]);
    });

    it("filters: add (steer to a class or redirect to a device), delete ours by preference, show", () => {
      expect(tcFilterAddArgv("eth0", "564c:", { dport: 80, proto: "tcp" }, { flowid: "564c:2" }).join(" ")).to.equal(
        "tc filter add dev eth0 parent 564c: protocol ip pref 22092 u32 match ip protocol 6 0xff match ip dport 80 0xffff flowid 564c:2",
      );
      expect(tcFilterAddArgv("eth0", "ffff:", undefined, { redirectTo: "vli-eth0" }).join(" ")).to.equal(
        "tc filter add dev eth0 parent ffff: protocol all pref 22092 u32 match u32 0 0 action mirred egress redirect dev vli-eth0",
      );
      expect(() => tcFilterAddArgv("eth0", "ffff:", undefined, { redirectTo: "x y" })).to.throw(/invalid interface name/);
      expect(tcFilterDelArgv("eth0", "ffff:").join(" ")).to.equal("tc filter del dev eth0 parent ffff: pref 22092");
      expect(tcFilterShowArgv("eth0", "ffff:").join(" ")).to.equal("tc -j filter show dev eth0 parent ffff:");
    });

    it("parses `tc -j filter show` (real output of this iproute2 6.1 for vpnlab's redirect)", () => {
      const real =
        '[{"parent":"ffff:","protocol":"all","pref":22092,"kind":"u32","chain":0},{"parent":"ffff:","protocol":"all","pref":22092,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},' +
        '{"parent":"ffff:","protocol":"all","pref":22092,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},' +
        '"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"vli-d0","control_action":{"type":"stolen"},"index":1,"ref":1,"bind":1}]}}]';
      const f = parseFilterJson(real);
      expect(f).to.have.length(3);
      expect(f.every((x) => x.pref === 22092 && x.kind === "u32" && x.protocol === "all")).to.equal(true);
      expect(f.map((x) => x.redirectTo)).to.deep.equal([undefined, undefined, "vli-d0"]);
      expect(parseFilterJson("")).to.deep.equal([]);
      expect(parseFilterJson("[]")).to.deep.equal([]);
      expect(() => parseFilterJson("{}")).to.throw(/expected a JSON array/);
    });

    it("finds vpnlab's root and the ingress qdisc (real output with an ingress qdisc), and statistics' drops", () => {
      const q = parseQdiscJson('[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]');
      expect(ourRoot(q)).to.equal(undefined);
      expect(ingressQdisc(q)?.handle).to.equal("ffff:");
      const s = parseQdiscJson('[{"kind":"netem","handle":"564c:","root":true,"refcnt":2,"options":{"limit":1000},"bytes":1200,"packets":12,"drops":3,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]');
      expect(ourRoot(s)?.drops).to.equal(3);
      expect(ingressQdisc(s)).to.equal(undefined);
    });
  });
});
