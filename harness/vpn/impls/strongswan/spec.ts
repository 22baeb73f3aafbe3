import type { ImplSpec } from "../../impl";

export const strongswanSpec: ImplSpec = {
  name: "strongswan",
  transports: ["natt"],
  options: [],
  programs: ["charon", "swanctl"],
  summary: "strongSwan charon (IKEv2, pre-shared key) with kernel-libipsec: ESP in UDP done in user space over a TUN device, UDP encapsulation forced",
};
