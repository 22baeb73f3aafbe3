import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProgram } from "./doctor";

describe("doctor: findProgram", () => {
  it("finds an executable file on the given PATH, not a plain file or a directory", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-doctor-"));
    try {
      fs.writeFileSync(path.join(dir, "ocserv-x"), "#!/bin/sh\n", { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "not-exec-x"), "", { mode: 0o644 });
      fs.mkdirSync(path.join(dir, "dir-x"));
      expect(findProgram("ocserv-x", dir)).to.equal(path.join(dir, "ocserv-x"));
      // root may execute any file with an x bit; a 0644 file has none
      expect(findProgram("not-exec-x", dir)).to.equal(undefined);
      expect(findProgram("dir-x", dir)).to.equal(undefined);
      expect(findProgram("no-such-program-x", dir)).to.equal(undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
