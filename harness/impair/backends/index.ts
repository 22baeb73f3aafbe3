// The impairment backends, in the order the Impairer prefers them: the
// kernel's netem when it has it, then nftables (drops only), then vpnlab's
// userspace wire (everything, in software). One line per backend.
import type { ImpairBackend, ImpairBackendImpl } from "./types";
import { netemBackend } from "./netem";
import { nftablesBackend } from "./nftables";
import { wireBackend } from "./wire";

export const BACKENDS: readonly ImpairBackendImpl[] = [netemBackend, nftablesBackend, wireBackend];

export function backendNamed(name: ImpairBackend): ImpairBackendImpl {
  const b = BACKENDS.find((x) => x.name === name);
  if (!b) throw new Error(`no impairment backend named ${name}`);
  return b;
}

export type { ImpairBackend, ImpairBackendImpl } from "./types";
