// AD/LDAP discovery against a real slapd with an AD-like schema: computer objects by paged search
// (620 entries, 100 a page), over plain LDAP,
// StartTLS and LDAPS verified against the directory's CA; wrong password and untrusted CA refused.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LdapSourceConfig } from "../../connector/discovery/config.ts";
import { discoverLdap } from "../../connector/discovery/ldap.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingSlapd, type Slapd, startSlapd } from "../support/slapd.ts";

const COMPUTERS = 620;

describeWithPeers("AD/LDAP discovery against slapd", missingSlapd(), () => {
  let dir: string;
  let slapd: Slapd;
  const password = `bind-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-ldap-"));
    const computers: { cn: string; dNSHostName?: string; os?: string }[] = Array.from(
      { length: COMPUTERS },
      (_, i) => ({
        cn: `SRV${String(i).padStart(4, "0")}`,
        dNSHostName: `srv${String(i).padStart(4, "0")}.corp.example`,
        os: i % 2 ? "Windows Server 2022 Datacenter" : "Ubuntu 24.04",
      }),
    );
    computers.push({ cn: "NODNS" }); // a computer object without dNSHostName is skipped
    slapd = await startSlapd({ dir, bindPassword: password, computers });
  });
  afterAll(async () => {
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const config = (over: Record<string, unknown>) =>
    LdapSourceConfig.parse({
      url: slapd.ldapUrl,
      bindDN: slapd.bindDN,
      bindPassword: password,
      baseDN: slapd.baseDN,
      pageSize: 100,
      timeoutMs: 10_000,
      ...over,
    });

  it("finds every computer object across pages, with host name and OS, and nothing else", async () => {
    const found = await discoverLdap(config({}));
    expect(found).toHaveLength(COMPUTERS);
    expect(found.find((s) => s.name === "SRV0007")).toEqual({
      source: "ldap",
      sourceId: "cn=SRV0007,ou=Servers,dc=corp,dc=example",
      name: "SRV0007",
      host: "srv0007.corp.example",
      port: 22,
      os: "Windows Server 2022 Datacenter",
    });
    expect(new Set(found.map((s) => s.host)).size).toBe(COMPUTERS);
  });

  it("works over StartTLS and LDAPS, verifying the directory's certificate", async () => {
    expect(await discoverLdap(config({ startTls: true, caFile: slapd.caFile }))).toHaveLength(COMPUTERS);
    expect(await discoverLdap(config({ url: slapd.ldapsUrl, caFile: slapd.caFile }))).toHaveLength(COMPUTERS);
  });

  it("refuses an untrusted certificate and a wrong password", async () => {
    await expect(discoverLdap(config({ url: slapd.ldapsUrl }))).rejects.toThrow(/certificate/i);
    await expect(discoverLdap(config({ bindPassword: "wrong" }))).rejects.toThrow(/refused: InvalidCredentialsError/);
  });
});
