// `vpnlab image build`: the node image of the Docker runtime, built with no
// container registry (see harness/runtime/docker/image.ts). Progress goes to
// stderr (one line rewritten on a terminal, plain lines otherwise); stdout
// gets the tag built on each engine, one per line, for scripts.
import { UsageError, type Command } from "./command";
import { out } from "./output";

export const image = {
  command: "image <action>",
  describe: "build the node image for the Docker runtime (offline: debootstrap from the host's Debian mirror, no registry)",
  builder: (y) =>
    y
      .positional("action", { type: "string", choices: ["build"] as const, demandOption: true, describe: "build: build the base and node images where their inputs changed" })
      .option("engine", { type: "string", array: true, requiresArg: true, describe: "Docker engine URL (unix://, tcp://, ssh://); repeat it to build on several; default: the config's engines:, else VPNLAB_ENGINES, else DOCKER_HOST" })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (the image is built on each of its engines:); default VPNLAB_CONFIG" })
      .option("force", { type: "boolean", default: false, describe: "rebuild both layers (and the debootstrap tree) even when current" })
      .option("base", { type: "string", requiresArg: true, describe: "start from this image (a registry is reachable) and apt-get the packages, instead of debootstrap" })
      .option("mirror", { type: "string", requiresArg: true, describe: "Debian mirror URL for debootstrap (default: the one the host's apt uses)" })
      .example("$0 image build --engine unix:///run/vpnlab-dev/docker.sock", "build on the engine scripts/dockerd.sh dev started"),
  run: async (a) => {
    const { badImageRef, buildNodeImage, imageSize } = await import("../runtime/docker/image");
    // it goes into a Dockerfile's FROM line as it is
    const bad = a.base === undefined ? undefined : badImageRef(a.base);
    if (bad) throw new UsageError(bad);
    const { humanBytes, Progress } = await import("../runtime/docker/progress");
    const { configPath, loadConfig } = await import("../config");
    const { chooseEngines } = await import("../runtime/docker/engines");
    const cfgFile = configPath(a.config);
    // the engines a run would spread over: each needs the image
    const engines = chooseEngines(a.engine, cfgFile ? loadConfig(cfgFile).engines : undefined).map((e) => e.url);
    for (const engine of engines) {
      const progress = new Progress((s) => process.stderr.write(s), process.stderr.isTTY === true);
      const started = Date.now();
      progress.say(`image build on ${engine}`);
      const tag = await buildNodeImage({ engine, force: a.force, base: a.base, mirror: a.mirror, progress });
      progress.say(`${tag}: ${humanBytes(await imageSize(engine, tag))}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      out(tag);
    }
    return 0;
  },
} satisfies Command<{ action: string; engine: string[] | undefined; config: string | undefined; force: boolean; base: string | undefined; mirror: string | undefined }>;
