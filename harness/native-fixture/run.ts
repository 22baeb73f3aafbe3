// Exercises harness/native inside a throwaway network namespace:
//   ip netns exec vlt-XXXX node dist/harness/native-fixture/run.js vlt-XXXX
// Prints ONE JSON line on stdout ({ step: StepResult } or { fatal }); harness/native.test.ts
// asserts on it. Refuses to run in the host's own namespace, because it
// creates a TUN interface and nftables rules.
import * as dgram from "node:dgram";
import * as net from "node:net";
import { execFileSync } from "node:child_process";
import * as native from "../native";

const TUN = "vlt0";
const TUN_ADDR = "10.99.0.1";
const PEER_ADDR = "10.99.0.2"; // "behind" the tun: routed into it, never answered by the kernel
const PEER_PORT = 9999;
const STEP_MS = 5000;

export interface StepResult {
  ok: boolean;
  detail: string;
  [key: string]: unknown;
}

// ---- packet building (by hand, with checksums) -------------------------------

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split(".").map((p) => Number(p)));
}

/** RFC 1071 ones'-complement sum over the given buffers, folded and inverted. */
export function checksum(...parts: Buffer[]): number {
  let sum = 0;
  const all = Buffer.concat(parts);
  for (let i = 0; i < all.length; i += 2) {
    sum += (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Header(src: string, dst: string, protocol: number, payloadLen: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45; // version 4, IHL 5
  h.writeUInt16BE(20 + payloadLen, 2);
  h.writeUInt16BE(Math.floor(Math.random() * 0xffff), 4); // id
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = 64; // TTL
  h[9] = protocol;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return h;
}

function pseudoHeader(src: string, dst: string, protocol: number, len: number): Buffer {
  const p = Buffer.alloc(12);
  ipBytes(src).copy(p, 0);
  ipBytes(dst).copy(p, 4);
  p[9] = protocol;
  p.writeUInt16BE(len, 10);
  return p;
}

export function udpPacket(src: string, sport: number, dst: string, dport: number, payload: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  const sum = checksum(pseudoHeader(src, dst, 17, 8 + payload.length), u, payload);
  u.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  return Buffer.concat([ipv4Header(src, dst, 17, 8 + payload.length), u, payload]);
}

const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

function tcpSyn(src: string, sport: number, dst: string, dport: number, seq: number): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t[12] = 5 << 4; // data offset, no options
  t[13] = TCP_SYN;
  t.writeUInt16BE(65535, 14); // window
  t.writeUInt16BE(checksum(pseudoHeader(src, dst, 6, 20), t), 16);
  return Buffer.concat([ipv4Header(src, dst, 6, 20), t]);
}

interface Ipv4 {
  version: number;
  protocol: number;
  src: string;
  dst: string;
  header: Buffer;
  payload: Buffer;
}

function parseIpv4(p: Buffer): Ipv4 | undefined {
  if (p.length < 20 || p[0] >> 4 !== 4) return undefined;
  const ihl = (p[0] & 0x0f) * 4;
  const total = p.readUInt16BE(2);
  return {
    version: 4,
    protocol: p[9],
    src: [...p.subarray(12, 16)].join("."),
    dst: [...p.subarray(16, 20)].join("."),
    header: p.subarray(0, ihl),
    payload: p.subarray(ihl, total),
  };
}

// ---- helpers ------------------------------------------------------------------

function sh(argv: string[], input?: string): void {
  execFileSync(argv[0], argv.slice(1), { input, stdio: ["pipe", "ignore", "pipe"] });
}

/** Resolves with the first value `test` returns (not undefined) for a packet, or rejects after STEP_MS. */
function waitFor<T>(
  what: string,
  subscribe: (handler: (p: Buffer) => void) => void,
  test: (p: Buffer) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_MS);
    subscribe((p) => {
      const v = test(p);
      if (v !== undefined) {
        clearTimeout(timer);
        resolve(v);
      }
    });
  });
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function errInfo(e: unknown): { message: string; code?: unknown; errno?: unknown; syscall?: unknown } {
  const err = e as NodeJS.ErrnoException;
  return { message: String(err?.message ?? e), code: err?.code, errno: err?.errno, syscall: err?.syscall };
}

