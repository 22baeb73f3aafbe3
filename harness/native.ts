// Typed wrapper around the native addon (native/vpnlab_native.c, N-API):
// TUN devices, raw IPv4 sockets, SO_ORIGINAL_DST and an fd watcher on the
// libuv loop — the syscalls Node does not expose.
//
// The addon is loaded lazily, on the first call, so modules that import this
// file (and their unit tests) work on a machine where it was never built.
//
// Errors from syscalls are Errors "<op>(<arg>): <syscall>: <strerror>" with
// .code (errno name, e.g. "EPERM"), .errno (negative, as in Node) and
// .syscall; bad arguments are TypeErrors with .code "ERR_INVALID_ARG_*",
// thrown before any syscall.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Socket } from "node:net";

/** Where node-gyp puts the addon, from dist/harness/native.js (and harness/native.ts under ts-node). */
export const ADDON_PATH = path.join(__dirname, "..", "..", "build", "Release", "vpnlab_native.node");

export interface Watcher {
  /** Stop watching (idempotent). Does not close the fd. */
  close(): void;
  /** Let the process exit while this watcher is the only thing left in the loop. */
  unref(): void;
}

interface Addon {
  tunOpen(name: string): number;
  rawSocket(protocol: number, hdrincl: boolean): number;
  sendTo(fd: number, packet: Buffer, dstIp: string): number;
  writeFd(fd: number, packet: Buffer): number;
  closeFd(fd: number): void;
  watch(fd: number, onPacket: (packet: Buffer) => void, onError?: (err: Error) => void): Watcher;
  originalDst(fd: number): { address: string; port: number };
}

let addon: Addon | undefined;

function native(): Addon {
  if (addon) return addon;
  if (!fs.existsSync(ADDON_PATH)) {
    throw new Error(`native addon not built: run npm install (needs g++ and python3) — missing ${ADDON_PATH}`);
  }
  // A plain require: the path is computed, so TypeScript leaves it alone.
  addon = require(ADDON_PATH) as Addon;
  return addon;
}

/** Open a TUN device (IFF_TUN | IFF_NO_PI) named `name` in the CALLER's network namespace; returns a non-blocking fd. */
export function tunOpen(name: string): number {
  return native().tunOpen(name);
}

/** socket(AF_INET, SOCK_RAW, protocol), non-blocking, CLOEXEC. With hdrincl=true sets IP_HDRINCL (caller writes the whole IPv4 header). */
export function rawSocket(protocol: number, hdrincl: boolean): number {
  return native().rawSocket(protocol, hdrincl);
}

/** sendto() a datagram on a raw socket to dstIp (dotted quad). Returns bytes sent; throws Error with errno text on failure (EAGAIN/ENOBUFS included: caller decides). */
export function sendTo(fd: number, packet: Buffer, dstIp: string): number {
  return native().sendTo(fd, packet, dstIp);
}

/** write() a whole packet to an fd (TUN). Returns bytes written; throws on error. */
export function writeFd(fd: number, packet: Buffer): number {
  return native().writeFd(fd, packet);
}

/** close() an fd; any watch() on it is stopped first (libuv must not poll a closed fd). */
export function closeFd(fd: number): void {
  native().closeFd(fd);
}

/**
 * Watch a non-blocking fd with libuv (uv_poll) on the main loop; on readable,
 * read() repeatedly until EAGAIN, calling onPacket once per read (max 65536
 * bytes each; a raw socket delivers the whole IPv4 packet, header included).
 * close() stops watching (does not close the fd). The watcher keeps the event
 * loop alive until close(); unref() lets the process exit anyway.
 *
 * onError receives read errors (which also end the watch), end of file on a
 * non-datagram fd (code "EOF", also ends it), and anything onPacket throws
 * (the watch continues). Without onError — or if onError throws — the error
 * is raised as an uncaught exception, like an unhandled 'error' event.
 * At most 256 packets are delivered per loop turn, so one flooded fd does not
 * starve timers; the rest follow on the next turn.
 */
export function watch(
  fd: number,
  onPacket: (packet: Buffer) => void,
  onError?: (err: Error) => void,
): { close(): void; unref(): void } {
  return native().watch(fd, onPacket, onError);
}

/** getsockopt(SOL_IP, SO_ORIGINAL_DST) on a TCP socket fd: the destination before an nftables redirect. */
export function originalDst(fd: number): { address: string; port: number } {
  return native().originalDst(fd);
}

/** The fd behind a connected net.Socket (via its handle); throws if not available. */
export function socketFd(socket: Socket): number {
  // libuv stream handles expose their fd on Unix as `_handle.fd` (-1 once closed).
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    const state = socket.destroyed ? "destroyed" : handle ? "handle has no fd" : "not connected";
    throw new Error(`socketFd: no fd behind this socket (${state})`);
  }
  return fd;
}
