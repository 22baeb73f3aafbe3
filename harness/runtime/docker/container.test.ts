import { expect } from "chai";
import type { NodeSpec } from "../../topology/model";
import { LABEL, containerName, containerOptions, nsenterArgv } from "./container";

describe("runtime/docker: the node container", () => {
  const fw: NodeSpec = { name: "firewall", role: "firewall", links: [{ net: "edge", ip: { addr: "198.51.100.1", prefix: 24 } }], routes: [] };
  const client: NodeSpec = { name: "client", role: "vpn-client", links: [], routes: [] };
  const plan = { labId: "a1b2c", image: "vpnlab-node:abc", topology: "asa-ips", runDir: "/run/vpnlab/a1b2c", ownerPid: 42, ownerStart: "777" };

  it("is named like the node's namespace and carries every label gc and ls look for", () => {
    const o = containerOptions({ ...plan, node: fw });
    expect(o.name).to.equal("vl-a1b2c-firewall").and.equal(containerName("a1b2c", "firewall"));
    expect(o.Labels).to.deep.equal({
      [LABEL.lab]: "a1b2c",
      [LABEL.node]: "firewall",
      [LABEL.owner]: "42:777",
      [LABEL.topology]: "asa-ips",
      [LABEL.runtime]: "docker",
    });
  });

  it("has no Docker network, a sleeping init, the tun device and the lab's run directory at the same path", () => {
    const h = containerOptions({ ...plan, node: fw }).HostConfig!;
    expect(h.NetworkMode).to.equal("none");
    expect(h.Init).to.equal(true);
    expect(h.CapAdd).to.deep.equal(["NET_ADMIN", "NET_RAW"]);
    expect(h.Devices).to.deep.equal([{ PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" }]);
    expect(h.Binds).to.deep.equal(["/run/vpnlab/a1b2c:/run/vpnlab/a1b2c"]);
    expect(containerOptions({ ...plan, node: fw }).Cmd).to.deep.equal(["sleep", "infinity"]);
  });

  it("sets the sysctls of the node's role: a firewall forwards, a client does not", () => {
    expect(containerOptions({ ...plan, node: fw }).HostConfig!.Sysctls!["net.ipv4.ip_forward"]).to.equal("1");
    expect(containerOptions({ ...plan, node: client }).HostConfig!.Sysctls!["net.ipv4.ip_forward"]).to.equal("0");
  });

  it("enters every namespace of the container, and ties the program's life to its host child", () => {
    expect(nsenterArgv(1234, ["ocserv", "-f"])).to.deep.equal([
      "nsenter", "-t", "1234", "-m", "-u", "-i", "-n", "-p", "--", "setpriv", "--pdeathsig", "TERM", "--", "ocserv", "-f",
    ]);
  });
});