// ---- steps -------------------------------------------------------------------------

/** tunOpen + watch: a UDP datagram routed to the tun arrives as an IPv4 packet on the fd. */
async function stepTunRead(tunFd: number): Promise<StepResult> {
  let handler: (p: Buffer) => void = () => undefined;
  const w = native.watch(tunFd, (p) => handler(p));
  const sock = dgram.createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, TUN_ADDR, () => r()));
    const sport = sock.address().port;
    const payload = Buffer.from("hello-tun");
    const got = waitFor(
      "UDP packet on the tun fd",
      (h) => (handler = h),
      (p) => {
        const ip = parseIpv4(p);
        if (!ip || ip.protocol !== 17 || ip.dst !== PEER_ADDR) return undefined;
        if (ip.payload.readUInt16BE(2) !== PEER_PORT || !ip.payload.subarray(8).equals(payload)) return undefined;
        // Our checksum code must agree with the kernel's: the sum over the
        // pseudo-header and the datagram (checksum field included) is 0.
        const udpSumOk = checksum(pseudoHeader(ip.src, ip.dst, 17, ip.payload.length), ip.payload) === 0;
        const ipSumOk = checksum(ip.header) === 0;
        return { src: ip.src, sport: ip.payload.readUInt16BE(0), length: p.length, udpSumOk, ipSumOk };
      },
    );
    sock.send(payload, PEER_PORT, PEER_ADDR);
    const r = await got;
    const ok = r.src === TUN_ADDR && r.sport === sport && r.udpSumOk && r.ipSumOk;
    return { ok, detail: `packet ${r.length} bytes from ${r.src}:${r.sport}`, ...r };
  } finally {
    w.close();
    sock.close();
  }
}

/** writeFd: a hand-built IPv4/UDP packet written into the tun is delivered to a local socket. */
async function stepTunWrite(tunFd: number): Promise<StepResult> {
  const sock = dgram.createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, TUN_ADDR, () => r()));
    const port = sock.address().port;
    const payload = Buffer.from("hello-back");
    const got = new Promise<{ msg: string; address: string; port: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for the datagram written into the tun")), STEP_MS);
      sock.on("message", (msg, rinfo) => {
        clearTimeout(timer);
        resolve({ msg: msg.toString(), address: rinfo.address, port: rinfo.port });
      });
    });
    const pkt = udpPacket(PEER_ADDR, PEER_PORT, TUN_ADDR, port, payload);
    const written = native.writeFd(tunFd, pkt);
    const r = await got;
    const ok = written === pkt.length && r.msg === "hello-back" && r.address === PEER_ADDR && r.port === PEER_PORT;
    return { ok, detail: `wrote ${written}/${pkt.length}, got "${r.msg}" from ${r.address}:${r.port}`, written, ...r };
  } finally {
    sock.close();
  }
}

/** Opening the same tun twice fails with a JS Error carrying errno name and text. */
function stepTunBusy(): StepResult {
  try {
    const fd = native.tunOpen(TUN);
    native.closeFd(fd);
    return { ok: false, detail: "second tunOpen of an attached tun unexpectedly succeeded" };
  } catch (e) {
    const info = errInfo(e);
    const ok = info.code === "EBUSY" && info.message === `tunOpen(${TUN}): TUNSETIFF: Device or resource busy`;
    return { ok, detail: info.message, ...info };
  }
}

