// Docker engines by URL, as users write them (--engine, DOCKER_HOST, a config
// file's engines:): unix:///path, tcp://host:port, ssh://user@host[:port].
// Pure: turns a URL into dockerode's connection options and says whether the
// engine is on this host (the docker runtime reaches a container's network
// namespace by its PID, which only a local engine's containers have here).
import * as fs from "node:fs";
import * as path from "node:path";

/** What dockerode's constructor takes (the subset we set). */
export interface EngineOptions {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: "http" | "https" | "ssh";
  username?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface Engine {
  /** The URL as given, normalised (unix:///run/docker.sock): results name the engine by it. */
  url: string;
  options: EngineOptions;
  /** Its containers are processes of this host (a unix socket): their namespaces are reachable by PID. */
  local: boolean;
}

export const DEFAULT_ENGINE = "unix:///var/run/docker.sock";

/** TLS material the docker CLI would use for tcp:// (DOCKER_TLS_VERIFY + DOCKER_CERT_PATH). */
function tlsFromEnv(env: NodeJS.ProcessEnv): Pick<EngineOptions, "ca" | "cert" | "key"> | undefined {
  if (!env.DOCKER_TLS_VERIFY || env.DOCKER_TLS_VERIFY === "0") return undefined;
  const dir = env.DOCKER_CERT_PATH ?? path.join(env.HOME ?? "/root", ".docker");
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  return { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
}

/** unix:///path, /path, tcp://host:port, http(s)://host:port, ssh://[user@]host[:port]; anything else throws saying what is accepted. */
export function parseEngine(text: string, env: NodeJS.ProcessEnv = process.env): Engine {
  const s = text.trim();
  const accepted = "use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host";
  if (s === "") throw new Error(`an empty Docker engine URL — ${accepted}`);
  if (s.startsWith("/")) return { url: `unix://${s}`, options: { socketPath: s }, local: true };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`Docker engine "${text}" is not a URL — ${accepted}`);
  }
  switch (u.protocol) {
    case "unix:": {
      const p = decodeURIComponent(u.pathname);
      if (!p.startsWith("/") || u.host !== "") throw new Error(`Docker engine "${text}": a unix socket needs an absolute path (unix:///run/docker.sock)`);
      return { url: `unix://${p}`, options: { socketPath: p }, local: true };
    }
    case "tcp:":
    case "http:":
    case "https:": {
      if (!u.hostname) throw new Error(`Docker engine "${text}" names no host`);
      const tls = u.protocol === "https:" || (u.protocol === "tcp:" && tlsFromEnv(env) !== undefined);
      const port = u.port ? Number(u.port) : tls ? 2376 : 2375;
      const options: EngineOptions = { host: u.hostname, port, protocol: tls ? "https" : "http", ...(tls ? tlsFromEnv(env) : {}) };
      return { url: `${u.protocol === "tcp:" ? "tcp" : u.protocol.slice(0, -1)}://${u.hostname}:${port}`, options, local: false };
    }
    case "ssh:": {
      if (!u.hostname) throw new Error(`Docker engine "${text}" names no host`);
      const port = u.port ? Number(u.port) : 22;
      const username = u.username ? decodeURIComponent(u.username) : undefined;
      return { url: `ssh://${username ? `${username}@` : ""}${u.hostname}:${port}`, options: { protocol: "ssh", host: u.hostname, port, ...(username ? { username } : {}) }, local: false };
    }
    default:
      throw new Error(`Docker engine "${text}": ${u.protocol.slice(0, -1)} is not a transport Docker speaks — ${accepted}`);
  }
}

/** The one engine of a lab or command that names none: the URL given, else DOCKER_HOST, else the default local socket. */
export function engineOf(url?: string, env: NodeJS.ProcessEnv = process.env): Engine {
  return parseEngine(url || env.DOCKER_HOST || DEFAULT_ENGINE, env);
}

/**
 * The engines of a run: every --engine given; else the config file's engines:;
 * else VPNLAB_ENGINES (a comma list, as CI sets it); else DOCKER_HOST; else the
 * default local socket. Duplicates (after normalising) are one engine.
 */
export function chooseEngines(cli: readonly string[] | undefined, config: readonly string[] | undefined, env: NodeJS.ProcessEnv = process.env): Engine[] {
  const list =
    cli && cli.length > 0
      ? cli.flatMap((c) => c.split(","))
      : config && config.length > 0
        ? [...config]
        : env.VPNLAB_ENGINES
          ? env.VPNLAB_ENGINES.split(",")
          : [env.DOCKER_HOST || DEFAULT_ENGINE];
  const engines = list.filter((x) => x.trim() !== "").map((x) => parseEngine(x, env));
  const seen = new Set<string>();
  return engines.filter((e) => (seen.has(e.url) ? false : (seen.add(e.url), true)));
}
