import { expect } from "chai";
import type { NodeSpec } from "../../topology/model";
import { LABEL, capsOfMask, cgroupProcsFiles, containerName, containerOptions, nsenterArgv, unescapeMountinfo } from "./container";

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

  it("enters every namespace of the container, joins its cgroups, keeps its capabilities only, and ties the program's life to its host child", () => {
    const argv = nsenterArgv(1234, ["ocserv", "-f"], { cgroupProcs: ["/sys/fs/cgroup/pids/docker/abc/cgroup.procs"], caps: ["cap_12", "cap_13"] });
    expect(argv.slice(0, 3)).to.deep.equal(["sh", "-c", argv[2]]);
    expect(argv.slice(3)).to.deep.equal([
      "vpnlab-cgroup", "/sys/fs/cgroup/pids/docker/abc/cgroup.procs", "--",
      "nsenter", "-t", "1234", "-m", "-u", "-i", "-n", "-p", "--",
      "setpriv", "--pdeathsig", "TERM", "--bounding-set", "-all,+cap_12,+cap_13", "--", "ocserv", "-f",
    ]);
  });

  it("reads the container's capability bounding set (here Docker's default set) as setpriv names", () => {
    expect(capsOfMask("00000000a80425fb")).to.deep.equal(["cap_0", "cap_1", "cap_3", "cap_4", "cap_5", "cap_6", "cap_7", "cap_8", "cap_10", "cap_13", "cap_18", "cap_27", "cap_29", "cap_31"]);
    expect(capsOfMask("0")).to.deep.equal([]);
  });

  it("finds the host's cgroup.procs of every hierarchy the container is in (v1 by controller, v2, name=systemd)", () => {
    const id = "/docker/a6d3";
    const procCgroup = [`9:name=systemd:${id}`, `8:pids:${id}`, `2:cpu,cpuacct:${id}`, `0::${id}`, "7:blkio:/"].join("\n");
    const mountinfo = [
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw",
      "42 31 0:39 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio",
      "50 31 0:36 /docker /mnt/elsewhere rw,relatime - cgroup cgroup rw,pids",
    ].join("\n");
    expect(cgroupProcsFiles(procCgroup, mountinfo)).to.deep.equal([
      `/sys/fs/cgroup/systemd${id}/cgroup.procs`,
      `/sys/fs/cgroup/pids${id}/cgroup.procs`,
      `/sys/fs/cgroup/cpu,cpuacct${id}/cgroup.procs`,
      `/sys/fs/cgroup/unified${id}/cgroup.procs`,
      "/sys/fs/cgroup/blkio/cgroup.procs",
    ]);
  });

  it("unescapes mountinfo's octal escapes (space, tab, newline, backslash) in mount points and roots", () => {
    expect(unescapeMountinfo("/mnt/my\\040cgroups\\011x\\012y\\134z")).to.equal("/mnt/my cgroups\tx\ny\\z");
    const mountinfo = "41 31 0:38 /lab\\040a /mnt/cg\\040root rw,relatime - cgroup2 cgroup2 rw";
    expect(cgroupProcsFiles("0::/lab a/c1", mountinfo)).to.deep.equal(["/mnt/cg root/c1/cgroup.procs"]);
  });

  it("reaches a cgroup through a subtree mount (root not /), the deepest one that holds it, and none outside every mount", () => {
    const mountinfo = [
      "50 31 0:38 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
      "51 31 0:38 /system.slice/docker.service /srv/dockercg rw - cgroup2 cgroup2 rw",
    ].join("\n");
    expect(cgroupProcsFiles("0::/system.slice/docker.service/c9", mountinfo)).to.deep.equal(["/srv/dockercg/c9/cgroup.procs"]);
    expect(cgroupProcsFiles("0::/system.slice/other", mountinfo)).to.deep.equal(["/sys/fs/cgroup/other/cgroup.procs"]);
    expect(cgroupProcsFiles("0::/system.slice", mountinfo)).to.deep.equal(["/sys/fs/cgroup/cgroup.procs"]);
    // a sibling whose name starts alike is not under the subtree; nothing reaches it, so nothing is returned
    expect(cgroupProcsFiles("0::/system.slicer/c1", mountinfo)).to.deep.equal([]);
    expect(cgroupProcsFiles("0::/user.slice/c1", mountinfo)).to.deep.equal([]);
  });
});
