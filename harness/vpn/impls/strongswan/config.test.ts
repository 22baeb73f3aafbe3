import { expect } from "chai";
import { charonDpd, charonPaths, keptMountPoint, poolRange, privateRunArgv, strongswanConf, swanctlArgv, swanctlConf, type SwanctlConfInput } from "./config";

describe("vpn/impls/strongswan/config", () => {
  const base: SwanctlConfInput = {
    side: "client",
    localId: "client",
    remoteId: "headend",
    localAddr: "203.0.113.10",
    remoteAddr: "198.51.100.1",
    port: 4500,
    psk: "c2VjcmV0c2VjcmV0c2VjcmV0",
    protectedNets: [{ addr: "10.10.0.20", prefix: 24 }, { addr: "10.20.0.0", prefix: 16 }],
    pool: { addr: "172.29.0.0", prefix: 24 },
    dpd: charonDpd({ intervalMs: 1000, retries: 3 }),
  };
  const lines = (text: string): string[] => text.split("\n").map((l) => l.trim());

  it("maps the topology's DPD: first probe after the interval, given up after `retries` intervals", () => {
    expect(charonDpd({ intervalMs: 1000, retries: 3 })).to.deep.equal({ delayS: 1, retransmit: { timeoutS: 1, tries: 2 } });
    // dpd_delay takes whole seconds; the retransmission keeps the exact interval
    expect(charonDpd({ intervalMs: 300, retries: 5 })).to.deep.equal({ delayS: 1, retransmit: { timeoutS: 0.3, tries: 4 } });
    expect(charonDpd({ intervalMs: 2500, retries: 1 })).to.deep.equal({ delayS: 3, retransmit: { timeoutS: 2.5, tries: 0 } });
    expect(charonDpd(null)).to.deep.equal({ delayS: 0 });
  });

  it("hands out client addresses from .2, keeping .1 for the headend as the reference does", () => {
    expect(poolRange({ addr: "172.29.0.0", prefix: 24 })).to.equal("172.29.0.2-172.29.0.254");
    expect(poolRange({ addr: "10.9.8.7", prefix: 29 })).to.equal("10.9.8.2-10.9.8.6");
    expect(() => poolRange({ addr: "10.0.0.0", prefix: 31 })).to.throw(/too small/);
  });

  it("client: IKEv2, PSK, forced UDP encapsulation on the NAT-T port both ways, a virtual IP, the headend's nets as remote_ts", () => {
    const l = lines(swanctlConf(base));
    for (const want of ["version = 2", "encap = yes", "local_port = 4500", "remote_port = 4500", "vips = 0.0.0.0", "remote_addrs = 198.51.100.1",
      "remote_ts = 10.10.0.0/24,10.20.0.0/16", "esp_proposals = aes128gcm16", "dpd_delay = 1s", "dpd_action = clear", "secret = 0sc2VjcmV0c2VjcmV0c2VjcmV0"]) {
      expect(l, want).to.include(want);
    }
    expect(l.some((x) => x.startsWith("pools") || x.startsWith("local_ts"))).to.equal(false);
  });

  it("headend: answers anyone, gives the pool, protects its nets; no DPD when the topology says off", () => {
    const l = lines(swanctlConf({ ...base, side: "headend", localId: "headend", remoteId: "client", remoteAddr: "%any", dpd: charonDpd(null) }));
    for (const want of ["remote_addrs = %any", "pools = pool", "addrs = 172.29.0.2-172.29.0.254", "local_ts = 10.10.0.0/24,10.20.0.0/16", "dpd_action = none"]) {
      expect(l, want).to.include(want);
    }
    expect(l.some((x) => x.startsWith("dpd_delay") || x.startsWith("vips"))).to.equal(false);
  });

  it("refuses what would not be a plain config value", () => {
    expect(() => swanctlConf({ ...base, localId: "a b" })).to.throw(/identity/);
    expect(() => swanctlConf({ ...base, psk: 'x"}' })).to.throw(/base64/);
    expect(() => swanctlConf({ ...base, protectedNets: [] })).to.throw(/protects no network/);
  });

  it("strongswan.conf: its own plugin list (no /etc include), the NAT-T port, its own socket, the DPD retransmission", () => {
    const l = lines(strongswanConf({ viciUri: "unix:///run/vpnlab/abcde/charon-client.vici", port: 4500, dpd: charonDpd({ intervalMs: 1000, retries: 3 }) }));
    expect(l.find((x) => x.startsWith("load ="))).to.include("kernel-libipsec").and.include("socket-default").and.include("vici").and.include("kdf");
    for (const want of ["load_modular = no", "port_nat_t = 4500", "socket = unix:///run/vpnlab/abcde/charon-client.vici", "retransmit_timeout = 1", "retransmit_base = 1.0", "retransmit_tries = 2"]) {
      expect(l, want).to.include(want);
    }
    expect(l.some((x) => x.includes("include"))).to.equal(false);
    expect(lines(strongswanConf({ viciUri: "unix:///x", port: 4500, dpd: charonDpd(null) })).some((x) => x.startsWith("retransmit"))).to.equal(false);
  });

  it("every path lives in the lab's run directory; swanctl gets them as environment and --uri", () => {
    const p = charonPaths("/run/vpnlab/abcde", "client");
    expect(Object.values(p).every((v) => v.includes("/run/vpnlab/abcde/"))).to.equal(true);
    expect(swanctlArgv(p, ["--list-sas"])).to.deep.equal(["env", "STRONGSWAN_CONF=/run/vpnlab/abcde/strongswan-client.conf",
      "SWANCTL_DIR=/run/vpnlab/abcde/swanctl-client", "swanctl", "--list-sas", "--uri", "unix:///run/vpnlab/abcde/charon-client.vici"]);
  });

  it("the private /run wrapper takes every path as an argument, and shows the lab directory at its own path", () => {
    const argv = privateRunArgv("/run/vpnlab/abcde/run-client", "/run/vpnlab/abcde", ["/usr/lib/ipsec/charon"]);
    expect(argv.slice(0, 2)).to.deep.equal(["sh", "-c"]);
    expect(argv[2]).to.not.include("vpnlab/abcde");
    expect(argv.slice(4)).to.deep.equal(["/run/vpnlab/abcde/run-client", "/run/vpnlab/abcde", "/usr/lib/ipsec/charon"]);
    expect(keptMountPoint("/run/vpnlab/abcde/run-client", "/run/vpnlab/abcde")).to.equal("/run/vpnlab/abcde/run-client/vpnlab/abcde");
    expect(() => privateRunArgv("/tmp/x/run", "/tmp/x", ["true"])).to.throw(/not under \/run/);
  });
});
