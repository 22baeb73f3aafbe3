import { expect } from "chai";
import { parseTopology } from "./load";

// probe.stream-rate: the tcp-stream flow's offered rate (a rate limit can only be measured by a stream that offers more)
const doc = (probe: string) => `name: small
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 10.0.0.2/24, gw: 10.0.0.1 }] }
  headend: { role: vpn-headend, links: [{ net: home, ip: 10.0.0.1/24 }, { net: corp, ip: 10.1.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.1.0.2/24, gw: 10.1.0.1 }] }
vpn: { client: client, headend: headend, transport: ctcp }
probe: { from: client, to: server, rate: 20${probe} }
expect: survives
variants:
  fast: { probe: { stream-rate: 5mbit } }
`;

describe("topology loader: probe stream-rate", () => {
  it("is the tcp-stream's offered rate in kbit/s, absent by default, a variant may set it", () => {
    const t = parseTopology(doc(", flows: [udp-echo, tcp-stream]"), "s.yaml");
    expect(t.base.probe.streamKbit).to.equal(undefined);
    expect(t.variants.get("fast")?.probe.streamKbit).to.equal(5000);
    expect(parseTopology(doc(", flows: [tcp-stream, udp-echo], stream-rate: 2mbit"), "s.yaml").base.probe.streamKbit).to.equal(2000);
  });

  it("a bad value, a rate beyond 100mbit, or a stream-rate without the tcp-stream flow: file:line:col naming the key", () => {
    expect(() => parseTopology(doc(", flows: [tcp-stream], stream-rate: 2mb"), "s.yaml")).to.throw(/s\.yaml:7:\d+: .*"2mb" is not a bandwidth/);
    expect(() => parseTopology(doc(", flows: [tcp-stream], stream-rate: 1gbit"), "s.yaml")).to.throw(/s\.yaml:7:\d+: probe\.stream-rate: 1000000 kbit\/s is more than a lab probe offers/);
    expect(() => parseTopology(doc(", stream-rate: 2mbit"), "s.yaml")).to.throw(/s\.yaml:7:\d+: probe\.stream-rate: the tcp-stream flow's offered rate needs tcp-stream in flows — add it, or remove stream-rate/);
  });
});
