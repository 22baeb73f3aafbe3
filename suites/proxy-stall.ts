// The full proxy's stall, asserted on a run's own numbers (asa-ips and
// single-drop): the cTCP flow went through the proxy, the proxy holds bytes
// behind a gap (rcv_ooopack, memory held, nothing readable) and took not one
// byte in order during recovery, and the probe got nothing back then.
import { expect } from "chai";
import { holdsOutOfOrder } from "../harness/firewall/evidence";
import { PROXY_PORT } from "../harness/firewall/start";
import type { ScenarioResult } from "../harness/scenario";

/** `builtin`: the project's own proxy, which also says it forwarded only what it took in order. */
export function expectProxyStall(r: ScenarioResult, msg: string, builtin: boolean): void {
  const { atRecoveryStart: rs, atEnd: end } = r.evidence.proxy!;
  const recovery = r.phases.find((x) => x.phase === "recovery")!;
  expect(end.proxied, `the cTCP flow went through the proxy\n${msg}`).to.equal(true);
  expect(end.stalledBytes, `bytes the cTCP client sent that the proxy never took in order\n${msg}`).to.be.greaterThan(0);
  // behind a gap: rcv_ooopack on the proxy's client-facing socket, with memory held and nothing readable
  const held = r.evidence.firewall!.sockets.filter((x) => x.localPort === PROXY_PORT && holdsOutOfOrder(x));
  expect(end.oooPackets, `proxy socket rcv_ooopack\n${msg}`).to.be.greaterThan(0);
  expect(held.length, `proxy sockets with Recv-Q 0, skmem r > 0 and rcv_ooopack > 0 at the end\n${msg}`).to.be.greaterThan(0);
  expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.equal(0);
  if (builtin) expect(end.forwardedOut, `the proxy forwarded only what it took in order\n${msg}`).to.equal(end.proxyBytesReceived);
  expect(recovery.delivery, `recovery delivery\n${msg}`).to.equal(0);
}
