// The progress of a long build step (debootstrap, an import, a docker build):
// one status line rewritten in place on a terminal (stage, elapsed, bytes, what
// the step says), plain lines when the output is a log (start, every 10 s, end).

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** One status line rewritten in place on a terminal; plain lines (start, every 10 s, end) otherwise. */
export class Progress {
  private stage = "";
  private started = 0;
  private bytes = 0;
  private note = "";
  private lastDraw = 0;
  private lastLine = 0;
  private readonly tty: boolean;

  constructor(
    private readonly write: (s: string) => void,
    tty: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = tty;
  }

  begin(stage: string, note = ""): void {
    this.stage = stage;
    this.started = this.now();
    this.bytes = 0;
    this.note = note;
    this.lastLine = this.started;
    if (!this.tty) this.write(`${stage}: ${note || "started"}\n`);
    else this.draw(true);
  }

  update(bytes: number, note?: string): void {
    this.bytes = bytes;
    if (note !== undefined) this.note = note;
    if (this.tty) this.draw(false);
    else if (this.now() - this.lastLine >= 10_000) {
      this.lastLine = this.now();
      this.write(`${this.stage}: ${this.elapsed()}, ${humanBytes(this.bytes)}${this.note ? ` — ${this.note}` : ""}\n`);
    }
  }

  end(result: string): void {
    const line = `${this.stage}: ${result} (${this.elapsed()}${this.bytes ? `, ${humanBytes(this.bytes)}` : ""})`;
    this.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }

  /** A message of its own, not a status. */
  say(s: string): void {
    this.write(this.tty ? `\r\x1b[K${s}\n` : `${s}\n`);
  }

  private elapsed(): string {
    return `${((this.now() - this.started) / 1000).toFixed(1)} s`;
  }

  private draw(force: boolean): void {
    if (!force && this.now() - this.lastDraw < 100) return;
    this.lastDraw = this.now();
    const text = `${this.stage} ${this.elapsed()} ${humanBytes(this.bytes)} ${this.note}`;
    const width = process.stderr.columns || 100;
    this.write(`\r\x1b[K${text.slice(0, width - 1)}`);
  }
}
