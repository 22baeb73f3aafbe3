import { expect } from "chai";
import { TopologyError, didYouMean, editDistance, nearest } from "./errors";

describe("topology errors", () => {
  it("formats file:line:col: key: detail", () => {
    const e = new TopologyError("t.yaml", 3, 7, "nodes.client.links[0].ip", "bad — fix it");
    expect(e.message).to.equal("t.yaml:3:7: nodes.client.links[0].ip: bad — fix it");
    expect(e).to.be.instanceOf(Error);
    expect(e.name).to.equal("TopologyError");
    expect([e.file, e.line, e.col, e.key, e.detail]).to.deep.equal(["t.yaml", 3, 7, "nodes.client.links[0].ip", "bad — fix it"]);
  });

  it("suggests the nearest known word only when it is close", () => {
    expect(editDistance("trasport", "transport")).to.equal(1);
    expect(editDistance("ab", "ba")).to.equal(1);
    expect(nearest("expcet", ["name", "expect", "chaos"])).to.equal("expect");
    expect(nearest("idle_timeout", ["idle-timeout", "mode"])).to.equal("idle-timeout");
    expect(nearest("delay", ["at", "on", "loss", "clear"])).to.equal(undefined);
    expect(didYouMean("prot", ["port", "pool"])).to.equal("did you mean `port`? ");
    expect(didYouMean("zzz", ["port"])).to.equal("");
  });
});
