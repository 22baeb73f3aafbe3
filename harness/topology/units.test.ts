import { expect } from "chai";
import { contains, msText, networkText, overlaps, parseAddr, parseCidr, parseDuration, parsePercent, parseRate, type Parsed } from "./units";

function value<T>(p: Parsed<T>): T {
  if (!p.ok) throw new Error(p.why);
  return p.value;
}
function why<T>(p: Parsed<T>): string {
  if (p.ok) throw new Error(`accepted: ${JSON.stringify(p.value)}`);
  return p.why;
}

describe("topology units", () => {
  it("parses durations to milliseconds", () => {
    expect(["500ms", "1s", "1.5s", "2m", 2, 0.25, "0", 0].map((v) => value(parseDuration(v)))).to.deep.equal([500, 1000, 1500, 120000, 2000, 250, 0, 0]);
    expect(why(parseDuration("2 sec"))).to.match(/is not a duration — write e.g./);
    expect(why(parseDuration("-1s"))).to.match(/negative/);
    expect(why(parseDuration(-1))).to.match(/negative/);
    expect(why(parseDuration(true))).to.match(/expected a duration, got true/);
  });

  it("parses percentages and rates", () => {
    expect(["5%", "0.5%", 7, "100 %"].map((v) => value(parsePercent(v)))).to.deep.equal([5, 0.5, 7, 100]);
    expect(value(parsePercent("-3%"))).to.equal(-3); // range is the validator's job
    expect(why(parsePercent("5 percent"))).to.match(/not a percentage/);
    expect(["50/s", 12, "2.5/s"].map((v) => value(parseRate(v)))).to.deep.equal([50, 12, 2.5]);
    expect(why(parseRate("50/m"))).to.match(/not a rate — write e.g. "50\/s"/);
  });

  it("parses addresses and CIDRs strictly", () => {
    expect(value(parseAddr("192.0.2.1"))).to.equal(0xc0000201);
    expect(value(parseCidr("203.0.113.10/24"))).to.deep.equal({ addr: "203.0.113.10", prefix: 24 });
    expect(why(parseCidr("10.0.0.1"))).to.match(/no prefix length — write it with one, e.g. 10.0.0.1\/24/);
    expect(why(parseCidr("10.0.0.1/33"))).to.match(/bad prefix length "33"/);
    expect(why(parseCidr("10.0.0.256/24"))).to.match(/"10.0.0.256\/24" is not an IPv4 address/);
    expect(why(parseCidr("10.0.0/24"))).to.match(/write four numbers/);
    expect(why(parseAddr("010.0.0.1"))).to.match(/leading zero/);
    expect(why(parseAddr("10.0.0.1/24"))).to.match(/has a prefix length — write the bare address \(10.0.0.1\)/);
    expect(why(parseAddr(10))).to.match(/expected an IPv4 address/);
  });

  it("answers subnet questions", () => {
    const c = { addr: "10.1.2.3", prefix: 16 };
    expect(networkText(c)).to.equal("10.1.0.0/16");
    expect(contains(c, "10.1.255.255")).to.equal(true);
    expect(contains(c, "10.2.0.1")).to.equal(false);
    expect(contains({ addr: "0.0.0.0", prefix: 0 }, "255.1.1.1")).to.equal(true);
    expect(overlaps({ addr: "10.0.0.0", prefix: 8 }, { addr: "10.200.0.0", prefix: 24 })).to.equal(true);
    expect(overlaps({ addr: "172.29.0.0", prefix: 24 }, { addr: "172.29.1.0", prefix: 24 })).to.equal(false);
  });

  it("formats milliseconds as written", () => {
    expect([2000, 1500, 250, 0, 120000].map(msText)).to.deep.equal(["2s", "1.5s", "250ms", "0s", "2m"]);
  });
});
