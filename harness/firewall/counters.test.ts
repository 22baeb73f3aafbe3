import { expect } from "chai";
import { NFT_COUNTERS_ARGV, parseDefaultRouteDev, parseNftCounters, sumCounters } from "./counters";

// `nft -j list counters table inet vpnlab_fw` as nftables 1.0.6 printed it here (trimmed to three counters, values set)
const NFT = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"counter": {"family": "inet", "name": "fwd_c2h_tcp", "table": "vpnlab_fw", "handle": 7, "packets": 0, "bytes": 0}}, {"counter": {"family": "inet", "name": "fwd_c2h_udp", "table": "vpnlab_fw", "handle": 8, "packets": 412, "bytes": 61800}}, {"counter": {"family": "inet", "name": "fwd_h2c_udp", "table": "vpnlab_fw", "handle": 12, "packets": 398, "bytes": 59700}}]}`;

describe("firewall/counters", () => {
  it("reads the named counters of our table, in order", () => {
    expect(NFT_COUNTERS_ARGV).to.deep.equal(["nft", "-j", "list", "counters", "table", "inet", "vpnlab_fw"]);
    expect(parseNftCounters(NFT)).to.deep.equal([
      { name: "fwd_c2h_tcp", packets: 0, bytes: 0 },
      { name: "fwd_c2h_udp", packets: 412, bytes: 61800 },
      { name: "fwd_h2c_udp", packets: 398, bytes: 59700 },
    ]);
    expect(sumCounters(parseNftCounters(NFT), /^fwd_(c2h|h2c)_udp$/)).to.deep.equal({ packets: 810, bytes: 121500 });
  });

  it("skips other tables' counters and refuses what is not nft JSON or not a count", () => {
    const doc = JSON.parse(NFT) as { nftables: unknown[] };
    doc.nftables.push({ counter: { family: "inet", name: "x", table: "other", packets: 9, bytes: 9 } });
    expect(parseNftCounters(JSON.stringify(doc)).map((c) => c.name)).to.not.include("x");
    expect(() => parseNftCounters("[]")).to.throw(/not nft JSON/);
    expect(() => parseNftCounters("table inet t {")).to.throw();
    expect(() => parseNftCounters(`{"nftables":[{"counter":{"table":"vpnlab_fw","name":"a","packets":-1,"bytes":0}}]}`)).to.throw(/not a count/);
  });

  it("finds the default route's device", () => {
    expect(parseDefaultRouteDev(`[{"dst":"default","gateway":"198.51.100.2","dev":"edge","flags":[]}]`)).to.equal("edge");
    expect(parseDefaultRouteDev("[]")).to.equal(undefined);
    expect(parseDefaultRouteDev("")).to.equal(undefined);
    expect(() => parseDefaultRouteDev("{}")).to.throw(/not ip route JSON/);
  });
});
