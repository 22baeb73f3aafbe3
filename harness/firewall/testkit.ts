// Test support for the firewall tests: a TCP echo server and client to run in
// throwaway namespaces, and a three-node client — firewall — server line.
import { randomBytes } from "node:crypto";
import { run } from "../exec";
import { stopProcess } from "../exec";
import { Netns } from "../testkit/netns";

export { isRoot, netnsExec, Netns, waitEvent } from "../testkit/netns";

/**
 * TCP echo server: greets each connection with `{"from":"<listen ip:port>","peer":"<ip:port>"}\n`
 * (so a test sees which address it reached and who connected), then echoes.
 * Prints {"event":"ready"}.
 */
export const ECHO_SERVER = `
const net = require("net");
const [host, port] = [process.argv[1], Number(process.argv[2])];
net.createServer((s) => {
  s.on("error", () => {});
  s.write(JSON.stringify({ from: host + ":" + port, peer: s.remoteAddress.replace(/^::ffff:/, "") + ":" + s.remotePort }) + "\\n");
  s.pipe(s);
}).listen(port, host, () => console.log(JSON.stringify({ event: "ready" })));
`;

/**
 * TCP client: connects to host:port (optionally from localAddress), sends
 * `bytes` bytes, reads the greeting line and the echo, then prints
 * {"event":"ready","greeting":{...},"echoed":N} and exits.
 */
export const ECHO_CLIENT = `
const net = require("net");
const [host, port, bytes, localAddress] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), process.argv[4] || undefined];
const c = net.connect({ host, port, localAddress });
let buf = Buffer.alloc(0);
c.on("connect", () => c.write(Buffer.alloc(bytes, 0x61)));
c.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  const nl = buf.indexOf(10);
  if (nl >= 0 && buf.length - nl - 1 >= bytes) {
    console.log(JSON.stringify({ event: "ready", greeting: JSON.parse(buf.subarray(0, nl).toString()), echoed: buf.length - nl - 1 }));
    c.end();
  }
});
c.on("error", (e) => { console.error(e.message); process.exit(2); });
setTimeout(() => { console.error("timeout, got " + buf.length + " bytes"); process.exit(3); }, 8000);
`;

/**
 * client (10.201.1.2) — fw (10.201.1.1 | 10.201.2.1) — server (10.201.2.2):
 * veth pairs created inside the namespaces, the firewall forwards.
 */
export interface Line3 {
  client: Netns;
  fw: Netns;
  server: Netns;
  destroy(): Promise<void>;
}

export async function createLine3(): Promise<Line3> {
  const hex = randomBytes(3).toString("hex");
  const made: Netns[] = [];
  const destroy = async (): Promise<void> => {
    for (const ns of made.splice(0).reverse()) await ns.destroy();
  };
  try {
    const client = await Netns.create("c", hex);
    made.push(client);
    const fw = await Netns.create("fw", hex);
    made.push(fw);
    const server = await Netns.create("s", hex);
    made.push(server);
    await run(["ip", "link", "add", "e0", "netns", client.name, "type", "veth", "peer", "name", "c0", "netns", fw.name]);
    await run(["ip", "link", "add", "s0", "netns", fw.name, "type", "veth", "peer", "name", "e0", "netns", server.name]);
    const cfg: [Netns, string, string][] = [
      [client, "e0", "10.201.1.2/24"],
      [fw, "c0", "10.201.1.1/24"],
      [fw, "s0", "10.201.2.1/24"],
      [server, "e0", "10.201.2.2/24"],
    ];
    for (const [ns, dev, ip] of cfg) {
      await ns.exec(["ip", "addr", "add", ip, "dev", dev]);
      await ns.exec(["ip", "link", "set", dev, "up"]);
    }
    await client.exec(["ip", "route", "add", "default", "via", "10.201.1.1"]);
    await server.exec(["ip", "route", "add", "default", "via", "10.201.2.1"]);
    await fw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    return { client, fw, server, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** Entries in a namespace's conntrack table that mention `port` (as sport= or dport=). */
export async function conntrackEntries(ns: Netns, port: number): Promise<string[]> {
  const r = await ns.exec(["cat", "/proc/net/nf_conntrack"], { allowFailure: true });
  return r.stdout.split("\n").filter((l) => l.includes(`port=${port} `));
}

export interface EchoResult {
  greeting: { from: string; peer: string };
  echoed: number;
}

/** One ECHO_CLIENT connection from `ns` to host:port; what the server said and how much came back. */
export async function echoRoundTrip(ns: Netns, host: string, port: number, bytes: number, localAddress?: string): Promise<EchoResult> {
  const { child, ready } = await ns.node(ECHO_CLIENT, [host, String(port), String(bytes), ...(localAddress ? [localAddress] : [])]);
  await stopProcess(child);
  return ready as unknown as EchoResult;
}
