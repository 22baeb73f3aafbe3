// Socket evidence from the firewall's namespace: what the proxy's kernel TCP
// sockets hold. Pure parser; the harness runs SS_ARGV through NodeExec.
//
// The evidence a full proxy stalls a cTCP flow: after one lost segment the
// proxy's client-side socket has received (and SACKed) the bytes after the
// gap, but they sit in its out-of-order queue waiting for a retransmission
// the cTCP peer never sends. ss shows that socket with
//   rcv_ooopack > 0          out-of-order packets have arrived (cumulative)
//   skmem r > 0, Recv-Q 0    memory is charged to the socket, yet nothing is
//                            readable: it is the out-of-order queue
//   bytes_received frozen    the in-order byte count stops at the gap
//
// ss flags (iproute2 >= 5.x):
//   -t  TCP sockets only          -a  all states (the proxy's LISTEN socket too)
//   -n  numeric addresses/ports   -i  tcp_info (bytes_*, segs_*, rcv_ooopack, retrans)
//   -m  skmem (r = rmem_alloc, rb = rcvbuf, w = wmem_queued, d = drops)
//   -p  owning processes (haproxy / node), to tell the proxy's sockets apart
//   -H  no header line            -O  one line per socket
// Parsing also accepts ss's default two-line layout (continuation lines
// start with whitespace).

export const SS_ARGV: readonly string[] = ["ss", "-t", "-a", "-n", "-i", "-m", "-p", "-H", "-O"];

export interface SsProcess {
  name: string;
  pid: number;
  fd: number;
}

export interface SsSocket {
  state: string; // ESTAB, LISTEN, SYN-SENT, FIN-WAIT-1, TIME-WAIT, ...
  local: string; // as printed: 127.0.0.1:7000, [::1]:7000, 0.0.0.0:*
  peer: string;
  localPort?: number;
  peerPort?: number;
  recvQ: number; // bytes readable now (LISTEN: accept backlog)
  sendQ: number; // bytes not yet acknowledged by the peer (LISTEN: backlog limit)
  bytesReceived: number; // in-order payload bytes received (tcpi_bytes_received)
  bytesSent: number;
  bytesAcked: number; // acknowledged by the peer; counts the SYN as one
  bytesRetrans: number;
  segsIn: number;
  segsOut: number;
  dataSegsIn: number;
  dataSegsOut: number;
  rcvOooPackets: number; // rcv_ooopack: out-of-order packets received so far (cumulative)
  rmemAlloc: number; // skmem r: receive memory in use (truesize), incl. the out-of-order queue
  rcvBuf: number; // skmem rb
  wmemQueued: number; // skmem w: send memory queued (unsent + unacknowledged)
  drops: number; // skmem d: packets dropped before reaching the socket
  retrans: number; // retransmitted segments in total (second number of retrans:a/b)
  retransNow: number; // retransmitted and not yet acknowledged (first number)
  lost: number; // segments currently considered lost
  unacked: number;
  sacked: number; // segments the peer has SACKed
  notsent: number; // bytes written by the application, not yet sent
  lastRcvMs?: number; // since the last data received
  lastSndMs?: number;
  processes: SsProcess[];
}

export function parseSs(text: string): SsSocket[] {
  // Re-join ss's two-line layout: continuation lines start with whitespace.
  const records: string[] = [];
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    if (/^\s/.test(raw) && records.length > 0) records[records.length - 1] += ` ${raw.trim()}`;
    else records.push(raw.trim());
  }
  return records.filter((r) => !/^(State|Recv-Q|Netid)\b/.test(r)).map(parseRecord);
}

function parseRecord(record: string): SsSocket {
  // users:(("name",pid=1,fd=2),...) may contain blanks inside quoted names: take it out first.
  const processes: SsProcess[] = [];
  let rest = record.replace(/users:\(\((?:[^"]|"(?:[^"\\]|\\.)*")*?\)\)/, (users) => {
    for (const m of users.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g)) {
      processes.push({ name: m[1], pid: Number(m[2]), fd: Number(m[3]) });
    }
    return " ";
  });

  const skmem: Record<string, number> = {};
  rest = rest.replace(/skmem:\(([^)]*)\)/, (_all, inner: string) => {
    for (const part of inner.split(",")) {
      const m = /^([a-z]+)(\d+)$/.exec(part.trim());
      if (m) skmem[m[1]] = Number(m[2]);
    }
    return " ";
  });

  const tokens = rest.trim().split(/\s+/);
  // ss omits the State column when a state filter is given; accept both.
  const state = /^\d+$/.test(tokens[0] ?? "") ? "" : (tokens.shift() ?? "");
  const [recvQ, sendQ, local, peer] = tokens;
  if (recvQ === undefined || sendQ === undefined || local === undefined || peer === undefined || !/^\d+$/.test(recvQ) || !/^\d+$/.test(sendQ)) {
    throw new Error(`ss: cannot parse socket line: ${record.slice(0, 160)}`);
  }

  const info: Record<string, string> = {};
  for (const t of tokens.slice(4)) {
    const m = /^([a-z_]+):(.+)$/.exec(t);
    if (m && !(m[1] in info)) info[m[1]] = m[2];
  }
  const num = (key: string): number => {
    const v = info[key];
    const n = v === undefined ? 0 : Number.parseFloat(v);
    return Number.isFinite(n) ? n : 0;
  };
  const optMs = (key: string): number | undefined => (info[key] === undefined ? undefined : num(key));
  const [retransNow, retransTotal] = (info.retrans ?? "0/0").split("/").map((x) => Number(x) || 0);

  return {
    state,
    local,
    peer,
    localPort: portOf(local),
    peerPort: portOf(peer),
    recvQ: Number(recvQ),
    sendQ: Number(sendQ),
    bytesReceived: num("bytes_received"),
    bytesSent: num("bytes_sent"),
    bytesAcked: num("bytes_acked"),
    bytesRetrans: num("bytes_retrans"),
    segsIn: num("segs_in"),
    segsOut: num("segs_out"),
    dataSegsIn: num("data_segs_in"),
    dataSegsOut: num("data_segs_out"),
    rcvOooPackets: num("rcv_ooopack"),
    rmemAlloc: skmem.r ?? 0,
    rcvBuf: skmem.rb ?? 0,
    wmemQueued: skmem.w ?? 0,
    drops: skmem.d ?? 0,
    retrans: retransTotal ?? 0,
    retransNow: retransNow ?? 0,
    lost: num("lost"),
    unacked: num("unacked"),
    sacked: num("sacked"),
    notsent: num("notsent"),
    lastRcvMs: optMs("lastrcv"),
    lastSndMs: optMs("lastsnd"),
    processes,
  };
}

function portOf(endpoint: string): number | undefined {
  const m = /:(\d+)$/.exec(endpoint);
  return m ? Number(m[1]) : undefined;
}

/**
 * The socket holds received bytes nobody can read: memory is charged to it
 * while its receive queue is empty, so the data sits in the out-of-order
 * queue behind a gap. (With Recv-Q > 0 the two cannot be told apart.)
 */
export function holdsOutOfOrder(s: SsSocket): boolean {
  return s.state !== "LISTEN" && s.recvQ === 0 && s.rmemAlloc > 0 && s.rcvOooPackets > 0;
}
