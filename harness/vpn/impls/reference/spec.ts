import type { ImplSpec } from "../../impl";

export const referenceSpec: ImplSpec = {
  name: "reference",
  transports: ["ctcp", "natt", "esp", "anyconnect"],
  options: [],
  programs: [],
  summary: "vpnlab's own endpoints: ESP (RFC 4303, AES-128-GCM) with DPD over a pluggable transport, a TUN device on each end, driven by the node agents",
};
