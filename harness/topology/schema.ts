// The topology format as a JSON Schema (schema/topology.schema.json), for
// editors and CI linters: `# yaml-language-server: $schema=...` in a lab file,
// or `vpnlab schema`. The schema checks shapes; the loader (load.ts) remains the
// authority and also checks what a schema cannot (addresses, references, timing).
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** The package root: the nearest directory above this file holding package.json (the same from harness/ and dist/harness/). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}: cannot find schema/topology.schema.json`);
  }
}

export const SCHEMA_PATH = path.join(packageRoot(__dirname), "schema", "topology.schema.json");

/** The schema as a JSON value (parsed, so a broken file fails here rather than in an editor). */
export function loadSchema(): Record<string, unknown> {
  const v: unknown = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${SCHEMA_PATH} is not a JSON object`);
  return v as Record<string, unknown>;
}
