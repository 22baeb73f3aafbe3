// Which runtimes a lab suite runs against, and what it does when one cannot
// run on this host: skipped, with the missing capability in every test's
// title — except in CI (CI=true), where a missing Docker engine is a failure.
import type { Context } from "mocha";
import { RUNTIME_KINDS, runtimeModule } from "../harness/runtime";
import type { RuntimeOptions } from "../harness/runtime/runtime";
import type { RuntimeKind } from "../harness/topology/model";

export { RUNTIME_KINDS };

/** Runtimes whose absence CI does not accept (the CI job installs and starts their engine). */
const REQUIRED_IN_CI: readonly RuntimeKind[] = ["netns", "docker"];

/** For a `before` hook: return when `kind` can build labs here (on `opts.engine`); otherwise skip the suite, naming why (or throw, in CI). */
export async function requireRuntime(ctx: Context, kind: RuntimeKind, opts?: RuntimeOptions): Promise<void> {
  const why = await (await runtimeModule(kind)).unavailable(opts);
  if (!why) return;
  if (process.env.CI === "true" && REQUIRED_IN_CI.includes(kind)) throw new Error(`CI needs the ${kind} runtime: ${why}`);
  const suite = ctx.test?.parent;
  for (const t of suite?.tests ?? []) t.title += ` (skipped: ${why})`;
  ctx.skip();
}
