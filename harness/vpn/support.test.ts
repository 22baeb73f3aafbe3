import { expect } from "chai";
import { notRunnable } from "./support";

describe("vpn/support: what this build runs", () => {
  it("runs the reference ctcp and natt", () => {
    expect(notRunnable({ impl: "reference", transport: "ctcp" })).to.equal(undefined);
    expect(notRunnable({ impl: "reference", transport: "natt" })).to.equal(undefined);
  });
  it("says what it cannot run, and what it can", () => {
    expect(notRunnable({ impl: "reference", transport: "esp" })).to.equal("transport esp with impl reference is not available in this build (it runs reference: ctcp, natt)");
    expect(notRunnable({ impl: "ocserv", transport: "anyconnect" })).to.match(/^transport anyconnect with impl ocserv is not available/);
    expect(notRunnable({ impl: "strongswan", transport: "natt" })).to.match(/^transport natt with impl strongswan is not available/);
  });
});
