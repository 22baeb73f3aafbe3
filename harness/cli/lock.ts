// An exclusive lock file between processes (two `vpnlab impair` on one held
// lab must not lose a fault). The lock is created complete: its content (the
// holder's pid, start time and a nonce) goes to a file of our own first, then
// link(2) puts it at the lock path — atomic, fails if a lock is there, and a
// reader never sees a half-written lock. A lock whose holder is gone is taken
// over by renaming it to a name of our own (only one taker wins the rename)
// and checking that what we moved is the dead holder's lock we judged.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { processStart } from "../runtime/state";

export interface LockOptions {
  /** Give up after this long behind a live holder (default 15 s). */
  waitMs?: number;
  /** Poll interval while a live holder has it (default 50 ms). */
  pollMs?: number;
  /** What is locked, for the timeout's message, e.g. "lab 1a2b3: its fault record". */
  what?: string;
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (errno(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Is the holder named in a lock's content still running (the same process: pid and start time)? */
function holderAlive(content: string): boolean {
  const [pid, start] = content.split(" ");
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return false;
  return start !== "" && processStart(n) === start;
}

/** Try once to put a fresh lock with `content` at `lock`: true when taken. */
function tryLink(lock: string, content: string): boolean {
  const tmp = `${lock}.${process.pid}.${randomBytes(6).toString("hex")}`;
  fs.writeFileSync(tmp, content, { flag: "wx" });
  try {
    fs.linkSync(tmp, lock);
    return true;
  } catch (e) {
    if (errno(e) === "EEXIST") return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Move a stale lock (content `seen`) out of the way. Only one of several takers wins the rename; the winner
 * checks that it moved the lock it judged — if a live holder's lock got there in between, it goes back.
 */
function takeOver(lock: string, seen: string): void {
  const moved = `${lock}.stale.${process.pid}.${randomBytes(6).toString("hex")}`;
  try {
    fs.renameSync(lock, moved);
  } catch (e) {
    if (errno(e) === "ENOENT") return; // another taker (or the holder) removed it first
    throw e;
  }
  const got = readOrUndefined(moved);
  if (got !== undefined && got !== seen && holderAlive(got)) {
    // a live holder's lock, not the dead one we read: put it back (link fails only if a lock is there again)
    try {
      fs.linkSync(moved, lock);
    } catch (e) {
      if (errno(e) !== "EEXIST") throw e;
    }
  }
  fs.rmSync(moved, { force: true });
}

/** Run `fn` holding the lock file `lock` (released after, even when `fn` throws). */
export async function withLockFile<T>(lock: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const waitMs = opts.waitMs ?? 15_000;
  const pollMs = opts.pollMs ?? 50;
  const mine = `${process.pid} ${processStart(process.pid) ?? ""} ${randomBytes(8).toString("hex")}`;
  const since = Date.now();
  for (;;) {
    if (tryLink(lock, mine)) break;
    const seen = readOrUndefined(lock);
    if (seen === undefined) continue; // its holder let it go between our link and our read: try again
    if (!holderAlive(seen)) {
      takeOver(lock, seen);
      continue;
    }
    if (Date.now() - since > waitMs) throw new Error(`${opts.what ?? lock} is locked by pid ${seen.split(" ")[0]} for more than ${waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  try {
    return await fn();
  } finally {
    // ours only: never remove a lock someone else holds
    if (readOrUndefined(lock) === mine) fs.rmSync(lock, { force: true });
  }
}
