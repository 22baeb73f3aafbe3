import { expect } from "chai";
import * as fs from "node:fs";
import { run } from "../../../exec";
import { NetnsRuntime, namespacePids } from "../../../runtime/netns/netns";
import { labDir, newLabId, processStart, removeState, writeState, type LabState } from "../../../runtime/state";
import { PhaseStates } from "../../../phase-state";
import { isRoot } from "../../../testkit/netns";
import { parseTopology } from "../../../topology/load";
import type { Scenario } from "../../../topology/model";
import { contains } from "../../../topology/units";
import type { ImplContext, TunnelHandle } from "../../impl";
import { tunnelPlan } from "../../plan";
import {
  DPD_OFF_S,
  dpdMapping,
  OPENCONNECT_MIN_DPD_S,
  ocservConf,
  ocservPaths,
  openconnectArgv,
  parseLinkStats,
  parseOcctlUsers,
  parseOcservDisconnect,
  ssStreamBytes,
  VPN_USER,
} from "./config";
import { ocserv } from "./index";

// client — headend — server: the headend protects corp (10.1.0.0/24), reached only through its second link
const TOPOLOGY = `name: ocserv-small
nodes:
  client:  { role: vpn-client,  links: [{ net: home, ip: 10.0.0.2/24, gw: 10.0.0.1 }] }
  headend: { role: vpn-headend, links: [{ net: home, ip: 10.0.0.1/24 }, { net: corp, ip: 10.1.0.1/24 }] }
  server:  { role: host,        links: [{ net: corp, ip: 10.1.0.2/24, gw: 10.1.0.1 }] }
vpn: { client: client, headend: headend, transport: anyconnect, impl: ocserv, port: 8443, pool: 172.29.0.0/24, dpd: { interval: 1s, retries: 3 } }
probe: { from: client, to: server, rate: 20 }
expect: survives
variants:
  dtls: { vpn: { dtls: true, dpd: off } }
`;

const topology = parseTopology(TOPOLOGY, "ocserv.test.ts");
const BASE = topology.base;
const DTLS = topology.variants.get("dtls") as Scenario;

