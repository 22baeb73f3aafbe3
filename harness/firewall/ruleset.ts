// The firewall node's nftables policy, as text for `nft -f -`. Pure: the
// caller applies it inside the firewall's namespace (NodeExec.exec with
// input), so every mode can be unit-tested without root.
//
// Everything lives in one table, `inet vpnlab_fw`, so re-applying replaces
// only our rules: other tables in the node (impairment drops, the cTCP RST
// suppression) are left alone. `flush ruleset` is never used.
import type { FirewallSpec, FlowMatch } from "../topology/model";

export const FIREWALL_TABLE = "vpnlab_fw";

export interface RulesetOptions {
  /** Port the local proxy listens on (full-proxy mode). */
  proxyPort: number;
  /**
   * The firewall's interface towards the client (the Internet side). When
   * set, named counters count packets and bytes per direction (see
   * directionCounters); without it the ruleset has none.
   */
  outside?: string;
}

/** The L4 protocols counted apart per direction; anything else counts as "other". */
const COUNTED_PROTOS = ["tcp", "udp", "esp"] as const;

/**
 * The names of the per-direction counters the ruleset declares, in order:
 * fwd_c2h_<proto> / fwd_h2c_<proto> for forwarded packets (in from / out to
 * the outside interface), and for full-proxy the proxy's own TCP sockets,
 * which redirected traffic reaches instead of forward: proxy_c2h_in (client
 * to proxy), proxy_c2h_out (proxy to headend), proxy_h2c_in (headend to
 * proxy), proxy_h2c_out (proxy to client).
 */
export function directionCounters(mode: FirewallSpec["mode"]): string[] {
  const fwd = (["c2h", "h2c"] as const).flatMap((d) => [...COUNTED_PROTOS, "other"].map((p) => `fwd_${d}_${p}`));
  return mode === "full-proxy" ? [...fwd, "proxy_c2h_in", "proxy_c2h_out", "proxy_h2c_in", "proxy_h2c_out"] : fwd;
}

