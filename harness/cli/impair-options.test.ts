import { expect } from "chai";
import { UsageError } from "./command";
import { faultOf, impairmentOf, parseMatch } from "./impair-options";

const nodes: Record<string, string> = { client: "203.0.113.10", headend: "192.0.2.10" };
const addressOf = (n: string) => nodes[n];
const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("no UsageError");
};

describe("cli/impair-options", () => {
  it("every option becomes its model field, in the topology file's units", () => {
    expect(impairmentOf({ loss: "5%", "loss-correlation": "25" })).to.deep.equal({ loss: { kind: "random", percent: 5, correlation: 25 } });
    expect(impairmentOf({ gemodel: "1%,10%" })).to.deep.equal({ loss: { kind: "gemodel", p: 1, r: 10 } });
    expect(impairmentOf({ gemodel: "1,10,0,100" })).to.deep.equal({ loss: { kind: "gemodel", p: 1, r: 10, h: 0, k: 100 } });
    expect(impairmentOf({ "loss-state": "1,50" })).to.deep.equal({ loss: { kind: "state", p13: 1, p31: 50 } });
    expect(impairmentOf({ delay: "100ms", jitter: "20ms", "delay-correlation": "25%", distribution: "normal" })).to.deep.equal({
      delayMs: 100, jitterMs: 20, delayCorrelation: 25, delayDistribution: "normal",
    });
    expect(impairmentOf({ duplicate: "20%", "duplicate-correlation": "0%", reorder: "10%", "reorder-gap": "5", corrupt: "1%" })).to.deep.equal({
      duplicate: 20, duplicateCorrelation: 0, reorder: 10, reorderGap: 5, corrupt: 1,
    });
    expect(impairmentOf({ rate: "1mbit", limit: "1000" })).to.deep.equal({ rateKbit: 1000, limit: 1000 });
    expect(impairmentOf({ drop: "1,5", every: "20" })).to.deep.equal({ dropPackets: [1, 5], everyNth: 20 });
    expect(impairmentOf({ partition: true })).to.deep.equal({ partition: true });
    expect(impairmentOf({})).to.deep.equal({});
  });

  it("bad values: the option, the value and what to write", () => {
    expect(usage(() => impairmentOf({ loss: "150%" }))).to.equal("--loss 150%: must be a percent in 0..100");
    expect(usage(() => impairmentOf({ loss: "0%" }))).to.match(/^--loss 0%: loss 0% drops nothing — to remove a fault, use `vpnlab heal`/);
    expect(usage(() => impairmentOf({ loss: "five" }))).to.match(/^--loss five: "five" is not a percentage — write e.g. "5%"/);
    expect(usage(() => impairmentOf({ delay: "-5ms" }))).to.match(/^--delay -5ms: duration "-5ms" is negative/);
    expect(usage(() => impairmentOf({ rate: "1xbit" }))).to.match(/^--rate 1xbit: "1xbit" is not a bandwidth — write e\.g\. "500kbit"/);
    expect(usage(() => impairmentOf({ every: "0" }))).to.equal("--every 0: must be a whole number ≥ 1");
    expect(usage(() => impairmentOf({ drop: "1,x" }))).to.equal("--drop x: must be a whole number ≥ 1");
    expect(usage(() => impairmentOf({ gemodel: "1" }))).to.equal("--gemodel 1: give 2 to 4 percents, comma-separated");
    expect(usage(() => impairmentOf({ loss: "1%", gemodel: "1,2" }))).to.equal("give one loss model: --loss and --gemodel were both given");
    expect(usage(() => impairmentOf({ "loss-correlation": "5" }))).to.equal("--loss-correlation needs --loss");
    expect(usage(() => impairmentOf({ distribution: "normel" }))).to.match(/^--distribution normel: did you mean `normal`\?/);
  });

  it("contradictions the model refuses name the option, not the model's field", () => {
    expect(usage(() => faultOf({ partition: true, loss: "5%" }, addressOf))).to.equal("invalid impairment (--partition): a partition drops every packet; it cannot be combined with loss");
    expect(usage(() => faultOf({ distribution: "normal", delay: "10ms" }, addressOf))).to.match(/^invalid impairment \(--distribution\): .*set jitterMs > 0/);
    expect(usage(() => faultOf({ loss: "5%", match: "dport=53" }, addressOf))).to.match(/^invalid impairment \(--match\): a port match needs proto tcp or udp/);
  });

  it("--match: node names are their first link's address; addresses and prefixes as written", () => {
    expect(parseMatch("proto=tcp,dport=10000,from=client,to=headend", addressOf)).to.deep.equal({ proto: "tcp", dport: 10000, src: "203.0.113.10", dst: "192.0.2.10" });
    expect(parseMatch("proto=udp,sport=4500,to=10.10.0.0/24", addressOf)).to.deep.equal({ proto: "udp", sport: 4500, dst: "10.10.0.0/24" });
    expect(usage(() => parseMatch("from=nobody", addressOf))).to.equal("--match from=nobody: from nobody is neither an IPv4 address nor a node of the lab");
    expect(usage(() => parseMatch("to=10.0.0.300", addressOf))).to.match(/^--match to=10\.0\.0\.300: to "10\.0\.0\.300" is not an IPv4 address/);
    expect(usage(() => parseMatch("to=10.10.0.1/24", addressOf))).to.equal("--match to=10.10.0.1/24: to 10.10.0.1/24 has host bits set — write the network address 10.10.0.0/24, or the bare address 10.10.0.1");
    expect(usage(() => parseMatch("port=5", addressOf))).to.match(/^--match port=5: `port` is not a match key — did you mean `sport`\?/);
    expect(usage(() => parseMatch("proto=sctp", addressOf))).to.match(/^--match proto=sctp: proto sctp/);
    expect(usage(() => parseMatch("proto=tcp,dport=70000", addressOf))).to.equal("--match proto=tcp,dport=70000: dport must be a port 1..65535");
  });

  it("the whole fault: direction, match and seed beside the impairment", () => {
    expect(faultOf({ drop: "1", direction: "ingress", match: "proto=tcp,dport=10000,from=client", seed: "7" }, addressOf)).to.deep.equal({
      impairment: { dropPackets: [1] }, direction: "ingress", match: { proto: "tcp", dport: 10000, src: "203.0.113.10" }, seed: 7,
    });
    expect(usage(() => faultOf({ loss: "5%", direction: "sideways" }, addressOf))).to.match(/^--direction sideways: .*use egress or ingress/);
    expect(usage(() => faultOf({ loss: "5%", seed: "4294967296" }, addressOf))).to.equal("--seed 4294967296: must be at most 4294967295");
  });
});
