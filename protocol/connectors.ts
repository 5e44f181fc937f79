// API bodies about a site's connectors (health for the admin page) and their discovered servers.
import { z } from "zod";
import { SpoolHealth } from "./recording.ts";
import { ServerProtocol } from "./api.ts";
import { HostKeyFingerprint } from "./tokens.ts";

export const ConnectorError = z.object({ at: z.number().int(), event: z.string(), reason: z.string().optional() });

/** One enrolled connector as the admin page shows it: live state from the site's ConnectorHub. */
export const ConnectorInfo = z.object({
  id: z.string(),
  name: z.string(),
  siteId: z.string(),
  enrolledAt: z.number().int(),
  revoked: z.boolean(),
  /** Holds a control socket to the hub now and heartbeats. */
  online: z.boolean(),
  /** The software version it reported (`psm-connector/x.y.z`), while online. */
  agent: z.string().nullable(),
  connectedAt: z.number().int().nullable(),
  /** Last heartbeat the hub saw (unix ms). */
  lastHeartbeat: z.number().int().nullable(),
  sessions: z.number().int().nonnegative(),
  errors: z.array(ConnectorError),
  /** Its recording spool (docs/recording.md), from its last report; null offline or from an older connector. */
  spool: SpoolHealth.nullable(),
});
export type ConnectorInfo = z.infer<typeof ConnectorInfo>;

/** A connector's new identity key: the public half only (a JWK with a private part is refused). */
export const IdentityKeyRotation = z.strictObject({
  publicKey: z.strictObject({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  }),
});
export type IdentityKeyRotation = z.infer<typeof IdentityKeyRotation>;

// ---- discovery --------------------------------------------------------------------------------

export const DiscoverySource = z.enum(["ldap", "ec2", "azure", "vcenter", "keyscan"]);
export type DiscoverySource = z.infer<typeof DiscoverySource>;

const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:_%[\]-]+$/, "a host name or address");

/** One server as a connector found it. Connector -> edge only. */
export const DiscoveredServerReport = z.strictObject({
  source: DiscoverySource,
  sourceId: z.string().min(1).max(512),
  name: z.string().min(1).max(253),
  host: hostName,
  port: z.number().int().min(1).max(65535).default(22),
  os: z.string().max(128).optional(),
  /** A keyscan's proposal, shown to the admin to pin; never trusted by itself. */
  hostKey: HostKeyFingerprint.optional(),
  hostKeyType: z.string().max(64).optional(),
  /** The port an RDP probe answered on (a TLS handshake after the X.224 negotiation). */
  rdpPort: z.number().int().min(1).max(65535).optional(),
  /** That probe's proposal: the certificate's fingerprint (`SHA256:` + base64 of the DER's SHA-256). */
  rdpCert: HostKeyFingerprint.optional(),
});
export type DiscoveredServerReport = z.infer<typeof DiscoveredServerReport>;

/** Up to 1,000 servers per report; a connector with more sends several. */
export const InventoryReport = z.strictObject({ servers: z.array(DiscoveredServerReport).max(1000) });
/** The edge's answer to an inventory report: how many servers it took. */
export const InventoryReceipt = z.object({ received: z.number().int() });
export type InventoryReport = z.infer<typeof InventoryReport>;

/** seen -> stale (unseen for the site's stale days) -> retired (unseen for its retire days); seen again: back. */
export const DiscoveryLifecycle = z.enum(["seen", "stale", "retired"]);
export type DiscoveryLifecycle = z.infer<typeof DiscoveryLifecycle>;

/** A site's ages for discovered hosts nobody sees any more, in days: stale first, then retired. */
export const DiscoveryLifecycleSettings = z
  .strictObject({
    staleAfterDays: z.number().int().min(1).max(365),
    retireAfterDays: z.number().int().min(1).max(3650),
  })
  .refine((s) => s.retireAfterDays > s.staleAfterDays, "retire after more days than stale");
export type DiscoveryLifecycleSettings = z.infer<typeof DiscoveryLifecycleSettings>;

export const DiscoveredServer = z.object({
  id: z.string(),
  siteId: z.string(),
  source: DiscoverySource,
  sourceId: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  os: z.string().nullable(),
  proposedHostKey: z.string().nullable(),
  hostKeyType: z.string().nullable(),
  connectorId: z.string(),
  firstSeen: z.number().int(),
  lastSeen: z.number().int(),
  /** `discovered` until an admin enables it in a zone; then `enabled` with the server's id. */
  status: z.enum(["discovered", "enabled"]),
  serverId: z.string().nullable(),
  /** The protocols a probe found it speaking (SSH: a key exchange; RDP: a TLS certificate). */
  offers: z.array(ServerProtocol),
  rdpPort: z.number().int().nullable(),
  /** The RDP certificate fingerprint the connector saw; a proposal, never trusted until pinned. */
  proposedRdpCert: z.string().nullable(),
  /** Whether discovery still sees it (docs/discovery.md): `stale` after the site's days unseen, then `retired`. */
  lifecycle: DiscoveryLifecycle,
  /** When it entered its lifecycle state (unix ms). */
  lifecycleAt: z.number().int().nullable(),
});
export type DiscoveredServer = z.infer<typeof DiscoveredServer>;

export const EnableDiscoveredRequest = z.strictObject({
  zoneId: z.string(),
  /** Catalog name; defaults to the discovered name. */
  name: z.string().min(1).max(128).optional(),
  /** Which of its protocols it opens with: SSH on its port, RDP on the port the probe answered on (3389 if none). */
  protocol: ServerProtocol.default("ssh"),
  /**
   * What the admin pins: for SSH the host key, for RDP the certificate fingerprint; usually the probe's proposal,
   * confirmed by them out of band.
   */
  hostKey: HostKeyFingerprint,
  tags: z.array(z.string().max(64)).max(20).default([]),
});
