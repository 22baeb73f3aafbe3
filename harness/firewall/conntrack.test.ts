import { expect } from "chai";
import { entriesOf, parseConntrack } from "./conntrack";

// /proc/net/nf_conntrack lines in the kernel's own layout
const TEXT = [
  "ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=192.0.2.10 sport=40000 dport=10000 src=192.0.2.10 dst=203.0.113.10 sport=10000 dport=40000 [ASSURED] mark=0 zone=0 use=2",
  "ipv4     2 udp      17 29 src=203.0.113.10 dst=192.0.2.10 sport=51000 dport=4500 src=192.0.2.10 dst=203.0.113.10 sport=4500 dport=51000 mark=0 zone=0 use=2",
  "ipv4     2 icmp     1 29 src=203.0.113.10 dst=192.0.2.10 type=8 code=0 id=7 src=192.0.2.10 dst=203.0.113.10 type=0 code=0 id=7 mark=0 zone=0 use=2",
  "",
].join("\n");

describe("firewall/conntrack", () => {
  it("parses the original tuple of each entry", () => {
    expect(parseConntrack(TEXT)).to.deep.equal([
      { proto: "tcp", state: "ESTABLISHED", src: "203.0.113.10", dst: "192.0.2.10", sport: 40000, dport: 10000 },
      { proto: "udp", src: "203.0.113.10", dst: "192.0.2.10", sport: 51000, dport: 4500 },
      { proto: "icmp", src: "203.0.113.10", dst: "192.0.2.10", sport: undefined, dport: undefined },
    ]);
  });

  it("ESP (no conntrack module: \"unknown 50\") is named esp, and found by its protocol alone", () => {
    // as this kernel printed it for the esp transport behind a stateful firewall
    const e = parseConntrack("ipv4     2 unknown  50 599 src=203.0.113.10 dst=192.0.2.10 src=192.0.2.10 dst=203.0.113.10 mark=0 zone=0 use=2\n");
    expect(e).to.deep.equal([{ proto: "esp", src: "203.0.113.10", dst: "192.0.2.10", sport: undefined, dport: undefined }]);
    expect(entriesOf(e, { proto: "esp" })).to.have.length(1);
    expect(entriesOf(parseConntrack(TEXT), { proto: "esp" })).to.have.length(0);
  });

  it("an empty table is no entry; garbage lines are skipped", () => {
    expect(parseConntrack("")).to.deep.equal([]);
    expect(parseConntrack("conntrack v1.4.7: 0 flow entries\nipv4 2 tcp\n")).to.deep.equal([]);
  });

  it("finds a flow's entries in either direction, by protocol and port", () => {
    const e = parseConntrack(TEXT);
    expect(entriesOf(e, { proto: "tcp", port: 10000 })).to.have.length(1);
    expect(entriesOf(e, { proto: "udp", port: 10000 })).to.have.length(0);
    expect(entriesOf(e, { proto: "udp", port: 4500 })).to.have.length(1);
    expect(entriesOf(e, { proto: "tcp", port: 40000 })).to.have.length(1); // the client's side of it
  });
});
