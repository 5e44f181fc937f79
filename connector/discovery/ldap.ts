// Active Directory / LDAP discovery with ldapts: computer objects (dNSHostName, operatingSystem)
// by paged search, over LDAPS or StartTLS when configured. The bind password never leaves here.
import { readFile } from "node:fs/promises";
import { Client } from "ldapts";
import type { DiscoveredServerReport } from "../../protocol/index.ts";
import type { LdapSourceConfig } from "./config.ts";

const first = (v: unknown): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined || x === null) return undefined;
  return Buffer.isBuffer(x) ? x.toString("utf8") : String(x);
};

/** Maps one directory entry to a server; entries without a usable host name are skipped. */
export function computerToServer(entry: Record<string, unknown>, sshPort: number): DiscoveredServerReport | undefined {
  const host = first(entry.dNSHostName)?.trim().toLowerCase();
  if (!host || !/^[a-z0-9.-]{1,253}$/.test(host)) return undefined;
  const name = first(entry.cn) ?? host.split(".")[0]!;
  const os = [first(entry.operatingSystem), first(entry.operatingSystemVersion)].filter(Boolean).join(" ");
  return {
    source: "ldap",
    sourceId: String(entry.dn).slice(0, 512),
    name: name.slice(0, 253),
    host,
    port: sshPort,
    ...(os ? { os: os.slice(0, 128) } : {}),
  };
}

export async function discoverLdap(config: LdapSourceConfig): Promise<DiscoveredServerReport[]> {
  const ca = config.caFile ? [await readFile(config.caFile)] : undefined;
  const tls = ca ? { ca } : {};
  const client = new Client({
    url: config.url,
    timeout: config.timeoutMs,
    connectTimeout: config.timeoutMs,
    ...(config.url.startsWith("ldaps://") ? { tlsOptions: tls } : {}),
  });
  try {
    if (config.startTls) await client.startTLS(tls);
    await client.bind(config.bindDN, config.bindPassword).catch((err: Error) => {
      // ldapts' messages are bare result codes; the error class names the cause (InvalidCredentialsError).
      throw new Error(`LDAP bind as ${config.bindDN} refused: ${err.name} (${err.message.trim()})`);
    });
    const { searchEntries } = await client.search(config.baseDN, {
      scope: "sub",
      filter: config.filter,
      attributes: ["cn", "dNSHostName", "operatingSystem", "operatingSystemVersion"],
      paged: { pageSize: config.pageSize },
    });
    return searchEntries.flatMap((e) => computerToServer(e, config.sshPort) ?? []);
  } finally {
    // Always unbind: a failed bind otherwise leaves the socket (and the test) hanging.
    await client.unbind().catch(() => {});
  }
}
