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

/** What the ruleset is built from once the spec is checked: the flows each chain names. */
interface Plan {
  spec: FirewallSpec;
  proxyPort: number;
  outside?: string;
  bypass: FlowMatch[];
  /** Inspected flows that no bypass wins over: redirected to the proxy. */
  redirected: FlowMatch[];
}

/** The ruleset's text, indented by nesting level. */
class Lines {
  private readonly out: string[] = [];
  line(indent: number, text: string): void {
    this.out.push(`${"  ".repeat(indent)}${text}`);
  }
  text(): string {
    return this.out.join("\n") + "\n";
  }
}

export function firewallRuleset(spec: FirewallSpec, opts: RulesetOptions): string {
  const plan = planRuleset(spec, opts);
  const w = new Lines();
  writeHeader(w, plan);
  writeCounters(w, plan);
  writeRawChains(w, plan);
  writeNatChain(w, plan);
  writeForwardChain(w, plan);
  writeProxyChains(w, plan);
  w.line(0, "}");
  return w.text();
}

/** The spec checked (ports, the outside device's name, TCP-only inspection) and its flows deduplicated. */
function planRuleset(spec: FirewallSpec, opts: RulesetOptions): Plan {
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
  return { spec, proxyPort: opts.proxyPort, ...(outside !== undefined ? { outside } : {}), bypass, redirected };
}

function writeHeader(w: Lines, { spec, proxyPort }: Plan): void {
  w.line(0, `# vpnlab firewall node ${spec.node}: mode ${spec.mode}`);
  if (spec.mode === "full-proxy") w.line(0, `# proxy: ${spec.proxy} on port ${proxyPort}`);
  w.line(0, `# Re-applicable: declare the table (a no-op if it exists), delete it, then`);
  w.line(0, `# create it afresh, all in one atomic nft transaction.`);
  w.line(0, `table inet ${FIREWALL_TABLE} {}`);
  w.line(0, `delete table inet ${FIREWALL_TABLE}`);
  w.line(0, "");
  w.line(0, `table inet ${FIREWALL_TABLE} {`);
}

function writeCounters(w: Lines, { spec, outside }: Plan): void {
  if (outside === undefined) return;
  w.line(1, `# per-direction evidence, read back by name (nft -j list counters); outside is ${outside}`);
  for (const c of directionCounters(spec.mode)) w.line(1, `counter ${c} {}`);
  w.line(0, "");
}

/** priority raw: conntrack exemptions, before conntrack sees the packet. */
function writeRawChains(w: Lines, { spec, bypass }: Plan): void {
  const rawChain = (name: string, hook: "prerouting" | "output", what: string): void => {
    w.line(1, `# ${what}`);
    w.line(1, `chain ${name} {`);
    w.line(2, `type filter hook ${hook} priority raw; policy accept;`);
    for (const f of bypass) {
      w.line(2, `# state bypass ${f.proto}/${f.port}: never tracked, both directions`);
      w.line(2, `${f.proto} dport ${f.port} notrack`);
      w.line(2, `${f.proto} sport ${f.port} notrack`);
    }
    if (spec.mode === "route") {
      w.line(2, "# route mode: a plain router keeps no state at all");
      w.line(2, "notrack");
    }
    w.line(1, "}");
  };
  if (bypass.length > 0 || spec.mode === "route") {
    rawChain("raw_prerouting", "prerouting", "priority raw (-300) runs before conntrack (-200)");
    w.line(0, "");
    rawChain("raw_output", "output", "the node's own packets get the same exemptions");
    w.line(0, "");
  }
}

/** nat: the full proxy's interception. */
function writeNatChain(w: Lines, { redirected, proxyPort }: Plan): void {
  if (redirected.length === 0) return;
  w.line(1, "# Inspected TCP flows are redirected to the local proxy. The proxy");
  w.line(1, "# reads the original destination (SO_ORIGINAL_DST) and opens its own");
  w.line(1, "# connection to it. Bypassed flows never get here: nat chains are only");
  w.line(1, "# consulted for packets that have a conntrack entry, and a notracked");
  w.line(1, "# packet has none (ct state untracked), so it skips nat entirely.");
  w.line(1, "chain nat_prerouting {");
  w.line(2, "type nat hook prerouting priority dstnat; policy accept;");
  for (const f of redirected) {
    w.line(2, `tcp dport ${f.port} redirect to :${proxyPort}`);
  }
  w.line(1, "}");
  w.line(0, "");
}

