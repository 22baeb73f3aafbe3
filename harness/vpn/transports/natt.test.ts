import { expect } from "chai";
import { classifyNatt } from "./natt";

describe("vpn/transports/natt classifyNatt (RFC 3948 §2.2)", () => {
  it("a single 0xFF byte is a NAT-keepalive", () => {
    expect(classifyNatt(Buffer.from([0xff]))).to.deep.equal({ kind: "keepalive" });
  });
  it("a zero non-ESP marker means IKE, which the reference endpoints do not speak", () => {
    expect(classifyNatt(Buffer.from([0, 0, 0, 0, 1, 2, 3, 4]))).to.deep.equal({ kind: "ike" });
  });
  it("anything else of at least SPI + sequence number is ESP, passed on as is", () => {
    const esp = Buffer.from("0000a5f8000000010102030405060708", "hex");
    expect(classifyNatt(esp)).to.deep.equal({ kind: "esp", esp });
  });
  it("a runt is neither", () => {
    expect(classifyNatt(Buffer.from([1, 2, 3, 4, 5]))).to.deep.equal({ kind: "runt" });
  });
});
