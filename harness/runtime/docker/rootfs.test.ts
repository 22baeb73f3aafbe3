import { expect } from "chai";
import { checkMirror, glibcOfDpkgStatus, lddLibraries, parseAptSources, pickMirror, versionLess } from "./rootfs";

describe("runtime/docker/rootfs", () => {
  it("finds the host's mirror in deb822 and one-line sources, not -security or a third-party repo", () => {
    const deb822 = [
      "Types: deb",
      "URIs: http://deb.debian.org/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
      "",
      "Types: deb",
      "URIs: http://deb.debian.org/debian-security",
      "Suites: bookworm-security",
      "Components: main",
    ].join("\n");
    const oneLine = "# a comment\ndeb [signed-by=/k.gpg] https://packages.example.com/apt example-bookworm main\ndeb http://mirror.local/debian/ bookworm main contrib\n";
    expect(pickMirror(parseAptSources(deb822), "bookworm")).to.equal("http://deb.debian.org/debian");
    expect(pickMirror(parseAptSources(oneLine), "bookworm")).to.equal("http://mirror.local/debian");
    expect(pickMirror(parseAptSources(deb822), "trixie")).to.equal(undefined);
    expect(pickMirror(parseAptSources("Types: deb\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"), "bookworm")).to.equal(undefined);
  });

  it("reads ldd's libraries (the missing ones too) and the tree's glibc", () => {
    const ldd = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f4d)",
      "\tlibfoo.so.2 => not found",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f4d)",
    ].join("\n");
    expect(lddLibraries(ldd)).to.deep.equal(["libstdc++.so.6", "libfoo.so.2", "ld-linux-x86-64.so.2"]);
    const status = "Package: libc-bin\nVersion: 2.99-1\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u10\n";
    expect(glibcOfDpkgStatus(status)).to.equal("2.36");
    expect(versionLess("2.31", "2.36")).to.equal(true);
    expect(versionLess("2.36", "2.36")).to.equal(false);
    expect(versionLess("2.40", "2.36")).to.equal(false);
  });

  it("an unreachable mirror is named with what to do", async () => {
    const error = await checkMirror("http://127.0.0.1:9/debian", "bookworm").then(() => undefined, (e: Error) => e);
    expect(error?.message).to.match(/^Debian mirror unreachable: http:\/\/127\.0\.0\.1:9\/debian\/dists\/bookworm\/Release .*--mirror URL/);
  });
});
