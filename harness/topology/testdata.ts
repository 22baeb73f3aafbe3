// Where the topology tests find their YAML: compiled tests run from dist/, the
// files stay in the source tree.
import { readdirSync } from "node:fs";
import * as path from "node:path";

export const ROOT = path.join(__dirname, "../../..");
export const FIXTURES = path.join(ROOT, "harness/topology/fixtures");

/** The .yaml files of a directory, sorted, as full paths. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every valid document: the shipped topologies, the base fixture, and the documents the loader tests accept (fixtures/good). */
export function validTopologyFiles(): string[] {
  return [...yamlFiles(path.join(ROOT, "topologies")), path.join(FIXTURES, "mini.yaml"), ...yamlFiles(path.join(FIXTURES, "good"))];
}
