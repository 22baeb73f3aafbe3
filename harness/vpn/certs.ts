// A lab's TLS identity for a VPN headend: a self-signed certificate and its
// key, generated per lab by openssl, and the pin a client checks instead of
// trusting any CA — the SHA-256 of the certificate's SubjectPublicKeyInfo,
// base64, exactly what openconnect takes as `--servercert pin-sha256:<pin>`.
// Used by the reference `anyconnect` transport and by ocserv alike.
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "../exec";

export interface HeadendCert {
  certPem: string;
  keyPem: string;
  /** base64(SHA-256(DER SubjectPublicKeyInfo)): openconnect's pin-sha256 format. */
  spkiSha256: string;
  /** Where the PEM files were written (a daemon such as ocserv reads files). */
  certPath: string;
  keyPath: string;
}

export interface HeadendCertOptions {
  /** Subject CN; the client pins the key, so the name is informational. */
  commonName?: string;
  /** Validity; a lab lives minutes, so short by default. */
  days?: number;
  /** File name stem under the directory: <stem>.crt and <stem>.key. */
  stem?: string;
}

const CN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

/** The openssl argv that writes a P-256 key and a self-signed certificate for it (pure; no CA, no extensions beyond openssl's defaults). */
export function selfSignedArgv(certPath: string, keyPath: string, commonName: string, days: number): string[] {
  if (!CN_PATTERN.test(commonName)) throw new Error(`certificate CN ${JSON.stringify(commonName)}: letters, digits, '.', '-' only`);
  if (!Number.isInteger(days) || days < 1) throw new Error(`certificate validity must be a whole number of days >= 1, got ${days}`);
  return [
    "openssl", "req", "-x509",
    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-days", String(days),
    "-subj", `/CN=${commonName}`,
    "-keyout", keyPath, "-out", certPath,
  ];
}

/** The pin of a certificate (PEM or parsed): base64 SHA-256 of its DER SubjectPublicKeyInfo. */
export function spkiSha256(cert: string | X509Certificate): string {
  const x = typeof cert === "string" ? new X509Certificate(cert) : cert;
  const spki = x.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

/** Generate the headend's key and self-signed certificate into `dir` (created if missing); the key file is 0600. */
export async function generateHeadendCert(dir: string, opts: HeadendCertOptions = {}): Promise<HeadendCert> {
  const stem = opts.stem ?? "headend";
  if (!/^[A-Za-z0-9_-]+$/.test(stem)) throw new Error(`certificate file stem ${JSON.stringify(stem)}: letters, digits, '_', '-' only`);
  fs.mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, `${stem}.crt`);
  const keyPath = path.join(dir, `${stem}.key`);
  await run(selfSignedArgv(certPath, keyPath, opts.commonName ?? "vpnlab-headend", opts.days ?? 2), { timeoutMs: 30_000 });
  fs.chmodSync(keyPath, 0o600);
  const certPem = fs.readFileSync(certPath, "utf8");
  const keyPem = fs.readFileSync(keyPath, "utf8");
  return { certPem, keyPem, spkiSha256: spkiSha256(certPem), certPath, keyPath };
}
