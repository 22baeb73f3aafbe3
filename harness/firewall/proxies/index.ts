// The registry of full-proxy implementations: one line each.
import type { ProxyImpl } from "../../topology/model";
import { builtin } from "./builtin";
import type { ProxyDriver } from "./driver";
import { haproxy } from "./haproxy";

export const PROXIES: Record<ProxyImpl, ProxyDriver> = {
  builtin,
  haproxy,
};
