import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../exec";
import type { FirewallSpec } from "../topology/model";
import { HAPROXY_BIN, haproxyArgv, haproxyCommand, haproxyConfig, parseHaproxySess, parseHaproxyStat } from "./haproxy";
import { echoRoundTrip, ECHO_SERVER, isRoot, Netns } from "./testkit";

const SPEC: FirewallSpec = {
  node: "firewall",
  mode: "full-proxy",
  proxy: "haproxy",
  inspect: [{ proto: "tcp", port: 10000 }],
  bypass: [],
  idleTimeoutMs: 30000,
};

// Captured from HAProxy 2.6.12 (`show stat` after one proxied connection);
// the parser finds its columns by name in the header.
const STAT_SAMPLE = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
fw_in,FRONTEND,,,0,1,9987,1,5,21,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,0,1,1,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
orig_dst,orig,0,0,0,1,,1,5,21,,0,,0,0,0,0,no check,1,1,0,,,3,,,1,3,1,,1,,2,0,,1,,,,,,,,,,,,,,0,0,,,,,1,,,0,0,0,1503,,,,,,,,,,,,0.0.0.0:0,,tcp,,,,,,,,0,1,0,,,0,,0,0,0,1503,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
orig_dst,BACKEND,0,0,0,1,999,1,5,21,0,0,,0,0,0,0,UP,1,1,0,,0,3,0,,1,3,0,,1,,1,0,,1,,,,,,,,,,,,,,0,0,0,0,0,0,1,,,0,0,0,1503,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,1,0,,,,,0,0,0,1503,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
`;

const SESS_SAMPLE = `0x55657f452a80: proto=tcpv4 src=127.0.0.2:33445 fe=fw_in be=orig_dst srv=orig ts=00 epoch=0 age=2m5s calls=2 rate=2 cpu=0 lat=0 rq[f=848202h,i=1448,an=00h,rx=29s,wx=,ax=] rp[f=80048202h,i=0,an=00h,rx=29s,wx=,ax=] scf=[8,0h,fd=8] scb=[8,1h,fd=9] exp=1s rc=0 c_exp=
0x55657f548080: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1 rate=1 cpu=0 lat=0 rq[f=c08002h,i=0,an=00h,rx=10s,wx=,ax=] rp[f=80008002h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=11] scb=[8,1h,fd=-1] exp=9s rc=0 c_exp=
`;

describe("firewall/haproxy", () => {
  const opts = { listenPort: 15001, statsSocket: "/run/vpnlab/x/hap.sock", pidFile: "/run/vpnlab/x/hap.pid", idleTimeoutMs: 4500 };

  describe("haproxyConfig", () => {
    const cfg = haproxyConfig(SPEC, opts);
    const lines = cfg.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

    it("is a TCP-mode proxy listening on every address of the firewall", () => {
      expect(lines).to.include("mode tcp");
      expect(lines).to.include("bind 0.0.0.0:15001");
    });

    it("forwards to the original destination: server 0.0.0.0 with no port", () => {
      expect(lines).to.include("server orig 0.0.0.0");
      expect(cfg).to.not.match(/server orig 0\.0\.0\.0:/);
    });

    it("has the idle timeout on both sides and a 2 s connect timeout", () => {
      expect(lines).to.include.members(["timeout connect 2s", "timeout client 4500ms", "timeout server 4500ms"]);
    });

    it("has an admin stats socket and a pidfile, runs in the foreground and never logs to syslog", () => {
      expect(lines).to.include("stats socket /run/vpnlab/x/hap.sock mode 600 level admin");
      expect(lines).to.include("pidfile /run/vpnlab/x/hap.pid");
      expect(lines.filter((l) => /^(daemon|master-worker)\b/.test(l))).to.deep.equal([]);
      const logs = lines.filter((l) => /^log\s/.test(l));
      expect(logs.every((l) => l === "log global" || l.startsWith("log stderr ")), logs.join("\n")).to.equal(true);
      expect(haproxyArgv("/x.cfg")).to.deep.equal([HAPROXY_BIN, "-db", "-f", "/x.cfg"]);
    });

    it("refuses paths HAProxy's tokenizer would split, and non-ports", () => {
      expect(() => haproxyConfig(SPEC, { ...opts, statsSocket: "/tmp/a b.sock" })).to.throw(/absolute path without blanks/);
      expect(() => haproxyConfig(SPEC, { ...opts, pidFile: "rel.pid" })).to.throw(/absolute path/);
      expect(() => haproxyConfig(SPEC, { ...opts, listenPort: 0 })).to.throw(/not a port/);
    });

    it("is accepted by haproxy -c", async function () {
      if (!fs.existsSync(HAPROXY_BIN)) return this.skip(); // host lacks haproxy (apt-get install haproxy)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-hapc-"));
      try {
        const file = path.join(dir, "h.cfg");
        fs.writeFileSync(file, haproxyConfig(SPEC, { ...opts, statsSocket: path.join(dir, "s.sock"), pidFile: path.join(dir, "p.pid") }));
        const r = await run([HAPROXY_BIN, "-c", "-f", file], { allowFailure: true });
        expect(r.code, r.stdout + r.stderr).to.equal(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("parsers", () => {
    it("parseHaproxyStat reads bin/bout/scur/stot per frontend, backend and server", () => {
      const rows = parseHaproxyStat(STAT_SAMPLE);
      expect(rows.map((r) => [r.proxy, r.name, r.type])).to.deep.equal([
        ["fw_in", "FRONTEND", "frontend"],
        ["orig_dst", "orig", "server"],
        ["orig_dst", "BACKEND", "backend"],
      ]);
      expect(rows[0]).to.include({ scur: 0, stot: 1, bin: 5, bout: 21, status: "OPEN" });
      expect(rows[1]).to.include({ stot: 1, bin: 5, bout: 21, status: "no check" });
      expect(() => parseHaproxyStat("fw_in,FRONTEND\n")).to.throw(/header/);
    });

    it("parseHaproxySess reads proxied streams and what their buffers hold, without the CLI's own", () => {
      const s = parseHaproxySess(SESS_SAMPLE);
      expect(s).to.deep.equal([
        {
          id: "0x55657f452a80",
          proto: "tcpv4",
          src: "127.0.0.2:33445",
          frontend: "fw_in",
          backend: "orig_dst",
          server: "orig",
          ageSec: 125,
          reqBuffered: 1448,
          resBuffered: 0,
        },
      ]);
    });
  });

  // The claim the config rests on: `server orig 0.0.0.0` (no port) connects
  // to the ORIGINAL destination of a redirected connection. The echo server
  // listens only on 10.77.0.1:9001; the client connects there and an nft
  // rule redirects it to HAProxy on 127.0.0.1:PORT. If HAProxy used its own
  // socket's address it would connect to itself, not to the echo server.
  describe("forwards a redirected connection to its original destination (root, throwaway netns)", function () {
    const PORT = 15077;
    let ns: Netns | undefined;
    let dir: string | undefined;
    let sock = "";
    before(async function () {
      if (!isRoot() || !fs.existsSync(HAPROXY_BIN)) return this.skip(); // needs root and haproxy
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-hap-"));
      ns = await Netns.create("hap");
      await ns.exec(["ip", "addr", "add", "10.77.0.1/32", "dev", "lo"]);
      await ns.exec(["nft", "-f", "-"], {
        input: [
          "table ip vlt_redirect {",
          "  chain out {",
          "    type nat hook output priority -100; policy accept;",
          "    # only the test client's connection (from 127.0.0.2), not HAProxy's own",
          `    ip saddr 127.0.0.2 ip daddr 10.77.0.1 tcp dport 9001 redirect to :${PORT}`,
          "  }",
          "}",
          "",
        ].join("\n"),
      });
      await ns.node(ECHO_SERVER, ["10.77.0.1", "9001"]);
      sock = path.join(dir, "hap.sock");
      const cfg = path.join(dir, "hap.cfg");
      fs.writeFileSync(cfg, haproxyConfig(SPEC, { listenPort: PORT, statsSocket: sock, pidFile: path.join(dir, "hap.pid"), idleTimeoutMs: 5000 }));
      const hap = ns.spawn(haproxyArgv(cfg), path.join(dir, "hap.log"));
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          if ((await haproxyCommand(sock, "show info", 500)).includes("Pid:")) break;
        } catch (e) {
          if (Date.now() > deadline || hap.exitCode !== null) throw new Error(`haproxy did not start: ${(e as Error).message}\n${fs.readFileSync(path.join(dir, "hap.log"), "utf8")}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    after(async () => {
      await ns?.destroy(); // kills haproxy and the echo server by PID
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the client's echo comes back through HAProxy, from 10.77.0.1:9001", async () => {
      const r = await echoRoundTrip(ns!, "10.77.0.1", 9001, 5000, "127.0.0.2");
      expect(r.greeting.from).to.equal("10.77.0.1:9001");
      expect(r.echoed).to.equal(5000);
      expect(r.greeting.peer.startsWith("127.0.0.2:"), `the server's peer is HAProxy, not the client: ${r.greeting.peer}`).to.equal(false);

      // Counters are settled once the session is over (scur back to 0).
      let rows = parseHaproxyStat(await haproxyCommand(sock, "show stat"));
      for (let i = 0; i < 50 && rows.some((x) => x.scur > 0 || x.stot === 0); i++) {
        await new Promise((res) => setTimeout(res, 20));
        rows = parseHaproxyStat(await haproxyCommand(sock, "show stat"));
      }
      const fe = rows.find((x) => x.type === "frontend");
      const srv = rows.find((x) => x.type === "server" && x.name === "orig");
      expect(fe?.stot, "sessions through the frontend").to.equal(1);
      expect(srv?.stot, "sessions to the orig server").to.equal(1);
      expect(srv?.bin, "bytes HAProxy sent to the server").to.equal(5000);
      expect(srv?.bout, "bytes it got back (greeting + echo)").to.equal(5000 + JSON.stringify(r.greeting).length + 1);
    });
  });
});
