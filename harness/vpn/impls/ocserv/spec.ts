import type { ImplSpec } from "../../impl";

export const ocservSpec: ImplSpec = {
  name: "ocserv",
  transports: ["anyconnect"],
  options: ["dtls"],
  programs: ["ocserv", "openconnect", "occtl", "openssl"],
  summary: "ocserv on the headend, openconnect on the client: AnyConnect (CSTP over TLS, optionally DTLS), password login, a per-lab self-signed certificate pinned by the client",
};
