import { expect } from "chai";
import { engineObjects } from "./gc";

const A = "unix:///run/a.sock";
const B = "unix:///run/b.sock";

describe("gc over several engines: which engine holds a lab", () => {
  it("puts a lab on the engine that alone lists its containers; the namespaces every engine lists are the host's", () => {
    const links = ["namespace link vl-a1b2c-client", "namespace link vl-a1b2c-wan"];
    const found = engineObjects(
      new Map([
        [A, new Map([["a1b2c", links]])],
        [B, new Map([["a1b2c", ["container vl-a1b2c-client", ...links]]])],
      ]),
    );
    expect(found.get("a1b2c")).to.deep.equal({ objects: [...links, "container vl-a1b2c-client"], engines: [B] });
  });

  it("names no engine for a lab every engine lists alike (a netns lab, or one engine only)", () => {
    const ns = new Map([["d4e5f", ["namespace vl-d4e5f-client"]]]);
    expect(engineObjects(new Map([[A, ns], [B, ns]])).get("d4e5f")?.engines).to.deep.equal([]);
    expect(engineObjects(new Map([[A, ns]])).get("d4e5f")?.engines).to.deep.equal([]);
  });

  it("names both engines when each holds containers of the lab (a half-removed lab is swept on both)", () => {
    const found = engineObjects(
      new Map([
        [A, new Map([["a1b2c", ["container vl-a1b2c-wan"]]])],
        [B, new Map([["a1b2c", ["container vl-a1b2c-client"]]])],
      ]),
    );
    expect(found.get("a1b2c")?.engines).to.deep.equal([A, B]);
  });
});
