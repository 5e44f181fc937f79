// RDP certificate discovery against a real xrdp, through a discovery round on a real slapd: the connector reads the
// certificate a Windows host would present (X.224 negotiation, then TLS; no credential sent) and proposes its
// fingerprint, which is exactly the one a server entry pins. Hosts outside the allowed ranges get no packet.
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DiscoveryConfig } from "../../connector/discovery/config.ts";
import { rdpCertScan } from "../../connector/discovery/rdp-cert.ts";
import { discoverOnce } from "../../connector/discovery/runner.ts";
import { parseCidr } from "../../connector/target-policy.ts";
import type { DiscoveredServerReport } from "../../protocol/index.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { LOOPBACK_TARGETS } from "../../scripts/stack/connector.ts";
import { startXrdp, type Xrdp, xrdpMissing } from "../../scripts/stack/xrdp.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingSlapd, type Slapd, startSlapd } from "../support/slapd.ts";

describeWithPeers("RDP certificate discovery against xrdp", xrdpMissing() ?? missingSlapd(), () => {
  let dir: string;
  let xrdp: Xrdp;
  let slapd: Slapd;
  const bindPassword = `bind-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-rdp-discovery-"));
    xrdp = await startXrdp({ dir: join(dir, "xrdp") });
    slapd = await startSlapd({
      dir: join(dir, "slapd"),
      bindPassword,
      computers: [
        { cn: "WIN01", dNSHostName: "127.0.0.1", os: "Windows Server 2022" },
        { cn: "FAR01", dNSHostName: "10.20.30.40", os: "Windows Server 2019" }, // outside the allowed ranges
      ],
    });
  });
  afterAll(async () => {
    await xrdp?.stop();
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the certificate xrdp presents: the fingerprint a server entry pins", async () => {
    expect(await rdpCertScan("127.0.0.1", xrdp.port)).toEqual({ fingerprint: xrdp.certFingerprint });
  });

  it("proposes it in a discovery round, with the port, only for the host inside the allowed ranges", async () => {
    const reports: DiscoveredServerReport[] = [];
    const config = DiscoveryConfig.parse({
      keyscan: false,
      rdpPort: xrdp.port,
      ldap: [
        {
          url: slapd.ldapUrl,
          bindDN: slapd.bindDN,
          bindPassword,
          baseDN: slapd.baseDN,
        },
      ],
    });
    const round = await discoverOnce(config, {
      allowed: LOOPBACK_TARGETS.map(parseCidr),
      log: () => {},
      report: async (servers) => {
        reports.push(...servers);
      },
    });
    expect(round).toMatchObject({ found: 2, rdp: 1, reported: 2, failedSources: [] });
    expect(reports.find((s) => s.name === "WIN01")).toMatchObject({
      host: "127.0.0.1",
      rdpPort: xrdp.port,
      rdpCert: xrdp.certFingerprint,
    });
    const far = reports.find((s) => s.name === "FAR01")!;
    expect(far.rdpCert).toBeUndefined();
    expect(far.rdpPort).toBeUndefined();
  });
});
