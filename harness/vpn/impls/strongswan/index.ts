// natt with `impl: strongswan`: one charon per end (IKEv2, a pre-shared key
// made per lab, ESP in UDP forced, kernel-libipsec doing ESP in user space on
// a TUN device), each with its own strongswan.conf, vici socket and private
// /run. Up is the client's CHILD_SA INSTALLED in `swanctl --list-sas`; downs
// come from charon's own log; counters from the TUN device, the SAs and an
// nftables counter of the NAT-T port.
import { randomBytes } from "node:crypto";
import type { ImplContext, Side, TunnelCounters, TunnelDown, TunnelHandle, VpnImplementation } from "../../impl";
import { tunnelPlan } from "../../plan";
import { waitUntil } from "../../../wait";
import { Charon } from "./charon";
import { CONN, charonDpd, strongswanConf, swanctlConf } from "./config";
import type { IkeSa } from "./sas";
import { strongswanSpec } from "./spec";

const UP_TIMEOUT_MS = 20_000;
const LOG_POLL_MS = 200;

const installed = (sas: IkeSa[]): IkeSa | undefined =>
  sas.find((sa) => sa.name === CONN && sa.state === "ESTABLISHED" && sa.children.some((c) => c.state === "INSTALLED"));

export const strongswan: VpnImplementation = {
  ...strongswanSpec,
  async start(ctx: ImplContext): Promise<TunnelHandle> {
    const { vpn } = ctx.scenario;
    if (vpn.transport !== "natt") throw new Error(`the strongswan implementation has no ${vpn.transport} transport (natt only)`);
    const plan = tunnelPlan(ctx.scenario);
    const dpd = charonDpd(vpn.dpd);
    const psk = randomBytes(32).toString("base64");
    const ends: Record<Side, Charon> = { headend: new Charon(ctx, "headend", vpn.headend), client: new Charon(ctx, "client", vpn.client) };
    const common = { port: vpn.port, psk, protectedNets: plan.protectedNets, pool: vpn.pool, dpd };
    const what = `the strongswan natt tunnel from ${vpn.client} to ${vpn.headend} did not come up`;
    const tails = (): string =>
      (["client", "headend"] as const).map((s) => `\n--- ${ends[s].paths.log} (last lines)\n${ends[s].logTail(20)}`).join("");

    let client: IkeSa;
    try {
      const h = ends.headend;
      await h.start(strongswanConf({ viciUri: h.paths.viciUri, port: vpn.port, dpd }),
        swanctlConf({ ...common, side: "headend", localId: vpn.headend, remoteId: vpn.client, localAddr: plan.headendIp, remoteAddr: "%any" }), vpn.port);
      const c = ends.client;
      await c.start(strongswanConf({ viciUri: c.paths.viciUri, port: vpn.port, dpd }),
        swanctlConf({ ...common, side: "client", localId: vpn.client, remoteId: vpn.headend, localAddr: plan.clientIp, remoteAddr: plan.headendIp }), vpn.port);
      ctx.log(`strongswan: charon up on ${vpn.headend} (pid ${h.pid}) and ${vpn.client} (pid ${c.pid}); initiating`);
      // blocks until the CHILD_SA is established or charon gives up (its retransmission budget)
      await c.swanctl(["--initiate", "--child", CONN, "--timeout", String(UP_TIMEOUT_MS / 1000)], UP_TIMEOUT_MS + 2000);
      // either charon exiting ends the wait at once
      const daemons = [c.process, h.process].filter((p) => p !== undefined);
      client = await waitUntil(async () => installed(await c.listSas()), { what: `the client's CHILD_SA ${CONN} INSTALLED`, timeoutMs: UP_TIMEOUT_MS, process: daemons });
      await waitUntil(async () => installed(await h.listSas()), { what: `the headend's CHILD_SA ${CONN} INSTALLED`, timeoutMs: UP_TIMEOUT_MS, process: daemons });
    } catch (e) {
      await Promise.allSettled([ends.client.stop(), ends.headend.stop()]);
      throw new Error(`${what}: ${(e as Error).message}${tails()}`);
    }
    const upAt = Date.now();
    const inner = client.localVips[0];
    if (!inner) {
      await Promise.allSettled([ends.client.stop(), ends.headend.stop()]);
      throw new Error(`${what}: the client's IKE_SA has no virtual IP${tails()}`);
    }

    const downs: TunnelDown[] = [];
    const listeners = new Set<(d: TunnelDown) => void>();
    const isDown: Record<Side, boolean> = { client: false, headend: false };
    let stopping: Promise<void> | undefined;
    const readLogs = (): void => {
      for (const side of ["client", "headend"] as const) {
        for (const reason of ends[side].readLog()) {
          if (stopping || isDown[side]) continue; // one IKE_SA per side: it ends once
          isDown[side] = true;
          const d: TunnelDown = { side, at: Date.now(), reason };
          downs.push(d);
          for (const l of listeners) l(d);
        }
      }
    };
    readLogs(); // what the log holds up to now (TUN device, DPD so far)
    const timer = setInterval(readLogs, LOG_POLL_MS);
    timer.unref();
    for (const side of ["client", "headend"] as const) {
      const e = ends[side];
      e.onExit((why) => {
        if (!stopping) ctx.reportFault(e.piece, `${why}; last log lines:\n${e.logTail(10)}`);
      });
      if (e.exited && !stopping) ctx.reportFault(e.piece, e.exited);
    }

    const counters = async (side: Side): Promise<TunnelCounters> => {
      const e = ends[side];
      readLogs();
      const [sas, tun, wire] = await Promise.all([e.exited ? [] : e.listSas(), e.tun(), e.wire()]);
      const sa = sas.find((s) => s.name === CONN);
      return {
        innerSent: tun?.txPackets ?? 0, // the kernel handed it to charon through the TUN device
        innerReceived: tun?.rxPackets ?? 0,
        wireBytesSent: wire.sent.bytes,
        wireBytesReceived: wire.received.bytes,
        dpdSent: e.dpdSent,
        dpdAcked: e.dpdAnswered,
        detail: { ike: sa ?? "none", tunDevice: e.tunDevice, tun, wire, charonDpd: dpd, charon: e.exited ?? "running" },
      };
    };

    return {
      inner,
      upAt,
      downs: () => [...downs],
      onDown: (l) => void listeners.add(l),
      counters,
      logs: () => ({ "charon-client": ends.client.logTail(), "charon-headend": ends.headend.logTail() }),
      // each charon's own view of its SAs
      state: async () => {
        const out: Record<string, string> = {};
        for (const side of ["client", "headend"] as const) {
          const e = ends[side];
          out[`charon-${side}`] = e.exited ? `(charon ${e.exited})` : (await e.swanctl(["--list-sas"])).stdout;
        }
        return out;
      },
      stop: () => {
        stopping ??= (async () => {
          clearInterval(timer);
          await Promise.allSettled([ends.client.stop(), ends.headend.stop()]);
        })();
        return stopping;
      },
    };
  },
};
