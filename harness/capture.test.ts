import { expect } from "chai";
import * as path from "node:path";
import { captureArgs, captureDir, captureFile, tcpdumpArgv, withCaptures } from "./capture";
import { loadTopology } from "./topology/load";
import { FIXTURES } from "./topology/testdata";

describe("capture", () => {
  const s = loadTopology(path.join(FIXTURES, "good/capture.yaml"));

  it("builds tcpdump's argv: the interface, the file, packet-buffered, 256-byte snaplen, no privilege drop", () => {
    expect(tcpdumpArgv("edge", "/r/wan.edge.pcap")).to.deep.equal(["tcpdump", "-i", "edge", "-w", "/r/wan.edge.pcap", "-U", "-s", "256", "-n", "-Z", "root"]);
  });

  it("names files <root>/<topology>/<variant>-<labId>/<node>.<net>.pcap", () => {
    expect(captureFile(captureDir("asa-ips", "natt", "ab12c", "reports/captures"), { node: "wan", net: "edge" })).to.equal("reports/captures/asa-ips/natt-ab12c/wan.edge.pcap");
  });

  it("reads capture: from the file, and a variant's list replaces the base's", () => {
    expect(s.base.capture).to.deep.equal([{ node: "wan", net: "edge" }]);
    expect(s.variants.get("no-loss")?.capture).to.deep.equal([{ node: "firewall", net: "dmz" }, { node: "headend", net: "dmz" }]);
    expect(s.variants.get("natt")?.capture).to.deep.equal([{ node: "wan", net: "edge" }]);
  });

  it("merges --capture with the file's, once per NODE.NET", () => {
    expect(withCaptures(s.base, ["wan.edge", "firewall.edge"]).capture).to.deep.equal([{ node: "wan", net: "edge" }, { node: "firewall", net: "edge" }]);
    expect(captureArgs({ capture: ["client.home"] }, [s.base])).to.deep.equal(["client.home"]);
    expect(captureArgs({}, [s.base])).to.deep.equal([]);
  });

  it("refuses a --capture that is not NODE.NET, names an unknown node, or a net the node is not on", () => {
    expect(() => withCaptures(s.base, ["wan"])).to.throw(/not NODE\.NET/);
    expect(() => withCaptures(s.base, ["nope.edge"])).to.throw(/no node nope in mini\/base — the nodes are: client, wan/);
    expect(() => withCaptures(s.base, ["client.edge"])).to.throw(/node client is not on net edge — its nets are: home/);
    expect(() => captureArgs({ capture: ["wan.e;rm"] }, [s.base])).to.throw(/not NODE\.NET/);
  });
});
