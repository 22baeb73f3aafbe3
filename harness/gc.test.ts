import { expect } from "chai";
import { countByKind } from "./gc";

describe("gc report", () => {
  it("counts what it removed by kind, namespaces always named (the line scripts and the lifecycle suite read)", () => {
    expect(countByKind([])).to.equal("0 namespace(s)");
    expect(countByKind(["namespace vl-a1b2c-client", "namespace vl-a1b2c-wan"])).to.equal("2 namespace(s)");
    expect(countByKind(["container vl-a1b2c-client", "namespace link vl-a1b2c-client", "container vl-a1b2c-wan"])).to.equal("2 container(s), 1 namespace(s)");
  });
});
