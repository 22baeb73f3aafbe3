// Finding the host's programs: the one rule `doctor`, the node image and the
// pieces that need a program (nft, tcpdump, charon …) share.
import * as fs from "node:fs";

/** Where a program is: on PATH, or in the libexec directory Debian uses for charon. */
export function findProgram(name: string, pathEnv = process.env.PATH ?? ""): string | undefined {
  const dirs = [...pathEnv.split(":").filter(Boolean), "/usr/sbin", "/sbin", "/usr/lib/ipsec"];
  for (const d of dirs) {
    const f = `${d}/${name}`;
    try {
      fs.accessSync(f, fs.constants.X_OK);
      if (fs.statSync(f).isFile()) return f;
    } catch {
      // not here
    }
  }
  return undefined;
}
