// Where a tunnel runs in a scenario, the same for every implementation: each
// end's outside address, and the networks behind the headend that the client
// reaches through the tunnel. Pure.
import type { Cidr, Link, Scenario } from "../topology/model";
import { intToAddr, networkOf } from "../topology/units";

/** The link a node uses towards the outside world: the one with its default gateway, else its first. */
export function outsideLink(scenario: Scenario, node: string): Link {
  const n = scenario.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`no node ${node} in ${scenario.name}`);
  return n.links.find((l) => l.gw) ?? n.links[0];
}

export interface TunnelPlan {
  clientIp: string; // the client's outside address
  headendIp: string; // the headend's outside address (where the client connects)
  /** Everything the headend reaches through its other links: routed into the tunnel on the client. */
  protectedNets: Cidr[];
}

export function tunnelPlan(scenario: Scenario): TunnelPlan {
  const { vpn } = scenario;
  const headendOutside = outsideLink(scenario, vpn.headend);
  const headend = scenario.nodes.find((n) => n.name === vpn.headend)!;
  return {
    clientIp: outsideLink(scenario, vpn.client).ip.addr,
    headendIp: headendOutside.ip.addr,
    protectedNets: headend.links.filter((l) => l !== headendOutside).map((l) => ({ addr: intToAddr(networkOf(l.ip)), prefix: l.ip.prefix })),
  };
}
