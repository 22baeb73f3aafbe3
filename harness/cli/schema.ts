// `vpnlab schema`: the topology format as a JSON Schema, for editors
// (yaml-language-server) and CI. The file lives in the repository
// (schema/topology.schema.json); it is read when asked for, not bundled.
import * as fs from "node:fs";
import { SCHEMA_PATH } from "../topology/schema";
import type { Command } from "./command";
import { out } from "./output";

export const schema = {
  command: "schema",
  describe: "print the topology JSON Schema (schema/topology.schema.json)",
  builder: (y) => y.example("$0 schema > topology.schema.json", "for an editor's YAML language server"),
  run: async () => {
    let text: string;
    try {
      text = fs.readFileSync(SCHEMA_PATH, "utf8");
    } catch (e) {
      throw new Error(`cannot read the topology schema ${SCHEMA_PATH}: ${(e as Error).message} — is this a complete vpnlab checkout?`);
    }
    out(text);
    return 0;
  },
} satisfies Command<object>;
