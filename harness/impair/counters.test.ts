import { expect } from "chai";
import { nftListTableArgv, parseNftDrops } from "./counters";

// `nft -j list table inet t` as nftables 1.0.6 printed it here, after a ping through a 5% loss rule
const NFT = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "t", "handle": 1}}, {"chain": {"family": "inet", "table": "t", "name": "egress", "handle": 1, "type": "filter", "hook": "postrouting", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "t", "chain": "egress", "handle": 2, "comment": "random loss 5%", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 10000, "offset": 0}}, "right": 500}}, {"counter": {"packets": 2, "bytes": 168}}, {"drop": null}]}}]}`;

// the same, for the rules nftDropRules writes per protocol and for a flow match (printed here by nft 1.0.6; counts set by hand)
const BY_PROTO = `{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "t", "handle": 1}}, {"rule": {"family": "inet", "table": "t", "chain": "egress", "handle": 2, "comment": "random loss 50% (udp)", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 10000, "offset": 0}}, "right": 5000}}, {"counter": {"packets": 7, "bytes": 700}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "egress", "handle": 4, "comment": "random loss 50% (other)", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp", "esp"]}}}, {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 10000, "offset": 0}}, "right": 5000}}, {"counter": {"packets": 2, "bytes": 168}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "egress", "handle": 5, "comment": "drop packet #1", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 10000}}, {"match": {"op": "==", "left": {"numgen": {"mode": "inc", "mod": -1, "offset": 0}}, "right": 0}}, {"counter": {"packets": 1, "bytes": 1300}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "egress", "handle": 6, "comment": "x", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "lo"}}, {"counter": {"packets": 3, "bytes": 30}}, {"drop": null}]}}]}`;

describe("impair/counters", () => {
  it("tells the drops apart by the protocol a rule selects (l4proto, != a set, a port match); a rule for every protocol counts in the total only", () => {
    expect(parseNftDrops(BY_PROTO)).to.deep.equal({
      packets: 13,
      bytes: 2198,
      byProto: { udp: { packets: 7, bytes: 700 }, other: { packets: 2, bytes: 168 }, tcp: { packets: 1, bytes: 1300 } },
    });
  });

  it("sums the counters of dropping rules only", () => {
    expect(parseNftDrops(NFT)).to.deep.equal({ packets: 2, bytes: 168 });
    const doc = JSON.parse(NFT) as { nftables: unknown[] };
    // a counting rule that accepts is not a drop; a second drop rule adds up
    doc.nftables.push({ rule: { expr: [{ counter: { packets: 50, bytes: 5000 } }, { accept: null }] } });
    doc.nftables.push({ rule: { expr: [{ counter: { packets: 3, bytes: 300 } }, { drop: null }] } });
    expect(parseNftDrops(JSON.stringify(doc))).to.deep.equal({ packets: 5, bytes: 468 });
  });

  it("refuses what is not nft JSON", () => {
    expect(() => parseNftDrops("[]")).to.throw(/not nft JSON/);
    expect(() => parseNftDrops("table inet t {")).to.throw();
  });

  it("builds argv from validated names only", () => {
    expect(nftListTableArgv("vpnlab_impair_edge")).to.deep.equal(["nft", "-j", "list", "table", "inet", "vpnlab_impair_edge"]);
    expect(() => nftListTableArgv("a; flush ruleset")).to.throw(/invalid nftables table name/);
  });
});
