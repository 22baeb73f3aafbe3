// placeholder while the seam is being built: replaced by the lead
import type { VpnImplementation } from "../../impl";
import { referenceSpec } from "./spec";

export const reference: VpnImplementation = {
  ...referenceSpec,
  start: () => Promise.reject(new Error("not wired yet")),
};
