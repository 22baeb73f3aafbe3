import { expect } from "chai";
import { Progress } from "./progress";

describe("runtime/docker/progress", () => {
  it("writes plain lines without a terminal: start, every 10 s, end", () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress((s) => lines.push(s), false, () => t);
    p.begin("base: import", "vpnlab-base:k");
    t = 5000;
    p.update(1024);
    t = 10_500;
    p.update(2 * 1024 * 1024, "unpacking");
    t = 12_000;
    p.end("imported");
    expect(lines).to.deep.equal(["base: import: vpnlab-base:k\n", "base: import: 10.5 s, 2.0 MB — unpacking\n", "base: import: imported (12.0 s, 2.0 MB)\n"]);
  });

  it("rewrites one line on a terminal and ends it with a newline", () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress((s) => lines.push(s), true, () => t);
    p.begin("node: build");
    t = 300;
    p.update(500, "Step 2/6");
    t = 350; // under 100 ms since the last draw: not redrawn
    p.update(600, "Step 3/6");
    t = 1000;
    p.end("built");
    expect(lines.every((l) => l.startsWith("\r\x1b[K"))).to.equal(true);
    expect(lines.length).to.equal(3);
    expect(lines[1]).to.include("node: build 0.3 s 500 B Step 2/6");
    expect(lines[2]).to.equal("\r\x1b[Knode: build: built (1.0 s, 600 B)\n");
  });
});
