// Discovery through the real connector, for e2e tests: one round of `psm-connector discover` against the stack's
// edge (whatever sources its config.json names), the site's discovered servers, the ledger, and the minute sweep.
import { join } from "node:path";
import type { DiscoveryRound } from "../../connector/discovery/runner.ts";
import type { DiscoveredServer } from "../../protocol/index.ts";
import { ROOT } from "../../scripts/stack/edge.ts";
import { startProcess } from "../../scripts/stack/process.ts";
import type { Stack } from "./stack.ts";

/** One discovery round through the real connector CLI: its output and the round it printed. Fails if any source did. */
export async function runDiscovery(stack: Stack): Promise<{ output: string; round: DiscoveryRound }> {
  const proc = startProcess(
    process.execPath,
    ["--import", "tsx", join(ROOT, "connector", "cli.ts"), "discover", "--state", stack.connectorState],
    { name: "discover", cwd: ROOT },
  );
  const code = await new Promise<number | null>((resolve) => proc.child.once("exit", resolve));
  const output = proc.output();
  const line = output.match(/^\{"found":.*$/m)?.[0];
  if (code !== 0 || !line) throw new Error(`discover exited ${code}:\n${output}`);
  return { output, round: JSON.parse(line) as DiscoveryRound };
}

/** What the site's admin sees under Admin → Sites as discovered. */
export const discoveredServers = (stack: Stack) =>
  stack.admin.request<DiscoveredServer[]>("GET", `/api/sites/${stack.siteId}/discovered`);

export type AuditEntry = { action: string; target: { id: string }; data: Record<string, unknown> };

/** The newest ledger entries, as an admin reads them. */
export const auditEntries = (stack: Stack, limit = 200) =>
  stack.admin.request<AuditEntry[]>("GET", `/api/audit?limit=${limit}`);

/**
 * Fires the edge's cron trigger (the stack must be started with `testScheduled`). The sweep runs in the handler's
 * waitUntil, after the answer: poll for its effect.
 */
export async function fireSweep(stack: Stack): Promise<void> {
  const res = await fetch(`${stack.edge.url}/__scheduled?cron=*+*+*+*+*`);
  await res.body?.cancel();
  if (!res.ok) throw new Error(`/__scheduled answered HTTP ${res.status}`);
}
