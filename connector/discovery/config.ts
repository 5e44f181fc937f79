// Discovery jobs in the connector's config.json: which sources to ask and with what credentials.
// Those credentials stay on the connector host; only the servers found are reported to the edge.
import { z } from "zod";

export const LdapSourceConfig = z.strictObject({
  /** ldap://dc1.corp.example:389 or ldaps://dc1.corp.example:636 */
  url: z.string().regex(/^ldaps?:\/\//),
  bindDN: z.string().min(1),
  bindPassword: z.string().min(1),
  baseDN: z.string().min(1),
  /** Active Directory computer objects by default. */
  filter: z.string().default("(objectClass=computer)"),
  /** Entries per page of the paged results control (RFC 2696): 500. */
  pageSize: z.number().int().min(1).max(5000).default(500),
  /** Upgrade ldap:// with StartTLS before binding. */
  startTls: z.boolean().default(false),
  /** PEM file of the CA that signed the directory's certificate (LDAPS or StartTLS). */
  caFile: z.string().optional(),
  /** SSH port assumed for the computers found. */
  sshPort: z.number().int().min(1).max(65535).default(22),
  timeoutMs: z.number().int().min(100).default(30_000),
});

export const Ec2SourceConfig = z.strictObject({
  regions: z.array(z.string().min(1)).min(1),
  /** Absent: the SDK's default chain (environment, instance profile, SSO...). */
  accessKeyId: z.string().optional(),
  secretAccessKey: z.string().optional(),
  /** Only for tests or VPC endpoints. */
  endpoint: z.url().optional(),
  /** Which address the connector dials: the private one (default) or the public one. */
  address: z.enum(["private", "public"]).default("private"),
  /** Attempts per call when AWS throttles (RequestLimitExceeded): 8, with the SDK's backoff. */
  maxAttempts: z.number().int().min(1).max(20).default(8),
  sshPort: z.number().int().min(1).max(65535).default(22),
});

export const AzureSourceConfig = z.strictObject({
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  subscriptionIds: z.array(z.string().min(1)).min(1),
  authorityUrl: z.url().default("https://login.microsoftonline.com"),
  managementUrl: z.url().default("https://management.azure.com"),
  apiVersion: z.string().default("2024-07-01"),
  networkApiVersion: z.string().default("2024-05-01"),
  sshPort: z.number().int().min(1).max(65535).default(22),
});

export const VcenterSourceConfig = z.strictObject({
  url: z.url(),
  username: z.string().min(1),
  password: z.string().min(1),
  // vCenter's own CA: give it to Node with NODE_EXTRA_CA_CERTS in the service's environment.
  sshPort: z.number().int().min(1).max(65535).default(22),
});

export const DiscoveryConfig = z.strictObject({
  /** Every source is asked this often: 60 min. */
  intervalMinutes: z.number().min(1).default(60),
  ldap: z.array(LdapSourceConfig).default([]),
  ec2: z.array(Ec2SourceConfig).default([]),
  azure: z.array(AzureSourceConfig).default([]),
  vcenter: z.array(VcenterSourceConfig).default([]),
  /** Keyscan every server found (inside the allowed ranges) and propose its host key. */
  keyscan: z.boolean().default(true),
  /** At most this many keyscans (and RDP probes) at once: 8. */
  keyscanConcurrency: z.number().int().min(1).max(64).default(8),
  /** Also read the RDP certificate of every server found (inside the allowed ranges) and propose it. */
  rdpProbe: z.boolean().default(true),
  /** The port the RDP probe tries: 3389. */
  rdpPort: z.number().int().min(1).max(65535).default(3389),
});
export type DiscoveryConfig = z.infer<typeof DiscoveryConfig>;
export type LdapSourceConfig = z.infer<typeof LdapSourceConfig>;
export type Ec2SourceConfig = z.infer<typeof Ec2SourceConfig>;
export type AzureSourceConfig = z.infer<typeof AzureSourceConfig>;
export type VcenterSourceConfig = z.infer<typeof VcenterSourceConfig>;