export function firewallRuleset(spec: FirewallSpec, opts: RulesetOptions): string {
  checkPort("proxyPort", opts.proxyPort);
  const outside = opts.outside;
  if (outside !== undefined && !/^[A-Za-z0-9_.@-]{1,15}$/.test(outside)) throw new Error(`firewall ruleset: outside interface ${JSON.stringify(outside)} is not a device name`);
  for (const f of [...spec.inspect, ...spec.bypass]) checkPort(`${f.proto} port`, f.port);

  const bypass = dedupe(spec.bypass);
  const inspect = spec.mode === "full-proxy" ? dedupe(spec.inspect) : [];
  for (const f of inspect) {
    if (f.proto !== "tcp") {
      throw new Error(
        `firewall ${spec.node}: inspect ${f.proto}/${f.port}: the full proxy terminates TCP only; ` +
          `remove the entry or make it tcp`,
      );
    }
  }
  // A flow both inspected and bypassed is bypassed: that is what a state
  // bypass rule on a real firewall does (it wins over the inspection policy).
  const redirected = inspect.filter((f) => !bypass.some((b) => b.proto === f.proto && b.port === f.port));

  const out: string[] = [];
  const line = (indent: number, text: string): void => {
    out.push(`${"  ".repeat(indent)}${text}`);
  };

  line(0, `# vpnlab firewall node ${spec.node}: mode ${spec.mode}`);
  if (spec.mode === "full-proxy") line(0, `# proxy: ${spec.proxy} on port ${opts.proxyPort}`);
  line(0, `# Re-applicable: declare the table (a no-op if it exists), delete it, then`);
  line(0, `# create it afresh, all in one atomic nft transaction.`);
  line(0, `table inet ${FIREWALL_TABLE} {}`);
  line(0, `delete table inet ${FIREWALL_TABLE}`);
  line(0, "");
  line(0, `table inet ${FIREWALL_TABLE} {`);
  if (outside !== undefined) {
    line(1, `# per-direction evidence, read back by name (nft -j list counters); outside is ${outside}`);
    for (const c of directionCounters(spec.mode)) line(1, `counter ${c} {}`);
    line(0, "");
  }

  // --- raw: conntrack exemptions, before conntrack sees the packet ---------
  const rawChain = (name: string, hook: "prerouting" | "output", what: string): void => {
    line(1, `# ${what}`);
    line(1, `chain ${name} {`);
    line(2, `type filter hook ${hook} priority raw; policy accept;`);
    for (const f of bypass) {
      line(2, `# state bypass ${f.proto}/${f.port}: never tracked, both directions`);
      line(2, `${f.proto} dport ${f.port} notrack`);
      line(2, `${f.proto} sport ${f.port} notrack`);
    }
    if (spec.mode === "route") {
      line(2, "# route mode: a plain router keeps no state at all");
      line(2, "notrack");
    }
    line(1, "}");
  };
  if (bypass.length > 0 || spec.mode === "route") {
    rawChain("raw_prerouting", "prerouting", "priority raw (-300) runs before conntrack (-200)");
    line(0, "");
    rawChain("raw_output", "output", "the node's own packets get the same exemptions");
    line(0, "");
  }

  // --- nat: the full proxy's interception -----------------------------------
  if (redirected.length > 0) {
    line(1, "# Inspected TCP flows are redirected to the local proxy. The proxy");
    line(1, "# reads the original destination (SO_ORIGINAL_DST) and opens its own");
    line(1, "# connection to it. Bypassed flows never get here: nat chains are only");
    line(1, "# consulted for packets that have a conntrack entry, and a notracked");
    line(1, "# packet has none (ct state untracked), so it skips nat entirely.");
    line(1, "chain nat_prerouting {");
    line(2, "type nat hook prerouting priority dstnat; policy accept;");
    for (const f of redirected) {
      line(2, `tcp dport ${f.port} redirect to :${opts.proxyPort}`);
    }
    line(1, "}");
    line(0, "");
  }

  // --- forward --------------------------------------------------------------
  line(1, "chain forward {");
  const countForward = (): void => {
    if (outside === undefined) return;
    line(2, "# count first, before any verdict: every forwarded packet, by direction and protocol");
    for (const [d, side] of [["c2h", "iifname"], ["h2c", "oifname"]] as const) {
      for (const p of COUNTED_PROTOS) line(2, `${side} "${outside}" meta l4proto ${p} counter name "fwd_${d}_${p}"`);
      line(2, `${side} "${outside}" meta l4proto != { ${COUNTED_PROTOS.join(", ")} } counter name "fwd_${d}_other"`);
    }
  };
  if (spec.mode === "route") {
    line(2, "type filter hook forward priority filter; policy accept;");
    countForward();
    line(2, "# route mode: forward everything");
  } else {
    line(2, "type filter hook forward priority filter; policy drop;");
    countForward();
    for (const f of bypass) {
      line(2, `# state bypass ${f.proto}/${f.port}: forwarded without state checks`);
      line(2, `${f.proto} dport ${f.port} accept`);
      line(2, `${f.proto} sport ${f.port} accept`);
    }
    line(2, "# ESP (IP protocol 50) has no ports and no handshake: conntrack knows it only by addresses");
    line(2, "# (new, then established). The tunnel must pass both ways whatever its state; never proxied.");
    line(2, "meta l4proto esp accept");
    line(2, "ct state established,related accept");
    line(2, "ct state invalid drop");
    line(2, "# a new TCP flow must start with a bare SYN");
    line(2, "meta l4proto tcp ct state new tcp flags & (fin|syn|rst|ack) != syn drop");
    line(2, "meta l4proto { icmp, ipv6-icmp } accept");
    line(2, "# no inspection policy: every other new flow is allowed");
    line(2, "ct state new accept");
  }
  line(1, "}");

  // --- input/output: the proxy's own sockets --------------------------------
  if (spec.mode === "full-proxy") {
    line(0, "");
    line(1, "chain input {");
    line(2, "type filter hook input priority filter; policy drop;");
    if (outside !== undefined) {
      line(2, "# the proxy's TCP: from the client in on the outside, from the headend on any other non-loopback");
      line(2, `iifname "${outside}" meta l4proto tcp counter name "proxy_c2h_in"`);
      line(2, `iifname != { "lo", "${outside}" } meta l4proto tcp counter name "proxy_h2c_in"`);
    }
    line(2, 'iif "lo" accept');
    for (const f of bypass) {
      line(2, `${f.proto} dport ${f.port} accept`);
      line(2, `${f.proto} sport ${f.port} accept`);
    }
    line(2, "ct state established,related accept");
    line(2, "ct state invalid drop");
    line(2, "# only redirected connections reach the proxy (a direct one would loop)");
    line(2, `tcp dport ${opts.proxyPort} ct status dnat accept`);
    line(2, "meta l4proto { icmp, ipv6-icmp } accept");
    line(1, "}");
    line(0, "");
    line(1, "chain output {");
    line(2, "type filter hook output priority filter; policy accept;");
    line(2, "# the proxy's connections to the original destinations");
    if (outside !== undefined) {
      line(2, `oifname "${outside}" meta l4proto tcp counter name "proxy_h2c_out"`);
      line(2, `oifname != { "lo", "${outside}" } meta l4proto tcp counter name "proxy_c2h_out"`);
    }
    line(1, "}");
  }

  line(0, "}");
  return out.join("\n") + "\n";
}

function dedupe(flows: readonly FlowMatch[]): FlowMatch[] {
  const seen = new Set<string>();
  const out: FlowMatch[] = [];
  for (const f of flows) {
    const key = `${f.proto}/${f.port}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`firewall ruleset: ${what} ${port} is not a port (1..65535)`);
  }
}
