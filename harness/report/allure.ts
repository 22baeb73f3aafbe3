// Publish one scenario into the running Allure test: labels to group by,
// parameters to compare, and the evidence as attachments.
import * as fs from "node:fs";
import * as path from "node:path";
import * as allure from "allure-js-commons";
import { Status } from "allure-js-commons";
import type { ScenarioResult } from "../scenario";
import { summarize } from "./summary";

export async function publishResult(r: ScenarioResult): Promise<void> {
  await allure.epic(r.topology);
  await allure.feature(`transport ${r.transport}`);
  await allure.story(r.variant);
  await allure.parameter("firewall", r.proxy ? `${r.firewallMode}/${r.proxy}` : r.firewallMode);
  await allure.parameter("expect", r.expect);
  await allure.parameter("verdict", r.verdict ?? r.outcome);
  await allure.parameter("lab", r.labId, { excluded: true });
  await allure.parameter("runtime", r.runtime);
  if (r.engine) await allure.parameter("engine", r.engine, { excluded: true });
  await allure.description(["```", summarize(r), "```"].join("\n"));
  for (const p of r.phases) {
    await allure.logStep(`${p.phase}: ${p.delivered}/${p.sent} delivered`, p.delivery >= 0.95 ? Status.PASSED : p.delivery >= 0.5 ? Status.BROKEN : Status.FAILED);
  }
  await allure.attachment("summary.txt", summarize(r), "text/plain");
  await allure.attachment("result.json", JSON.stringify(r, null, 2), "application/json");
  const csv = ["t_ms,sent,delivered", ...r.buckets.map((b) => `${b.t},${b.sent},${b.delivered}`)].join("\n");
  await allure.attachment("delivery-100ms.csv", csv, "text/csv");
  const fw = r.evidence.firewall;
  if (fw?.ruleset) await allure.attachment("firewall.nft", fw.ruleset, "text/plain");
  if (fw?.proxy?.config) await allure.attachment(fw.proxy.config.name, fw.proxy.config.text, "text/plain");
  for (const s of r.evidence.daemonState ?? []) {
    const text = s.state ? Object.entries(s.state).map(([k, v]) => `--- ${k}\n${v}`).join("\n") : `(not available: ${s.error})`;
    await allure.attachment(`daemon-state-${s.phase}-end.txt`, text, "text/plain");
  }
  for (const c of r.captures ?? []) {
    if (fs.existsSync(c.file)) await allure.attachmentPath(path.basename(c.file), c.file, { contentType: "application/vnd.tcpdump.pcap", fileExtension: "pcap" });
  }
  for (const c of r.chaos) {
    if (c.detail?.length) await allure.attachment(`chaos-${c.appliedAtMs}ms-${c.on}.txt`, c.detail.join("\n"), "text/plain");
  }
}
