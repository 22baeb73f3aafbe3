import { expect } from "chai";
import { createPrivateKey, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../exec";
import { generateHeadendCert, selfSignedArgv, spkiSha256 } from "./certs";

describe("vpn/certs", function () {
  this.timeout(30000);
  let dir = "";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-certs-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("builds the openssl argv: P-256, no passphrase, self-signed, the CN and validity given", () => {
    const argv = selfSignedArgv("/d/c.crt", "/d/c.key", "vpnlab-headend", 2);
    expect(argv.slice(0, 3)).to.deep.equal(["openssl", "req", "-x509"]);
    expect(argv).to.include.members(["-nodes", "ec_paramgen_curve:prime256v1", "/CN=vpnlab-headend"]);
    expect(argv[argv.indexOf("-days") + 1]).to.equal("2");
    expect(argv[argv.indexOf("-keyout") + 1]).to.equal("/d/c.key");
    expect(argv[argv.indexOf("-out") + 1]).to.equal("/d/c.crt");
  });

  it("refuses a CN that would change the subject, and a validity that is not whole days", () => {
    expect(() => selfSignedArgv("c", "k", "x/O=evil", 2)).to.throw(/CN/);
    expect(() => selfSignedArgv("c", "k", "ok", 0)).to.throw(/days/);
  });

  it("writes a self-signed P-256 certificate and its key (0600) and returns the same PEM", async () => {
    const c = await generateHeadendCert(dir);
    expect(c.certPath).to.equal(path.join(dir, "headend.crt"));
    expect(fs.readFileSync(c.certPath, "utf8")).to.equal(c.certPem);
    expect(fs.readFileSync(c.keyPath, "utf8")).to.equal(c.keyPem);
    expect(fs.statSync(c.keyPath).mode & 0o777, "key file mode").to.equal(0o600);
    const x = new X509Certificate(c.certPem);
    expect(x.subject).to.equal("CN=vpnlab-headend");
    expect(x.issuer, "self-signed: its own issuer").to.equal(x.subject);
    expect(x.verify(x.publicKey), "signed by its own key").to.equal(true);
    expect(x.checkPrivateKey(createPrivateKey(c.keyPem)), "the key belongs to the certificate").to.equal(true);
    expect(x.publicKey.asymmetricKeyDetails).to.deep.include({ namedCurve: "prime256v1" });
    const validMs = Date.parse(x.validTo) - Date.parse(x.validFrom);
    expect(validMs).to.equal(2 * 86400_000);
  });

  it("the pin is what openssl computes: x509 -pubkey | pkey -pubin -outform der | sha256, base64", async () => {
    const c = await generateHeadendCert(dir);
    const pubPem = (await run(["openssl", "x509", "-in", c.certPath, "-pubkey", "-noout"])).stdout;
    const der = path.join(dir, "spki.der");
    await run(["openssl", "pkey", "-pubin", "-outform", "der", "-out", der], { input: pubPem });
    const dgst = (await run(["openssl", "dgst", "-sha256", "-r", der])).stdout.split(" ")[0];
    expect(c.spkiSha256).to.equal(Buffer.from(dgst, "hex").toString("base64"));
    expect(Buffer.from(c.spkiSha256, "base64")).to.have.length(32);
    expect(spkiSha256(new X509Certificate(c.certPem))).to.equal(c.spkiSha256);
  });

  it("every generation is a new key (another lab, another pin); stems keep files apart", async () => {
    const a = await generateHeadendCert(dir, { stem: "a" });
    const b = await generateHeadendCert(dir, { stem: "b", commonName: "ocserv.lab", days: 1 });
    expect(a.spkiSha256).to.not.equal(b.spkiSha256);
    expect(new X509Certificate(b.certPem).subject).to.equal("CN=ocserv.lab");
    expect(fs.readdirSync(dir).sort()).to.deep.equal(["a.crt", "a.key", "b.crt", "b.key"]);
    await generateHeadendCert(dir, { stem: "../x" }).then(
      () => expect.fail("a stem with a path must be refused"),
      (e: Error) => expect(e.message).to.match(/stem/),
    );
  });
});
