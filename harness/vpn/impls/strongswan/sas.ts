// What charon says about its tunnel, read back: `swanctl --list-sas --raw`
// (the vici answer, one `list-sa event {...}` line per IKE_SA) and the lines
// of its log that end an IKE_SA. Pure parsers.

/** A vici section: key=value, key=[list], name {section}. */
export type ViciSection = { [key: string]: string | string[] | ViciSection };

export interface ChildSa {
  name: string;
  state: string; // INSTALLED once it carries traffic
  encap: boolean; // ESP in UDP
  bytesIn: number;
  packetsIn: number;
  bytesOut: number;
  packetsOut: number;
  localTs: string[];
  remoteTs: string[];
}

export interface IkeSa {
  name: string;
  state: string; // ESTABLISHED
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  localVips: string[];
  children: ChildSa[];
}

const TOKEN_RE = /\{|\}|[^\s{}=]+=\[[^\]]*\]|[^\s{}=]+=[^\s{}]*|[^\s{}]+/g;

/** Parse the body of one vici message as swanctl --raw prints it: `{a=1 b=[x y] s {c=2}}`. */
export function parseViciRaw(text: string): ViciSection {
  const tokens = text.match(TOKEN_RE) ?? [];
  let i = 0;
  const section = (): ViciSection => {
    const out: ViciSection = {};
    while (i < tokens.length) {
      const t = tokens[i++];
      if (t === "}") return out;
      const eq = t.indexOf("=");
      if (eq > 0) {
        const v = t.slice(eq + 1);
        out[t.slice(0, eq)] = v.startsWith("[") ? v.slice(1, -1).split(/\s+/).filter(Boolean) : v;
      } else if (tokens[i] === "{") {
        i++;
        out[t] = section();
      } else {
        throw new Error(`vici text: unexpected ${JSON.stringify(t)} in ${text.slice(0, 120)}`);
      }
    }
    throw new Error(`vici text: unterminated section in ${text.slice(0, 120)}`);
  };
  if (tokens[i++] !== "{") throw new Error(`vici text: expected "{" at the start of ${text.slice(0, 120)}`);
  return section();
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const int = (v: unknown): number => {
  const n = Number(str(v));
  return Number.isFinite(n) ? n : 0;
};
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const sub = (v: unknown): ViciSection => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as ViciSection) : {});

/** Every IKE_SA in `swanctl --list-sas --raw` output, with its child SAs. */
export function parseListSas(stdout: string): IkeSa[] {
  const out: IkeSa[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^list-sa event (\{.*\})\s*$/.exec(line);
    if (!m) continue;
    for (const [name, v] of Object.entries(parseViciRaw(m[1]))) {
      const s = sub(v);
      out.push({
        name,
        state: str(s.state),
        localHost: str(s["local-host"]),
        localPort: int(s["local-port"]),
        remoteHost: str(s["remote-host"]),
        remotePort: int(s["remote-port"]),
        localVips: list(s["local-vips"]),
        children: Object.values(sub(s["child-sas"])).map((cv) => {
          const c = sub(cv);
          return {
            name: str(c.name),
            state: str(c.state),
            encap: c.encap === "yes",
            bytesIn: int(c["bytes-in"]),
            packetsIn: int(c["packets-in"]),
            bytesOut: int(c["bytes-out"]),
            packetsOut: int(c["packets-out"]),
            localTs: list(c["local-ts"]),
            remoteTs: list(c["remote-ts"]),
          };
        }),
      });
    }
  }
  return out;
}

/** Why a charon log line means the tunnel ended, or undefined when it does not. */
export function downReason(line: string): string | undefined {
  let m = /giving up after (\d+) retransmits/.exec(line);
  if (m) return `dead peer: no answer after ${Number(m[1]) + 1} tries (charon: "${m[0]}")`;
  m = /received DELETE for IKE_SA (\S+)/.exec(line);
  if (m) return `the peer deleted IKE_SA ${m[1]}`;
  m = /received DELETE for ESP CHILD_SA with SPI (\S+)/.exec(line);
  if (m) return `the peer deleted the child SA (SPI ${m[1]})`;
  return undefined;
}

/** Log lines that count DPD: probes this charon sent, and INFORMATIONAL answers it got (DPD's, while no other exchange runs). */
export function dpdLineKind(line: string): "sent" | "answered" | undefined {
  if (line.includes("sending DPD request")) return "sent";
  if (/parsed INFORMATIONAL response \d+ \[ \]/.test(line)) return "answered";
  return undefined;
}
