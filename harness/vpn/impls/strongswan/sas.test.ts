import { expect } from "chai";
import { downReason, dpdLineKind, parseListSas, parseViciRaw } from "./sas";
import { parseWireCounters, wireRuleset } from "./wire";

// captured from `swanctl --list-sas --raw` (strongSwan 5.9.8) with a tunnel up
const LIST_SAS = [
  "list-sa event {vpn {uniqueid=1 version=2 state=ESTABLISHED local-host=198.51.100.10 local-port=4500 local-id=client remote-host=198.51.100.1 remote-port=4500 remote-id=headend initiator=yes initiator-spi=a59efd605b396597 responder-spi=2e735fec0a58d4ef nat-remote=yes nat-any=yes encr-alg=AES_CBC encr-keysize=128 integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 dh-group=MODP_2048 established=21 rekey-time=13947 local-vips=[172.29.0.2] child-sas {vpn-1 {name=vpn uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes spi-in=ccef85dc spi-out=4c2e48de encr-alg=AES_GCM_16 encr-keysize=128 bytes-in=252 packets-in=3 use-in=21 bytes-out=396 packets-out=6 use-out=21 rekey-time=3315 life-time=3939 install-time=21 local-ts=[172.29.0.2/32] remote-ts=[10.10.0.0/24 10.20.0.0/16]}}}}",
  "list-sas reply {}",
  "",
].join("\n");

describe("vpn/impls/strongswan/sas", () => {
  it("reads the IKE_SA, its virtual IP and its child SA's counters from list-sas", () => {
    const [sa, ...rest] = parseListSas(LIST_SAS);
    expect(rest).to.deep.equal([]);
    expect(sa).to.deep.include({ name: "vpn", state: "ESTABLISHED", localHost: "198.51.100.10", localPort: 4500, remotePort: 4500, localVips: ["172.29.0.2"] });
    expect(sa.children).to.deep.equal([{ name: "vpn", state: "INSTALLED", encap: true, bytesIn: 252, packetsIn: 3, bytesOut: 396, packetsOut: 6,
      localTs: ["172.29.0.2/32"], remoteTs: ["10.10.0.0/24", "10.20.0.0/16"] }]);
  });

  it("no SA: an empty list; broken text: an error naming it", () => {
    expect(parseListSas("list-sas reply {}\n")).to.deep.equal([]);
    expect(() => parseViciRaw("{a=1 b {c=2}")).to.throw(/unterminated/);
    expect(() => parseViciRaw("a=1}")).to.throw(/expected "\{"/);
  });

  it("knows the log lines that end the tunnel, and those that count DPD", () => {
    expect(downReason("12[IKE] giving up after 2 retransmits")).to.equal('dead peer: no answer after 3 tries (charon: "giving up after 2 retransmits")');
    expect(downReason("13[IKE] received DELETE for IKE_SA vpn[1]")).to.equal("the peer deleted IKE_SA vpn[1]");
    expect(downReason("11[IKE] retransmit 2 of request with message ID 16")).to.equal(undefined);
    expect(downReason("10[IKE] sending DPD request")).to.equal(undefined);
    expect(dpdLineKind("10[IKE] sending DPD request")).to.equal("sent");
    expect(dpdLineKind("13[ENC] parsed INFORMATIONAL response 28 [ ]")).to.equal("answered");
    expect(dpdLineKind("13[ENC] parsed INFORMATIONAL response 2 [ D ]")).to.equal(undefined); // a DELETE's answer
  });

  it("wire: counts UDP on the NAT-T port each way and reads the counters back by chain", () => {
    expect(wireRuleset(4500)).to.include("udp dport 4500 counter").and.include("udp sport 4500 counter").and.not.include("drop");
    expect(() => wireRuleset(0)).to.throw(/bad port/);
    const json = JSON.stringify({ nftables: [
      { metainfo: {} },
      { rule: { family: "inet", table: "t", chain: "in", expr: [{ match: {} }, { counter: { packets: 7, bytes: 900 } }] } },
      { rule: { family: "inet", table: "t", chain: "out", expr: [{ match: {} }, { counter: { packets: 5, bytes: 700 } }] } },
    ] });
    expect(parseWireCounters(json)).to.deep.equal({ sent: { packets: 5, bytes: 700 }, received: { packets: 7, bytes: 900 } });
    expect(() => parseWireCounters("{}")).to.throw(/not nft JSON/);
  });
});
