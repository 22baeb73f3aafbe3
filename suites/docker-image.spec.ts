// The node image works as the Docker runtime needs it: inside a container of
// it (no network, NET_ADMIN + NET_RAW, /dev/net/tun) Node runs and loads the
// native addon (a raw socket opens), and the third-party programs the
// topologies use run: ocserv, openconnect, charon with kernel-libipsec,
// haproxy, nft, tcpdump, iproute2, conntrack. Uses the suites' engine
// (docker-engine.ts: DOCKER_HOST, else the default socket), building the
// image there if it is missing; without a reachable
// engine it is skipped, naming that — except in CI (CI=true), where it fails.
import { expect } from "chai";
import type Dockerode from "dockerode";
import { PassThrough } from "node:stream";
import { connectEngine, engineName, ensureImage, IMAGE_NODE, pingEngine } from "../harness/runtime/docker/image";
import { suiteEngine } from "./docker-engine";
import { testLab } from "./test-containers";

interface Ran {
  code: number;
  out: string;
}

/** Run argv in the container; stdout and stderr together (the version banners go to either). */
async function execIn(c: Dockerode.Container, argv: string[]): Promise<Ran> {
  const e = await c.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (b: Buffer) => chunks.push(b));
  c.modem.demuxStream(stream, sink, sink);
  await new Promise((resolve) => stream.on("end", resolve));
  const { ExitCode } = await e.inspect();
  return { code: ExitCode ?? -1, out: Buffer.concat(chunks).toString() };
}

describe("docker node image (vpnlab image build)", function () {
  this.timeout(600_000); // a cold build debootstraps (~3 min); a current image is found at once
  let container: Dockerode.Container | undefined;
  let lab: ReturnType<typeof testLab> | undefined;
  let tag = "";

  before(async function () {
    const url = suiteEngine();
    let why = "";
    try {
      await pingEngine(await connectEngine(url), url);
    } catch (e) {
      why = (e as Error).message;
    }
    if (why) {
      if (process.env.CI === "true") throw new Error(`CI needs a Docker engine for the node image: ${why}`);
      for (const t of this.test?.parent?.tests ?? []) t.title += ` (skipped: ${why})`;
      this.skip();
    }
    tag = await ensureImage(url);
    const docker = await connectEngine(url);
    // a lab's labels and a record of ours: gc leaves it while we run and sweeps it if this run is killed
    lab = testLab(url, "suites/docker-image");
    container = await docker.createContainer({
      name: `vl-${lab.labId}-test`,
      Image: tag,
      Cmd: ["sleep", "infinity"],
      Labels: lab.labels,
      HostConfig: { NetworkMode: "none", CapAdd: ["NET_ADMIN", "NET_RAW"], Devices: [{ PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" }] },
    });
    await container.start();
  });

  after(async () => {
    await container?.remove({ force: true });
    lab?.release();
  });

  const ok = async (argv: string[], expected: RegExp): Promise<string> => {
    const r = await execIn(container as Dockerode.Container, argv);
    const what = `${argv.join(" ")} in ${tag} on ${engineName(suiteEngine())}: exit ${r.code}\n${r.out}`;
    expect(r.code, what).to.equal(0);
    expect(r.out, what).to.match(expected);
    return r.out;
  };

  it("runs the host's Node, which loads the native addon and opens a raw socket", async () => {
    await ok([IMAGE_NODE, "--version"], new RegExp(`^${process.version.replace(/\./g, "\\.")}\\s*$`));
    const js = "const n = require('/opt/vpnlab/dist/harness/native.js'); const fd = n.rawSocket(6, true); n.closeFd(fd); console.log('raw socket fd', fd)";
    await ok(["node", "-e", js], /^raw socket fd \d+\s*$/);
  });

  it("runs ocserv, openconnect and certtool", async () => {
    await ok(["ocserv", "--version"], /^ocserv 1\.\d+/m);
    await ok(["openconnect", "--version"], /OpenConnect version v\d/);
    await ok(["certtool", "--version"], /certtool \d/);
    await ok(["openssl", "version"], /^OpenSSL 3\./);
  });

  it("starts charon with kernel-libipsec loaded (ESP in user space over TUN)", async () => {
    const conf = "charon {\n load = random nonce openssl kernel-libipsec kernel-netlink socket-default vici\n plugins { vici { socket = unix:///tmp/charon.vici } }\n}\n";
    // charon stays in the background of the exec's shell; the container's removal ends it
    const script = [
      `printf '%s' '${conf}' > /tmp/strongswan.conf`,
      "STRONGSWAN_CONF=/tmp/strongswan.conf /usr/lib/ipsec/charon > /tmp/charon.log 2>&1 &",
      "for i in $(seq 1 50); do swanctl --stats --uri unix:///tmp/charon.vici 2>/dev/null && exit 0; sleep 0.2; done",
      "cat /tmp/charon.log; exit 1",
    ].join("\n");
    await ok(["sh", "-c", script], /^loaded plugins: .*\bkernel-libipsec\b/m);
  });

  it("runs haproxy, nft (a ruleset in the container's namespace), tcpdump, ip, conntrack and ping", async () => {
    await ok(["haproxy", "-v"], /^HAProxy version 2\./m);
    await ok(["nft", "add", "table", "inet", "vlimage"], /^$/);
    await ok(["nft", "list", "ruleset"], /table inet vlimage/);
    await ok(["tcpdump", "--version"], /tcpdump version 4\./);
    await ok(["ip", "-V"], /iproute2/);
    await ok(["conntrack", "--version"], /conntrack v1\./);
    await ok(["ping", "-V"], /iputils/);
  });
});
