import type { ImplSpec } from "../../impl";

export const strongswanSpec: ImplSpec = {
  name: "strongswan",
  transports: ["natt"],
  options: [],
  programs: ["charon", "swanctl"],
  // charon starts without it and only fails to load it: ESP in user space is this plugin
  files: [{ name: "kernel-libipsec", path: "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", what: "strongSwan's kernel-libipsec plugin (ESP in user space)", package: "libcharon-extra-plugins" }],
  summary: "strongSwan charon (IKEv2, pre-shared key) with kernel-libipsec: ESP in UDP done in user space over a TUN device, UDP encapsulation forced",
};
