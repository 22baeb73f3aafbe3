// The harness side of one agent: requests with replies, events as they come.
import type { ChildProcess } from "node:child_process";
import type { Runtime } from "../runtime/runtime";
import { encodeLine, LineReader, type AgentEvent, type Reply, type Request } from "./protocol";

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type Command = DistributiveOmit<Request, "id">;

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(e: AgentEvent) => void>();
  readonly events: AgentEvent[] = [];
  private exited?: string;

  private constructor(
    readonly node: string,
    private readonly child: ChildProcess,
  ) {
    const reader = new LineReader((m) => this.onMessage(m));
    child.stdout?.on("data", (c) => reader.push(c));
    child.on("exit", (code, signal) => {
      this.exited = `agent on ${node} exited (${signal ?? `code ${code}`})`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
    child.stdin?.on("error", () => undefined);
  }

  static async start(runtime: Runtime, node: string, logFile: string): Promise<AgentClient> {
    const child = runtime.spawn(node, runtime.harnessArgv("agent"), { logFile });
    const agent = new AgentClient(node, child);
    await agent.waitFor((e) => e.event === "ready", 10000, `agent on ${node} did not start (see ${logFile})`);
    return agent;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private onMessage(m: unknown): void {
    const msg = m as Partial<Reply> & Partial<AgentEvent>;
    if (typeof msg.id === "number") {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      const reply = msg as Reply;
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new Error(`agent on ${this.node}: ${reply.error}`));
      return;
    }
    const ev = msg as AgentEvent;
    this.events.push(ev);
    for (const l of this.listeners) l(ev);
  }

  request<T = unknown>(cmd: Command, timeoutMs = 15000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent on ${this.node}: no reply to ${cmd.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin?.write(encodeLine({ ...cmd, id }));
    });
  }

  /** Resolve with the first event (already seen or future) that matches. */
  waitFor<E extends AgentEvent = AgentEvent>(match: (e: AgentEvent) => boolean, timeoutMs: number, what: string): Promise<E> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen as E);
    return new Promise<E>((resolve, reject) => {
      const done = (err?: Error, ev?: AgentEvent) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        this.child.off("exit", onExit);
        if (err) reject(err);
        else resolve(ev as E);
      };
      const listener = (e: AgentEvent) => {
        if (match(e)) done(undefined, e);
      };
      const onExit = () => done(new Error(`${what}: ${this.exited ?? "agent exited"}`));
      const timer = setTimeout(() => done(new Error(`${what} (waited ${timeoutMs} ms)`)), timeoutMs);
      this.listeners.add(listener);
      this.child.once("exit", onExit);
      if (this.exited) onExit();
    });
  }

  /** Called once when the agent process exits, with how (signal or code). */
  onExit(l: (why: string) => void): void {
    if (this.exited) l(this.exited);
    else this.child.once("exit", () => l(this.exited ?? "exited"));
  }

  onEvent(l: (e: AgentEvent) => void): void {
    this.listeners.add(l);
  }
}
