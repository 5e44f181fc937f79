// One discovery round: ask every configured source, keyscan (SSH) and read the RDP certificate of what lies
// inside the site's allowed ranges (bounded concurrency), and report to the edge in chunks. A failing source is logged and
// skipped; the others still report.
import { DiscoveredServerReport } from "../../protocol/index.ts";
import type { Log } from "../log.ts";
import { resolveTarget } from "../target-connect.ts";
import type { Cidr } from "../target-policy.ts";
import { discoverAzure } from "./azure.ts";
import type { DiscoveryConfig } from "./config.ts";
import { discoverEc2 } from "./ec2.ts";
import { keyscan } from "./keyscan.ts";
import { rdpCertScan } from "./rdp-cert.ts";
import { discoverLdap } from "./ldap.ts";
import { discoverVcenter } from "./vcenter.ts";

/** Servers per report to the edge: 1,000 (the report schema's bound). */
const REPORT_CHUNK = 1000;

export type DiscoveryRound = {
  found: number;
  scanned: number;
  /** Servers whose RDP certificate was read. */
  rdp: number;
  reported: number;
  failedSources: string[];
};

export async function discoverOnce(
  config: DiscoveryConfig,
  deps: { allowed: readonly Cidr[]; log: Log; report: (servers: DiscoveredServerReport[]) => Promise<void> },
): Promise<DiscoveryRound> {
  const jobs: [string, () => Promise<DiscoveredServerReport[]>][] = [
    ...config.ldap.map(
      (c, i) => [`ldap[${i}]`, () => discoverLdap(c)] as [string, () => Promise<DiscoveredServerReport[]>],
    ),
    ...config.ec2.map(
      (c, i) => [`ec2[${i}]`, () => discoverEc2(c)] as [string, () => Promise<DiscoveredServerReport[]>],
    ),
    ...config.azure.map(
      (c, i) => [`azure[${i}]`, () => discoverAzure(c)] as [string, () => Promise<DiscoveredServerReport[]>],
    ),
    ...config.vcenter.map(
      (c, i) => [`vcenter[${i}]`, () => discoverVcenter(c)] as [string, () => Promise<DiscoveredServerReport[]>],
    ),
  ];
  const servers: DiscoveredServerReport[] = [];
  const failedSources: string[] = [];
  for (const [source, job] of jobs) {
    try {
      const found = await job();
      // What a source says is partly what its hosts say about themselves (a VM's guest tools report its name and
      // address): a host the edge's schema would refuse is dropped here, or it would take its whole chunk with it
      // and every other host of the site would go unseen (and, after the retire days, be retired).
      let dropped = 0;
      for (const server of found) {
        const checked = DiscoveredServerReport.safeParse(server);
        if (checked.success) servers.push(checked.data);
        else dropped++;
      }
      deps.log("discovery.source_done", { source, found: found.length, ...(dropped ? { dropped } : {}) });
    } catch (err) {
      failedSources.push(source);
      deps.log("discovery.failed", { source, error: (err as Error).message });
    }
  }
  let scanned = 0;
  let rdp = 0;
  if (config.keyscan || config.rdpProbe) {
    let next = 0;
    const worker = async () => {
      while (next < servers.length) {
        const server = servers[next++]!;
        let address: string;
        try {
          // Only inside the site's allowed ranges, at the address the connector would dial.
          address = await resolveTarget(server.host, deps.allowed);
        } catch {
          continue; // unresolvable or refused by policy: reported without a proposal, no packet sent
        }
        if (config.keyscan) {
          try {
            const key = await keyscan(address, server.port);
            server.hostKey = key.fingerprint;
            server.hostKeyType = key.type.slice(0, 64);
            scanned++;
          } catch {
            // Not answering SSH: no SSH proposal.
          }
        }
        if (config.rdpProbe) {
          try {
            server.rdpCert = (await rdpCertScan(address, config.rdpPort)).fingerprint;
            server.rdpPort = config.rdpPort;
            rdp++;
          } catch {
            // Not answering RDP with TLS: no RDP proposal.
          }
        }
      }
    };
    await Promise.all(Array.from({ length: config.keyscanConcurrency }, worker));
  }
  let reported = 0;
  for (let i = 0; i < servers.length; i += REPORT_CHUNK) {
    const chunk = servers.slice(i, i + REPORT_CHUNK);
    await deps.report(chunk);
    reported += chunk.length;
  }
  deps.log("discovery.done", { found: servers.length, scanned, rdp, reported, failed: failedSources.length });
  return { found: servers.length, scanned, rdp, reported, failedSources };
}

/** Sends one inventory chunk to the edge with the connector's proof-of-key token. */
export async function reportInventory(
  edgeUrl: string,
  token: () => Promise<string>,
  servers: DiscoveredServerReport[],
): Promise<void> {
  const res = await fetch(new URL("/connector/inventory", edgeUrl), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await token()}` },
    body: JSON.stringify({ servers }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`the edge refused the inventory report (HTTP ${res.status})`);
}
