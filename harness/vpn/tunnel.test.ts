// The Tunnel's dead-peer-detection wiring, end to end: two agents (the
// program every lab node runs), each in its own throwaway namespace, a natt
// tunnel between them over a veth pair, TUN devices, and nftables to stall
// one direction. harness/vpn/dpd.test.ts covers the Dpd rules themselves.
import { expect } from "chai";
import type { AgentClient } from "../agent/client";
import type { AgentEvent, TunnelConfig } from "../agent/protocol";
import { nftDropCount } from "../impair/testkit";
import { generateSaKeys, saKeysToJson } from "./esp";
import { until, useAgentPair } from "./transports/testkit";

const PORT = 4500;
const POOL = { addr: "172.29.0.0", prefix: 24 };
const HEADEND_INNER = "172.29.0.1";
const ECHO_PORT = 7;
const BLOCK_TABLE = "vlt_tunnel_block";

interface TunnelStats {
  state: "connecting" | "up" | "down";
  espSent: number;
  espAccepted: number;
  dpdSent: number;
  dpdAcked: number;
  droppedWhileDown: number;
}

type Dpd = TunnelConfig["dpd"];
type Down = Extract<AgentEvent, { event: "tunnel-down" }>;

describe("vpn/tunnel dead-peer detection (root; two agents, natt, two namespaces)", function () {
  this.timeout(60000);
  const { pair, startAgent } = useAgentPair();

  /** Client in namespace a, headend in b; resolves when the client reports the tunnel up. */
  async function tunnel(clientDpd: Dpd, headendDpd: Dpd): Promise<{ client: AgentClient; headend: AgentClient }> {
    const p = pair();
    const c2h = saKeysToJson(generateSaKeys());
    const h2c = saKeysToJson(generateSaKeys());
    const common = { transport: "natt", headendIp: p.ipB, port: PORT, pool: POOL, tunName: "tun-vpn", mtu: 1300 } as const;
    const headend = await startAgent(p.b, "headend");
    const client = await startAgent(p.a, "client");
    await headend.request({ cmd: "tunnel", config: { ...common, side: "headend", localIp: p.ipB, routes: [], dpd: headendDpd, out: h2c, in: c2h } });
    await headend.request({ cmd: "echo-server", port: ECHO_PORT });
    await client.request({ cmd: "tunnel", config: { ...common, side: "client", localIp: p.ipA, routes: [], dpd: clientDpd, out: c2h, in: h2c } });
    const ev = await client.waitFor((e) => e.event === "tunnel-up" || e.event === "tunnel-error", 15000, "client tunnel-up");
    expect(ev.event, JSON.stringify(ev)).to.equal("tunnel-up");
    return { client, headend };
  }

  const stats = async (a: AgentClient): Promise<TunnelStats> => (await a.request<{ tunnel: TunnelStats }>({ cmd: "stats" })).tunnel;
  const echoed = async (a: AgentClient): Promise<number> => (await a.request<{ echoed?: number }>({ cmd: "stats" })).echoed ?? 0;
  const downs = (a: AgentClient): AgentEvent[] => a.events.filter((e) => e.event === "tunnel-down");

  /** Wait until a counter of the agent's tunnel stats reaches `atLeast`. */
  const counterAtLeast = (a: AgentClient, key: keyof TunnelStats, atLeast: number, ms = 15000): Promise<TunnelStats> =>
    until(
      `${a.node} ${key} >= ${atLeast}`,
      async () => {
        const s = await stats(a);
        return (s[key] as number) >= atLeast ? s : undefined;
      },
      ms,
      () => stats(a),
    );

  /** Drop what `from` sends to the natt port of `to` (at `to`'s input, like a loss on the path). */
  async function block(ns: string, from: string, match: "dport" | "sport"): Promise<void> {
    const rules = [`table inet ${BLOCK_TABLE} {`, "  chain in {", "    type filter hook input priority 0; policy accept;", `    ip saddr ${from} udp ${match} ${PORT} counter drop`, "  }", "}", ""];
    await pair().exec.exec(ns, ["nft", "-f", "-"], { input: rules.join("\n") });
  }
  const unblock = (ns: string) => pair().exec.exec(ns, ["nft", "delete", "table", "inet", BLOCK_TABLE]);

  it("probes only after an interval of silence: inbound data and R-U-THERE-ACKs both count as proof", async () => {
    // 300 ms: only an agent frozen for 300 ms with data flowing at 100/s could probe while data flows
    const dpd = { intervalMs: 300, retries: 3 };
    const { client, headend } = await tunnel(dpd, dpd);
    await client.request({ cmd: "probe-start", config: { to: HEADEND_INNER, port: ECHO_PORT, ratePerSec: 100, payloadBytes: 64 } });
    await until("echoes flowing", async () => ((await echoed(headend)) >= 5 ? true : undefined));
    const c0 = await stats(client);
    const h0 = await stats(headend);
    // ~1.2 s of data both ways: four DPD intervals in which neither side may probe
    const n0 = await echoed(headend);
    await until("120 more echoes", async () => ((await echoed(headend)) >= n0 + 120 ? true : undefined), 20000);
    const c1 = await stats(client);
    const h1 = await stats(headend);
    expect(c1.dpdSent - c0.dpdSent, `client probes while data flowed: ${JSON.stringify({ c0, c1 })}`).to.equal(0);
    expect(h1.dpdSent - h0.dpdSent, `headend probes while data flowed: ${JSON.stringify({ h0, h1 })}`).to.equal(0);

    await client.request({ cmd: "probe-stop", graceMs: 100 });
    // silence: now both probe; with retries 3, a fifth probe on a live tunnel means the ACKs were taken as proof
    const c2 = await counterAtLeast(client, "dpdSent", c1.dpdSent + dpd.retries + 2);
    const h2 = await counterAtLeast(headend, "dpdSent", h1.dpdSent + dpd.retries + 2);
    expect(c2.dpdAcked, JSON.stringify(c2)).to.be.at.least(dpd.retries + 1);
    expect(h2.dpdAcked, JSON.stringify(h2)).to.be.at.least(dpd.retries + 1);
    expect([c2.state, h2.state]).to.deep.equal(["up", "up"]);
    expect(downs(client).concat(downs(headend)), "no side declared the peer dead").to.deep.equal([]);
  });

  it("a one-way stall: the side that still hears the peer's R-U-THEREs but gets no answer declares down, and stays down", async () => {
    const clientDpd = { intervalMs: 200, retries: 3 };
    // the headend probes often and gives up late: its R-U-THEREs keep reaching the client all through the stall
    const { client, headend } = await tunnel(clientDpd, { intervalMs: 100, retries: 1000 });
    const p = pair();
    await counterAtLeast(client, "dpdAcked", 1); // the probe exchange works both ways before the stall

    await block(p.b, p.ipA, "dport"); // nothing from the client reaches the headend
    const c0 = await stats(client);
    const down = await client.waitFor<Down>((e) => e.event === "tunnel-down", 15000, "client tunnel-down");
    const c1 = await stats(client);
    expect(down.reason).to.equal("dead peer: 3 R-U-THERE unanswered, 200 ms apart");
    expect(down.missed).to.equal(clientDpd.retries);
    expect(c1.state).to.equal("down");
    // the headend's own R-U-THEREs arrived, authenticated, during the stall, and were not taken as proof
    expect(c1.espAccepted - c0.espAccepted, `R-U-THEREs the client accepted while stalled: ${JSON.stringify({ c0, c1 })}`).to.be.at.least(2);
    expect(await nftDropCount(p.exec, p.b, BLOCK_TABLE), "packets the block dropped").to.be.greaterThan(0);

    await unblock(p.b);
    const h0 = await stats(headend);
    // after the block: the client's traffic is dropped at its TUN, nothing reaches the headend, no tunnel-up again
    await client.request({ cmd: "probe-start", config: { to: HEADEND_INNER, port: ECHO_PORT, ratePerSec: 100, payloadBytes: 64 } });
    const c2 = await counterAtLeast(client, "droppedWhileDown", 20);
    await counterAtLeast(headend, "dpdSent", h0.dpdSent + 3); // and the headend's probes still reach the client
    const c3 = await stats(client);
    const h1 = await stats(headend);
    expect(c3.state).to.equal("down");
    expect(c3.espAccepted, "the dead client takes nothing in").to.equal(c1.espAccepted);
    expect(c2.espSent, "the dead client sends nothing").to.equal(c1.espSent);
    expect(h1.espAccepted, `the headend heard nothing after the block was lifted: ${JSON.stringify({ h0, h1 })}`).to.equal(h0.espAccepted);
    expect(downs(client)).to.have.length(1);
    expect(client.events.filter((e) => e.event === "tunnel-up")).to.have.length(1);
  });

  it("dpd: null sends no R-U-THERE and never declares the tunnel down, across a long two-way stall", async () => {
    const { client, headend } = await tunnel(null, null);
    const p = pair();
    await block(p.b, p.ipA, "dport");
    await block(p.a, p.ipB, "sport");
    const c0 = await stats(client);
    await client.request({ cmd: "probe-start", config: { to: HEADEND_INNER, port: ECHO_PORT, ratePerSec: 100, payloadBytes: 64 } });
    // 200 packets into the void: about 2 s, more than ten times what DPD at 150 ms x 3 would need
    await counterAtLeast(client, "espSent", c0.espSent + 200, 30000);
    const c1 = await stats(client);
    const h1 = await stats(headend);
    expect(await nftDropCount(p.exec, p.b, BLOCK_TABLE), "the stall was real").to.be.at.least(200);
    expect([c1.dpdSent, h1.dpdSent], "R-U-THEREs sent (client, headend)").to.deep.equal([0, 0]);
    expect([c1.state, h1.state]).to.deep.equal(["up", "up"]);
    expect(downs(client).concat(downs(headend))).to.deep.equal([]);
  });
});