/** forward: the stateful policy (or none, in route mode), counted first by direction and protocol. */
function writeForwardChain(w: Lines, { spec, outside, bypass }: Plan): void {
  w.line(1, "chain forward {");
  const countForward = (): void => {
    if (outside === undefined) return;
    w.line(2, "# count first, before any verdict: every forwarded packet, by direction and protocol");
    for (const [d, side] of [["c2h", "iifname"], ["h2c", "oifname"]] as const) {
      for (const p of COUNTED_PROTOS) w.line(2, `${side} "${outside}" meta l4proto ${p} counter name "fwd_${d}_${p}"`);
      w.line(2, `${side} "${outside}" meta l4proto != { ${COUNTED_PROTOS.join(", ")} } counter name "fwd_${d}_other"`);
    }
  };
  if (spec.mode === "route") {
    w.line(2, "type filter hook forward priority filter; policy accept;");
    countForward();
    w.line(2, "# route mode: forward everything");
  } else {
    w.line(2, "type filter hook forward priority filter; policy drop;");
    countForward();
    for (const f of bypass) {
      w.line(2, `# state bypass ${f.proto}/${f.port}: forwarded without state checks`);
      w.line(2, `${f.proto} dport ${f.port} accept`);
      w.line(2, `${f.proto} sport ${f.port} accept`);
    }
    w.line(2, "# ESP (IP protocol 50) has no ports and no handshake: conntrack knows it only by addresses");
    w.line(2, "# (new, then established). The tunnel must pass both ways whatever its state; never proxied.");
    w.line(2, "meta l4proto esp accept");
    w.line(2, "ct state established,related accept");
    w.line(2, "ct state invalid drop");
    w.line(2, "# a new TCP flow must start with a bare SYN");
    w.line(2, "meta l4proto tcp ct state new tcp flags & (fin|syn|rst|ack) != syn drop");
    w.line(2, "meta l4proto { icmp, ipv6-icmp } accept");
    w.line(2, "# no inspection policy: every other new flow is allowed");
    w.line(2, "ct state new accept");
  }
  w.line(1, "}");
}

/** input/output (full-proxy only): the proxy's own sockets, and its counters. */
function writeProxyChains(w: Lines, { spec, outside, bypass, proxyPort }: Plan): void {
  if (spec.mode !== "full-proxy") return;
  w.line(0, "");
  w.line(1, "chain input {");
  w.line(2, "type filter hook input priority filter; policy drop;");
  if (outside !== undefined) {
    w.line(2, "# the proxy's TCP: from the client in on the outside, from the headend on any other non-loopback");
    w.line(2, `iifname "${outside}" meta l4proto tcp counter name "proxy_c2h_in"`);
    w.line(2, `iifname != { "lo", "${outside}" } meta l4proto tcp counter name "proxy_h2c_in"`);
  }
  w.line(2, 'iif "lo" accept');
  for (const f of bypass) {
    w.line(2, `${f.proto} dport ${f.port} accept`);
    w.line(2, `${f.proto} sport ${f.port} accept`);
  }
  w.line(2, "ct state established,related accept");
  w.line(2, "ct state invalid drop");
  w.line(2, "# only redirected connections reach the proxy (a direct one would loop)");
  w.line(2, `tcp dport ${proxyPort} ct status dnat accept`);
  w.line(2, "meta l4proto { icmp, ipv6-icmp } accept");
  w.line(1, "}");
  w.line(0, "");
  w.line(1, "chain output {");
  w.line(2, "type filter hook output priority filter; policy accept;");
  w.line(2, "# the proxy's connections to the original destinations");
  if (outside !== undefined) {
    w.line(2, `oifname "${outside}" meta l4proto tcp counter name "proxy_h2c_out"`);
    w.line(2, `oifname != { "lo", "${outside}" } meta l4proto tcp counter name "proxy_c2h_out"`);
  }
  w.line(1, "}");
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
