import { expect } from "chai";
import { IMPLEMENTATIONS } from "./impls";
import { notRunnable } from "./support";

describe("vpn/support: what this build runs", () => {
  it("runs every transport of every registered implementation", () => {
    for (const [t, i] of [["ctcp", "reference"], ["natt", "reference"], ["esp", "reference"], ["anyconnect", "reference"], ["anyconnect", "ocserv"], ["natt", "strongswan"]] as const) {
      expect(notRunnable({ impl: i, transport: t }), `${t}/${i}`).to.equal(undefined);
    }
  });
  it("says what it cannot run, and what it can", () => {
    expect(notRunnable({ impl: "ocserv", transport: "natt" })).to.match(/^transport natt with impl ocserv is not available in this build \(it runs reference: ctcp, natt, esp, anyconnect; ocserv: anyconnect; strongswan: natt\)$/);
    // an implementation missing from the registry (a build without it)
    const withoutOcserv = { reference: IMPLEMENTATIONS.reference, strongswan: IMPLEMENTATIONS.strongswan };
    expect(notRunnable({ impl: "ocserv", transport: "anyconnect" }, withoutOcserv)).to.equal("transport anyconnect with impl ocserv is not available in this build (it runs reference: ctcp, natt, esp, anyconnect; strongswan: natt)");
  });
});
