// Packet captures (`capture:`): every transport of topologies/asa-ips.yaml, without its loss, captured on
// the Internet hop (wan.edge) from before the tunnel comes up, and read back with tshark: each pcap must
// show the protocol its transport claims on the wire — ESP as IP protocol 50, NAT-T on UDP 4500, IKEv2 on
// 4500 (strongSwan), AnyConnect/ocserv as TLS on TCP 443 (DTLS on UDP 443), and cTCP as TCP on 10000
// whose payload is not TLS.
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { run } from "../harness/exec";
import { mapPool } from "../harness/pool";
import { publishResult } from "../harness/report/allure";
import { summarize } from "../harness/report/summary";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
const VARIANTS = ["base", "esp", "natt", "natt-strongswan", "anyconnect-tls", "ocserv-tls", "ocserv-dtls"];
const JOBS = 4;

/** Packets in `file` matching a display filter (and the given tcp.payload field of each, when asked). */
async function tshark(file: string, filter: string, field = "frame.number", extra: string[] = []): Promise<string[]> {
  const r = await run(["tshark", "-n", "-r", file, ...extra, "-Y", filter, "-T", "fields", "-e", field], { timeoutMs: 60_000 });
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

/** A TLS record header: content type 20..23, version 3.x. */
const TLS_RECORD = /^1[4-7]03/;

describe("captures: one pcap per NODE.NET, the transport seen on the wire", function () {
  this.timeout(120000);
  const results = new Map<string, ScenarioResult>();
  const counts = new Map<string, Record<string, number>>();
  let tmp = "";

  before(async function () {
    this.timeout(600000);
    // a copy without loss and with short phases: the capture is about the wire format, not the verdict
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-captures-"));
    const doc = parseDocument(fs.readFileSync(FILE, "utf8"));
    doc.set("chaos", []);
    doc.set("phases", { baseline: "1s", chaos: "1s", recovery: "2s" });
    doc.set("capture", ["wan.edge"]);
    for (const v of VARIANTS.filter((x) => x !== "base")) doc.setIn(["variants", v, "chaos"], []);
    const copy = path.join(tmp, "asa-ips.yaml");
    fs.writeFileSync(copy, doc.toString());
    const scenarios = selectScenarios(loadTopology(copy), VARIANTS);
    const rs = await mapPool(scenarios, JOBS, (s) => runScenario(s));
    rs.forEach((r) => results.set(r.variant, r));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    for (const [v, c] of counts) process.stdout.write(`      ${v}: ${Object.entries(c).map(([k, n]) => `${k}=${n}`).join(" ")}\n`);
  });

  /** The variant's one pcap (wan.edge), checked for existence, mode and size; its packet counts per filter. */
  async function pcapOf(variant: string): Promise<{ file: string; msg: string; n: (filter: string, extra?: string[]) => Promise<number> }> {
    const r = results.get(variant);
    if (!r) throw new Error(`variant ${variant} did not run`);
    if (r.outcome === "lab-error") throw new Error(`lab error: ${r.error ?? r.reasons.join("; ")}\n${summarize(r)}`);
    await publishResult(r);
    const msg = `${variant}: captures ${JSON.stringify(r.captures)}`;
    expect(r.captures.map((c) => c.target), msg).to.deep.equal(["wan.edge"]);
    const c = r.captures[0];
    expect(c.file, msg).to.match(new RegExp(`reports/captures/asa-ips/${variant}-${r.labId}/wan\\.edge\\.pcap$`));
    const st = fs.statSync(c.file);
    expect(st.mode & 0o777, msg).to.equal(0o644);
    expect(st.size, msg).to.equal(c.bytes).and.to.be.greaterThan(24); // more than the pcap header
    const mine: Record<string, number> = { bytes: c.bytes };
    counts.set(variant, mine);
    return {
      file: c.file,
      msg,
      n: async (filter, extra = []) => {
        const got = (await tshark(c.file, filter, "frame.number", extra)).length;
        mine[filter] = got;
        return got;
      },
    };
  }

  it("esp: IP protocol 50 between client and headend, no UDP 4500, no TCP", async () => {
    const p = await pcapOf("esp");
    const esp = await p.n("ip.proto == 50 && ip.addr == 203.0.113.10 && ip.addr == 192.0.2.10");
    const other = await p.n("udp.port == 4500 || tcp");
    expect({ esp, other }, p.msg).to.deep.include({ other: 0 }).and.to.satisfy((x: { esp: number }) => x.esp > 0);
  });

  it("natt: UDP 4500 carries the tunnel, no bare ESP", async () => {
    const p = await pcapOf("natt");
    const natt = await p.n("udp.port == 4500");
    const esp = await p.n("ip.proto == 50");
    expect({ natt, esp }, p.msg).to.deep.include({ esp: 0 }).and.to.satisfy((x: { natt: number }) => x.natt > 0);
  });

  it("natt-strongswan: IKEv2 and the tunnel on UDP 4500, no bare ESP", async () => {
    const p = await pcapOf("natt-strongswan");
    const ike = await p.n("udp.port == 4500 && isakmp.version == 0x20");
    const natt = await p.n("udp.port == 4500");
    const esp = await p.n("ip.proto == 50");
    expect({ ike, natt, esp }, p.msg).to.deep.include({ esp: 0 }).and.to.satisfy((x: { ike: number; natt: number }) => x.ike > 0 && x.natt > x.ike);
  });

  for (const v of ["anyconnect-tls", "ocserv-tls"]) {
    it(`${v}: TLS records on TCP 443, no UDP`, async () => {
      const p = await pcapOf(v);
      const tls = await p.n("tcp.port == 443 && tls.record");
      const udp = await p.n("udp");
      expect({ tls, udp }, p.msg).to.deep.include({ udp: 0 }).and.to.satisfy((x: { tls: number }) => x.tls > 0);
    });
  }

  it("ocserv-dtls: DTLS records on UDP 443 (and the TLS control channel on TCP 443)", async () => {
    const p = await pcapOf("ocserv-dtls");
    const dtls = await p.n("udp.port == 443 && dtls.record");
    const tls = await p.n("tcp.port == 443 && tls.record");
    expect({ dtls, tls }, p.msg).to.satisfy((x: { dtls: number; tls: number }) => x.dtls > 0 && x.tls > 0);
  });

  it("base (cTCP): TCP on 10000 whose payload is not TLS", async () => {
    const p = await pcapOf("base");
    const tcp = await p.n("tcp.port == 10000 && tcp.len > 0");
    // decoded as TLS on purpose: not one segment may parse as a TLS record
    const tls = await p.n("tls.record", ["-d", "tcp.port==10000,tls"]);
    const payloads = await tshark(p.file, "tcp.port == 10000 && tcp.len > 0", "tcp.payload");
    const tlsHeaders = payloads.filter((h) => TLS_RECORD.test(h.replace(/:/g, ""))).length;
    counts.get("base")!.tlsHeaders = tlsHeaders;
    expect({ tcp, tls, tlsHeaders }, p.msg).to.deep.include({ tls: 0, tlsHeaders: 0 }).and.to.satisfy((x: { tcp: number }) => x.tcp > 0);
  });
});
