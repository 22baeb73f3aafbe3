import { expect } from "chai";
import { isRoot, Netns } from "../../testkit/netns";
import { rstSuppressionRuleset, RST_TABLE } from "./ctcp";

describe("vpn/transports/ctcp RST suppression", function () {
  this.timeout(30000);

  it("drops only the kernel's RSTs from the raw socket's own port, in OUTPUT", () => {
    const text = rstSuppressionRuleset(10000);
    expect(text).to.contain(`table inet ${RST_TABLE}`);
    expect(text).to.contain("type filter hook output priority 0; policy accept;");
    expect(text).to.match(/tcp sport 10000 tcp flags & rst == rst counter drop/);
    expect(text).to.not.match(/hook (input|forward|prerouting)/);
  });

  it("is accepted by nft and keeps a kernel RST off the wire (throwaway namespace)", async function () {
    if (!isRoot()) this.skip(); // needs root: network namespaces
    const ns = await Netns.create("ctcp");
    try {
      await ns.exec(["nft", "-f", "-"], { input: rstSuppressionRuleset(7777) });
      // a connection to a closed port makes the kernel answer with a RST from port 7777
      const r = await ns.exec(
        [process.execPath, "-e", "const s=require('net').connect(7777,'127.0.0.1');s.on('error',e=>console.log(e.code));setTimeout(()=>{console.log('timeout');process.exit(0)},1500)"],
        { allowFailure: true },
      );
      // without the rule this is ECONNREFUSED at once; with it the RST is dropped and the SYN goes unanswered
      expect(r.stdout.trim(), r.stderr).to.equal("timeout");
      const counters = await ns.exec(["nft", "list", "table", "inet", RST_TABLE]);
      expect(counters.stdout).to.match(/counter packets [1-9]/);
    } finally {
      await ns.destroy();
    }
  });
});