describe("vpn/impls/ocserv configuration", () => {
  const paths = ocservPaths("/run/vpnlab/abcde");
  const conf = (s: Scenario): string =>
    ocservConf({ paths, certPath: "/run/vpnlab/abcde/c.pem", keyPath: "/run/vpnlab/abcde/k.pem", listenIp: "10.0.0.1", port: s.vpn.port,
      dtls: s.vpn.dtls, pool: s.vpn.pool, routes: tunnelPlan(s).protectedNets, dpd: dpdMapping(s.vpn.dpd) });

  it("opens UDP only with dtls, routes the headend's inside nets, keeps every file under the lab's directory", () => {
    const tls = conf(BASE);
    const dtls = conf(DTLS);
    expect(tls).to.contain("tcp-port = 8443\n").and.not.match(/udp-port/);
    expect(dtls).to.contain("udp-port = 8443\n");
    expect(tls).to.contain("route = 10.1.0.0/255.255.255.0\n").and.contain("ipv4-network = 172.29.0.0/24\n");
    expect(tls.match(/^route = /gm), "only corp is behind the headend").to.have.length(1);
    const files = [...tls.matchAll(/^[a-z-]+(?:-file|-cert|-key) = (.*)$/gm)].map((m) => m[1]);
    expect(files, tls).to.have.length.greaterThan(3);
    for (const f of files) expect(f).to.match(/^\/run\/vpnlab\/abcde\//);
    expect(tls).to.not.match(/\/etc\/|chroot/);
    // ocserv would otherwise record every session in the host's utmp/wtmp (the namespace isolates mounts, not files)
    expect(tls).to.contain("use-utmp = false\n");
  });

  it("maps DPD to whole seconds, at least 2 (openconnect floods at 1), and off to a year (ocserv reads 0 as its 90 s default)", () => {
    expect(dpdMapping({ intervalMs: 3000, retries: 3 })).to.deep.equal({ off: false, dpdS: 3, keepaliveS: 3, notes: [] });
    const one = dpdMapping({ intervalMs: 1000, retries: 3 });
    expect(one).to.include({ off: false, dpdS: OPENCONNECT_MIN_DPD_S, keepaliveS: OPENCONNECT_MIN_DPD_S });
    expect(one.notes.join(" ")).to.match(/raised to 2 s/).and.not.match(/rounded|retries/);
    expect(conf(BASE)).to.contain("dpd = 2\n").and.contain("mobile-dpd = 2\n");
    const odd = dpdMapping({ intervalMs: 1500, retries: 5 });
    expect(odd.dpdS).to.equal(2);
    expect(odd.notes.join(" ")).to.match(/rounded up to 2 s/).and.match(/retries 5/).and.not.match(/raised/);
    expect(dpdMapping({ intervalMs: 2500, retries: 3 }).dpdS).to.equal(3);
    expect(dpdMapping(null)).to.include({ off: true, dpdS: DPD_OFF_S, keepaliveS: DPD_OFF_S });
    expect(conf(DTLS)).to.contain(`dpd = ${DPD_OFF_S}\n`).and.contain(`mobile-dpd = ${DPD_OFF_S}\n`);
  });

  it("runs openconnect with the pin and the hook, and --no-dtls without dtls", () => {
    const o = { headendIp: "10.0.0.1", port: 8443, pin: "AAAA", hook: paths.hook };
    const tls = openconnectArgv({ ...o, dtls: false });
    expect(tls).to.include.members(["--protocol=anyconnect", "--servercert=pin-sha256:AAAA", `--script=${paths.hook}`, "--interface=tun-vpn",
      "--passwd-on-stdin", "--non-inter", "--no-dtls"]);
    expect(tls[tls.length - 1]).to.equal("10.0.0.1:8443");
    expect(openconnectArgv({ ...o, dtls: true })).to.not.include("--no-dtls");
  });

  it("parses ocserv's disconnect line, ss stream bytes, link statistics and occtl users", () => {
    expect(parseOcservDisconnect("ocserv[16342]: main[vpnlab]:10.0.0.2:48158 user disconnected (reason: user disconnected, rx: 264, tx: 568)"))
      .to.deep.equal({ peer: "10.0.0.2:48158", reason: "user disconnected" });
    expect(parseOcservDisconnect("ocserv[1]: main: initialized ocserv 1.1.6")).to.equal(undefined);
    const ss = "ESTAB 0 0 10.0.0.2:40000 10.0.0.1:8443\n\t cubic bytes_sent:1200 bytes_acked:1201 bytes_received:3400 segs_out:9\n";
    expect(ssStreamBytes(ss)).to.deep.equal({ sent: 1200, received: 3400 });
    expect(parseLinkStats('[{"ifname":"tun-vpn","stats64":{"rx":{"bytes":84,"packets":1},"tx":{"bytes":168,"packets":2}}}]'))
      .to.deep.equal({ rxPackets: 1, txPackets: 2, rxBytes: 84, txBytes: 168 });
    expect(parseLinkStats("")).to.equal(undefined);
    expect(parseOcctlUsers('[{"Username":"vpnlab","Device":"vpns0"}]')).to.deep.equal([{ Username: "vpnlab", Device: "vpns0" }]);
    expect(parseOcctlUsers("error")).to.deep.equal([]);
  });
});

/** What of the host a tunnel must leave alone. */
async function hostSnapshot(): Promise<string> {
  const resolv = fs.readFileSync("/etc/resolv.conf").toString("base64");
  const v4 = (await run(["ip", "-4", "route", "show", "table", "all"])).stdout;
  const v6 = (await run(["ip", "-6", "route", "show", "table", "all"], { allowFailure: true })).stdout;
  return `${resolv}\n${v4}\n${v6}`;
}

describe("vpn/impls/ocserv ocserv and openconnect between namespaces (root)", function () {
  this.timeout(60000);
  let runtime: NetnsRuntime | undefined;
  let state: LabState | undefined;

  before(async function () {
    if (!isRoot()) this.skip(); // needs root: namespaces, tun devices, daemons
    const labId = newLabId();
    state = { labId, runtime: "netns", topology: BASE.name, variant: "test", file: BASE.file, ownerPid: process.pid, holder: "run",
      ownerStart: processStart(process.pid) ?? "", created: new Date().toISOString(), namespaces: [], pids: [] };
    writeState(state);
    runtime = new NetnsRuntime(labId, state);
    for (const n of BASE.nodes) await runtime.createNode(n);
    for (const net of BASE.nets) await runtime.createNet(net);
    for (const n of BASE.nodes) await runtime.configureNode(n);
  });
  after(async () => {
    await runtime?.destroy();
    if (state) removeState(state.labId);
  });

  const rt = (): NetnsRuntime => runtime as NetnsRuntime;
  const context = (scenario: Scenario, faults: string[]): ImplContext => ({
    scenario,
    runtime: rt(),
    dir: labDir(rt().labId),
    agent: () => Promise.reject(new Error("ocserv drives no agent")),
    reportFault: (piece, why) => faults.push(`${piece} ${why}`),
    log: () => undefined,
  });
  const labPids = async (): Promise<number[]> => (await Promise.all(BASE.nodes.map((n) => namespacePids(rt().netnsName(n.name))))).flat();

  /** The one process named `comm` in a node's namespace (openconnect writes no pid file in the foreground; workers have none). */
  const pidOf = async (node: string, comm: string): Promise<number> => {
    const pids = await namespacePids(rt().netnsName(node));
    const found = pids.filter((p) => fs.readFileSync(`/proc/${p}/comm`, "utf8").trim() === comm);
    expect(found, `${comm} among ${node} namespace pids ${pids.join(" ")}`).to.have.length(1);
    return found[0];
  };
  const openconnectPid = (): Promise<number> => pidOf("client", "openconnect");

  for (const [label, scenario] of [["TLS only (dtls false, dpd 1 s, run as 2 s)", BASE], ["with DTLS (dtls true, dpd off)", DTLS]] as const) {
    it(`carries a ping from client to server through the tunnel, ${label}, and leaves nothing behind`, async () => {
      const before = await hostSnapshot();
      const faults: string[] = [];
      let handle: TunnelHandle | undefined;
      try {
        handle = await ocserv.start(context(scenario, faults));
        expect(contains(scenario.vpn.pool, handle.inner), `inner ${handle.inner} in pool`).to.equal(true);
        const udp = (await rt().exec("headend", ["ss", "-lunH", "sport", "=", `:${scenario.vpn.port}`])).stdout.trim();
        expect(udp !== "", `ocserv UDP listener with dtls ${scenario.vpn.dtls}: ${JSON.stringify(udp)}`).to.equal(scenario.vpn.dtls);

        const c0 = await handle.counters("client");
        const h0 = await handle.counters("headend");
        const ping = await rt().exec("client", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.1.0.2"], { allowFailure: true });
        const c1 = await handle.counters("client");
        const h1 = await handle.counters("headend");
        const replies = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
        const sent = c1.innerSent - c0.innerSent;
        const back = c1.innerReceived - c0.innerReceived;
        const headIn = h1.innerReceived - h0.innerReceived;
        const msg = `replies ${replies}/3; client tun sent ${sent} received ${back}; headend ${String(h1.detail.device)} received ${headIn}; ` +
          `client ${JSON.stringify(c1)}; headend ${JSON.stringify(h1)}\n${ping.stdout}${ping.stderr}`;
        expect(replies, msg).to.equal(3);
        // each echo and its reply crossed the tunnel devices, not the plain route through the headend
        expect(sent, msg).to.be.at.least(3);
        expect(back, msg).to.be.at.least(3);
        expect(headIn, msg).to.be.at.least(3);
        expect(c1.wireBytesSent, msg).to.be.greaterThan(0);
        expect(c1.detail.dtlsEstablished, msg).to.equal(scenario.vpn.dtls);
        expect(h1.detail.dtlsCipher !== "", msg).to.equal(scenario.vpn.dtls);
        expect(h1.detail.occtlDpd, msg).to.equal(String(dpdMapping(scenario.vpn.dpd).dpdS));
        // the state the scenario stores at a phase end: ocserv's own session list, with our user connected
        const states = new PhaseStates(() => handle!.state!(), Date.now());
        states.now("baseline");
        const [st] = await states.all();
        const users = JSON.parse(st.state?.["occtl show users"] ?? "[]") as Record<string, unknown>[];
        expect(users.map((u) => [u["Username"], u["State"]]), JSON.stringify(st)).to.deep.equal([[VPN_USER, "connected"]]);
      } finally {
        await handle?.stop();
      }
      const left = await labPids();
      expect(left, `processes left in the lab's namespaces: ${left.join(" ")}`).to.deep.equal([]);
      expect(handle.downs(), JSON.stringify(handle.downs())).to.deep.equal([]);
      expect(faults).to.deep.equal([]);
      expect(await hostSnapshot(), "/etc/resolv.conf and the host's routes").to.equal(before);
    });
  }

  it("sees ocserv end the session by DPD when the client falls silent (dpd 1 s, run as 2 s)", async () => {
    const faults: string[] = [];
    const handle = await ocserv.start(context(BASE, faults));
    const pid = await openconnectPid();
    const t0 = Date.now();
    try {
      process.kill(pid, "SIGSTOP"); // openconnect, which this test started: it stops answering DPD
      const down = await new Promise<string>((resolve) => {
        handle.onDown((d) => resolve(`${d.side}: ${d.reason}`));
        setTimeout(() => resolve(`no down within 25 s: ${JSON.stringify(handle.downs())}\n${handle.logs().ocserv}`), 25000).unref();
      });
      expect(down, `${down} after ${Date.now() - t0} ms`).to.match(/^headend: ocserv: client 10\.0\.0\.2:\d+ disconnected \(/);
    } finally {
      process.kill(pid, "SIGCONT");
      await handle.stop();
    }
    expect(faults).to.deep.equal([]);
    expect(await labPids()).to.deep.equal([]);
  });

  it("sends a few DPD requests, not a flood, while ocserv does not answer (dpd 1 s runs as 2 s)", async () => {
    const faults: string[] = [];
    const handle = await ocserv.start(context(BASE, faults));
    const worker = await pidOf("headend", "ocserv-worker");
    let sent = -1;
    let msg = "";
    try {
      const c0 = await handle.counters("client");
      process.kill(worker, "SIGSTOP"); // ocserv's worker for this session, which this test started: no DPD answer comes
      // shorter than openconnect's give-up (2 x dpd, whole seconds): its DPD requests are repeated, not fatal
      await new Promise((r) => setTimeout(r, 2500));
      const c1 = await handle.counters("client");
      process.kill(worker, "SIGCONT");
      sent = c1.wireBytesSent - c0.wireBytesSent;
      msg = `client stream bytes sent during a 2.5 s unanswered stall: ${sent}; downs ${JSON.stringify(handle.downs())}; ` +
        `client ${JSON.stringify(c1)}\n${handle.logs().openconnect}`;
    } finally {
      process.kill(worker, "SIGCONT");
      await handle.stop();
    }
    // a DPD request or keepalive is one 37-byte TLS record; at dpd 1 s openconnect sent them back to back (tens of kB here)
    expect(sent, msg).to.be.within(0, 1000);
    expect(handle.downs(), msg).to.deep.equal([]);
    expect(faults).to.deep.equal([]);
  });

  it("reports openconnect's death before stop() as a fault and a down", async () => {
    const faults: string[] = [];
    const handle = await ocserv.start(context(BASE, faults));
    try {
      const pid = await openconnectPid();
      process.kill(pid, "SIGKILL"); // openconnect, which this test started
      for (let i = 0; i < 50 && faults.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(faults.join("; ")).to.match(/^openconnect on client \(pid \d+\) exited \(SIGKILL\)$/);
      expect(handle.downs().map((d) => `${d.side}: ${d.reason}`)).to.include("client: openconnect exited (SIGKILL)");
    } finally {
      await handle.stop();
    }
    expect(await labPids()).to.deep.equal([]);
  });
});
