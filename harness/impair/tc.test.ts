import { expect } from "chai";
import type { ExecOptions, ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";
import {
  classifyTcError,
  explicitRoot,
  firstLines,
  parseQdiscJson,
  showExplicitRoot,
  tcQdiscArgv,
  tcQdiscDelRootArgv,
  tcQdiscShowRootArgv,
} from "./tc";

describe("impair/tc", () => {
  it("builds qdisc argv", () => {
    expect(tcQdiscArgv("replace", "eth0", "netem", ["delay", "10ms"])).to.deep.equal([
      "tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "10ms",
    ]);
    expect(tcQdiscArgv("add", "lo", "tbf")).to.deep.equal(["tc", "qdisc", "add", "dev", "lo", "root", "tbf"]);
    expect(tcQdiscDelRootArgv("eth0")).to.deep.equal(["tc", "qdisc", "del", "dev", "eth0", "root"]);
    expect(tcQdiscShowRootArgv("eth0")).to.deep.equal(["tc", "-j", "qdisc", "show", "dev", "eth0", "root"]);
  });

  it("refuses bad device names and qdisc kinds", () => {
    expect(() => tcQdiscArgv("add", "a b", "netem")).to.throw(/invalid interface name/);
    expect(() => tcQdiscArgv("add", "eth0", "netem; rm")).to.throw(/invalid qdisc kind/);
  });

  it("parses `tc -j qdisc show` and finds an explicit root", () => {
    // Real output of this iproute2 (6.1) for a fresh interface and for one with a tbf root.
    const fresh = parseQdiscJson('[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]\n');
    expect(fresh).to.deep.equal([{ kind: "noqueue", handle: "0:", root: true, options: {} }]);
    expect(explicitRoot(fresh)).to.equal(undefined);
    const tbf = parseQdiscJson(
      '[{"kind":"tbf","handle":"8001:","root":true,"refcnt":2,"options":{"rate":125000,"burst":4096,"lat":400000}}]',
    );
    expect(explicitRoot(tbf)?.kind).to.equal("tbf");
    expect(explicitRoot(tbf)?.options).to.deep.equal({ rate: 125000, burst: 4096, lat: 400000 });
    expect(parseQdiscJson("")).to.deep.equal([]);
    expect(() => parseQdiscJson('{"kind":"x"}')).to.throw(/expected a JSON array/);
  });

  it("classifies tc errors", () => {
    expect(classifyTcError("Error: Specified qdisc kind is unknown.\n")).to.equal("kind-unknown");
    expect(classifyTcError("RTNETLINK answers: No such file or directory\n")).to.equal("kind-unknown");
    expect(classifyTcError('Cannot find device "eth9"\n')).to.equal("no-such-device");
    expect(classifyTcError("Error: Exclusivity flag on, cannot modify.\n")).to.equal("exclusive");
    expect(classifyTcError("Error: Cannot delete qdisc with handle of zero.\n")).to.equal("no-qdisc");
    expect(classifyTcError("something else\n")).to.equal("other");
  });

  it("firstLines keeps a short, one-line reason", () => {
    expect(firstLines({ stdout: "", stderr: "a\n\nb\nc\nd\n", code: 2 })).to.equal("a / b / c");
    expect(firstLines({ stdout: "out\n", stderr: "", code: 1 })).to.equal("out");
  });

  it("showExplicitRoot runs tc inside the node", async () => {
    const calls: { node: string; argv: readonly string[] }[] = [];
    const exec: NodeExec = {
      exec(node: string, argv: readonly string[], _opts?: ExecOptions): Promise<ExecResult> {
        calls.push({ node, argv });
        return Promise.resolve({ stdout: '[{"kind":"netem","handle":"8002:","root":true,"options":{}}]', stderr: "", code: 0 });
      },
    };
    expect((await showExplicitRoot(exec, "wan", "edge"))?.kind).to.equal("netem");
    expect(calls).to.deep.equal([{ node: "wan", argv: ["tc", "-j", "qdisc", "show", "dev", "edge", "root"] }]);
  });
});
