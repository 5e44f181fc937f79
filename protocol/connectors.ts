// API bodies about a site's connectors (health for the admin page) and their discovered servers.
import { z } from "zod";

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
});
export type ConnectorInfo = z.infer<typeof ConnectorInfo>;