/** rawSocket(6, true) + sendTo: a hand-built SYN to a listening server; the SYN-ACK shows up on a rawSocket(6, false) watch. */
async function stepRawSyn(): Promise<StepResult> {
  const server = net.createServer();
  const tx = native.rawSocket(6, true);
  const rx = native.rawSocket(6, false);
  let handler: (p: Buffer) => void = () => undefined;
  const w = native.watch(rx, (p) => handler(p));
  try {
    const dport = await listen(server, 0, "127.0.0.1");
    const sport = 40000 + Math.floor(Math.random() * 20000);
    const seq = Math.floor(Math.random() * 0xffffffff);
    const got = waitFor(
      "SYN-ACK on the raw socket",
      (h) => (handler = h),
      (p) => {
        const ip = parseIpv4(p); // a raw socket read is the whole IPv4 packet
        if (!ip || ip.protocol !== 6 || ip.payload.length < 20) return undefined;
        const t = ip.payload;
        if (t.readUInt16BE(0) !== dport || t.readUInt16BE(2) !== sport) return undefined;
        if ((t[13] & (TCP_SYN | TCP_ACK | TCP_RST)) !== (TCP_SYN | TCP_ACK)) return undefined;
        return { ack: t.readUInt32BE(8), from: ip.src, to: ip.dst };
      },
    );
    const pkt = tcpSyn("127.0.0.1", sport, "127.0.0.1", dport, seq);
    const sent = native.sendTo(tx, pkt, "127.0.0.1");
    const r = await got;
    const ok = sent === pkt.length && r.ack === ((seq + 1) >>> 0);
    return { ok, detail: `sent ${sent} bytes, SYN-ACK ack=${r.ack} (seq+1=${(seq + 1) >>> 0})`, sent, ...r };
  } finally {
    w.close();
    native.closeFd(tx);
    native.closeFd(rx);
    server.close();
  }
}

