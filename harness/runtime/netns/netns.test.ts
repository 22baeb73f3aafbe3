import { expect } from "chai";
import type { NodeSpec } from "../../topology/model";
import { bridgeNamespace, nodeConfigBatch, nodeNamespace, nodeSysctls } from "../links";

describe("runtime/netns", () => {
  const wan: NodeSpec = {
    name: "wan",
    role: "router",
    links: [
      { net: "home", ip: { addr: "203.0.113.1", prefix: 24 } },
      { net: "edge", ip: { addr: "198.51.100.2", prefix: 24 }, gw: "198.51.100.1" },
    ],
    routes: [{ to: { addr: "192.0.2.0", prefix: 24 }, via: "198.51.100.1" }],
  };

  it("names every namespace with the lab id, so two labs never collide and gc finds them", () => {
    expect(nodeNamespace("a1b2c", "client")).to.equal("vl-a1b2c-client");
    expect(bridgeNamespace("a1b2c", "home")).to.equal("vl-a1b2c-net-home");
  });

  it("configures addresses, the default gateway and static routes as one ip batch", () => {
    expect(nodeConfigBatch(wan)).to.deep.equal([
      "address add 203.0.113.1/24 dev home",
      "link set dev home up",
      "address add 198.51.100.2/24 dev edge",
      "link set dev edge up",
      "route add default via 198.51.100.1 dev edge",
      "route add 192.0.2.0/24 via 198.51.100.1",
    ]);
  });

  it("forwards on routers, firewalls and headends only; IPv6 off everywhere", () => {
    expect(nodeSysctls("router")["net.ipv4.ip_forward"]).to.equal("1");
    expect(nodeSysctls("firewall")["net.ipv4.ip_forward"]).to.equal("1");
    expect(nodeSysctls("vpn-headend")["net.ipv4.ip_forward"]).to.equal("1");
    expect(nodeSysctls("vpn-client")["net.ipv4.ip_forward"]).to.equal("0");
    expect(nodeSysctls("host")["net.ipv4.ip_forward"]).to.equal("0");
    expect(nodeSysctls("host")["net.ipv6.conf.all.disable_ipv6"]).to.equal("1");
  });
});
