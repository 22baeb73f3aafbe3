// The overload sentinel: a process apart from everything under test. It
// carries no tunnel, no probe and no daemon; it only measures how late its own
// timer runs and tells the harness (one JSON line per stall, and a heartbeat).
// When it stalls, the host — not a VPN endpoint — held it up. It exits when its
// stdin closes, so it never outlives the harness that started it.
import { StallClock } from "./stalls";

const HEARTBEAT_MS = 100;
const write = (msg: object) => process.stdout.write(JSON.stringify(msg) + "\n");

const clock = new StallClock().start();
clock.onStall((s) => write({ stall: s }));
// a heartbeat first runs the clock: a stall that ends now is on the wire before the beat that follows it
setInterval(() => {
  clock.tick();
  write({ hb: Date.now() });
}, HEARTBEAT_MS);
write({ ready: process.pid, hb: Date.now() });
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdout.on("error", () => process.exit(0));
