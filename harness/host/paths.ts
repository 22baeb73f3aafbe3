// Where vpnlab itself is on this host: computed once, here.
import * as path from "node:path";

/** The package (repository) root: this file is dist/harness/host/paths.js once built. */
export const PACKAGE_ROOT = path.join(__dirname, "..", "..", "..");
