// The registry of VPN implementations: one line each. The spec is pure (read
// by the validator and `vpnlab check`); the implementation is loaded only
// when a lab starts a tunnel (it may need root, the native addon, daemons).
import type { Impl } from "../../topology/model";
import type { ImplSpec, VpnImplementation } from "../impl";
import { ocservSpec } from "./ocserv/spec";
import { referenceSpec } from "./reference/spec";
import { strongswanSpec } from "./strongswan/spec";

interface Entry {
  spec: ImplSpec;
  load: () => Promise<VpnImplementation>;
}

export const IMPLEMENTATIONS: Record<Impl, Entry | undefined> = {
  reference: { spec: referenceSpec, load: async () => (await import("./reference")).reference },
  ocserv: { spec: ocservSpec, load: async () => (await import("./ocserv")).ocserv },
  strongswan: { spec: strongswanSpec, load: async () => (await import("./strongswan")).strongswan },
};

export function implSpec(name: Impl): ImplSpec | undefined {
  return IMPLEMENTATIONS[name]?.spec;
}

export async function loadImpl(name: Impl): Promise<VpnImplementation> {
  const e = IMPLEMENTATIONS[name];
  if (!e) throw new Error(`impl ${name} is not available in this build`);
  return e.load();
}