/** originalDst: an nftables redirect 7777 -> 7778 (and 7780 -> 7779 to a dual-stack "::" listener). */
async function stepOriginalDst(): Promise<StepResult> {
  sh(["nft", "-f", "-"], [
    "table ip vlt_native_test {",
    "  chain out {",
    "    type nat hook output priority -100;",
    "    tcp dport 7777 redirect to :7778",
    "    tcp dport 7780 redirect to :7779",
    "  }",
    "}",
    "",
  ].join("\n"));
  const probe = async (listenHost: string, realPort: number, asked: number) => {
    const server = net.createServer();
    const clients: net.Socket[] = [];
    try {
      await listen(server, realPort, listenHost);
      const accepted = new Promise<{ address: string; port: number; fd: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for the redirected connection to ${asked}`)), STEP_MS);
        server.on("connection", (s) => {
          clearTimeout(timer);
          try {
            const fd = native.socketFd(s);
            resolve({ ...native.originalDst(fd), fd });
          } catch (e) {
            reject(e);
          } finally {
            s.destroy();
          }
        });
      });
      clients.push(net.connect(asked, "127.0.0.1").on("error", () => undefined));
      return await accepted;
    } finally {
      clients.forEach((c) => c.destroy());
      server.close();
    }
  };
  const v4 = await probe("127.0.0.1", 7778, 7777);
  const dual = await probe("::", 7779, 7780);
  const ok = v4.address === "127.0.0.1" && v4.port === 7777 && dual.port === 7780;
  return { ok, detail: `v4 ${v4.address}:${v4.port}, dual-stack ${dual.address}:${dual.port}`, v4, dual };
}

/** socketFd on a socket without a handle throws a clear error. */
function stepSocketFdUnconnected(): StepResult {
  try {
    native.socketFd(new net.Socket());
    return { ok: false, detail: "socketFd of an unconnected socket returned" };
  } catch (e) {
    const info = errInfo(e);
    return { ok: /socketFd: no fd behind this socket/.test(info.message), detail: info.message };
  }
}

/** An exception thrown by onPacket reaches onError (and the watch keeps going); closeFd stops the watch. */
async function stepWatchErrors(): Promise<StepResult> {
  const rx = native.rawSocket(17, false);
  const sock = dgram.createSocket("udp4");
  let packets = 0;
  const errors: string[] = [];
  let closeWatcher = (): void => undefined;
  try {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for two packets and errors")), STEP_MS);
      const w = native.watch(
        rx,
        () => {
          packets++;
          throw new Error(`boom ${packets}`);
        },
        (err) => {
          errors.push(err.message);
          if (errors.length === 2) {
            clearTimeout(timer);
            resolve();
          }
        },
      );
      closeWatcher = () => w.close();
    });
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    sock.send("one", 9, "127.0.0.1");
    setTimeout(() => sock.send("two", 9, "127.0.0.1"), 50);
    await done;
    return { ok: packets >= 2 && errors[0] === "boom 1" && errors[1] === "boom 2", detail: errors.join(", "), packets, errors };
  } finally {
    native.closeFd(rx); // stops the watcher first
    closeWatcher(); // and a close() afterwards is a harmless no-op
    sock.close();
  }
}

/** Without onError, an exception thrown by onPacket becomes an 'uncaughtException' (never silently dropped). */
async function stepWatchUncaught(): Promise<StepResult> {
  const rx = native.rawSocket(17, false);
  const sock = dgram.createSocket("udp4");
  const w = native.watch(rx, () => {
    throw new Error("unhandled boom");
  });
  try {
    const caught = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no uncaughtException within the step time")), STEP_MS);
      process.once("uncaughtException", (err) => {
        clearTimeout(timer);
        resolve(err.message);
      });
    });
    sock.send("x", 9, "127.0.0.1");
    const message = await caught;
    return { ok: message === "unhandled boom", detail: `uncaughtException: ${message}` };
  } finally {
    w.close();
    native.closeFd(rx);
    sock.close();
  }
}

// ---- main -----------------------------------------------------------------------

async function main(): Promise<void> {
  // Guard: only inside the named namespace the test created for us.
  const expectedNs = process.argv[2] ?? "";
  const currentNs = execFileSync("ip", ["netns", "identify"], { encoding: "utf8" }).trim();
  if (!expectedNs.startsWith("vlt-") || currentNs !== expectedNs) {
    const fatal = `refusing to run outside the throwaway namespace (expected ${expectedNs || "an argument vlt-..."}, in ${currentNs || "the host's"})`;
    process.stdout.write(JSON.stringify({ fatal }) + "\n");
    process.exitCode = 2;
    return;
  }
  const result: Record<string, StepResult> = {};
  const step = async (name: string, fn: () => StepResult | Promise<StepResult>) => {
    try {
      result[name] = await fn();
    } catch (e) {
      result[name] = { ok: false, detail: `threw: ${errInfo(e).message}`, error: errInfo(e) };
    }
  };

  sh(["ip", "link", "set", "dev", "lo", "up"]);
  let tunFd = -1;
  await step("tunOpen", () => {
    tunFd = native.tunOpen(TUN);
    sh(["ip", "link", "set", "dev", TUN, "up"]);
    sh(["ip", "addr", "add", `${TUN_ADDR}/24`, "dev", TUN]);
    return { ok: tunFd >= 0, detail: `fd ${tunFd}`, fd: tunFd };
  });
  if (tunFd >= 0) {
    await step("tunRead", () => stepTunRead(tunFd));
    await step("tunWrite", () => stepTunWrite(tunFd));
    await step("tunBusy", () => stepTunBusy());
  }
  await step("rawSyn", stepRawSyn);
  await step("originalDst", stepOriginalDst);
  await step("socketFdUnconnected", stepSocketFdUnconnected);
  await step("watchErrors", stepWatchErrors);
  await step("watchUncaught", stepWatchUncaught);
  if (tunFd >= 0) native.closeFd(tunFd);

  // A watcher that is never closed but unref()'d must not keep us alive:
  // the process has to exit by itself (the test times out otherwise).
  const lingering = native.rawSocket(1, false);
  native.watch(lingering, () => undefined).unref();

  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: errInfo(e).message }) + "\n");
  process.exitCode = 1;
});
