// One request, one reply over a unix stream socket: how the harness talks to
// the proxies' control sockets (HAProxy's admin CLI, the builtin proxy's
// stats). The server answers and closes; the reply is everything until EOF.
import * as net from "node:net";

export function unixRequest(socketPath: string, request: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${socketPath}: no complete reply to ${JSON.stringify(request.trim())} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(request.endsWith("\n") ? request : `${request}\n`));
    sock.on("data", (b: Buffer) => chunks.push(b));
    sock.on("error", (e: Error) => {
      clearTimeout(timer);
      reject(new Error(`${socketPath}: ${e.message}`));
    });
    sock.on("end", () => {
      clearTimeout(timer);
      sock.end();
      resolve(Buffer.concat(chunks).toString());
    });
  });
}
