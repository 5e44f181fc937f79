// The discovered-host lifecycle, pure: what a rerun's sighting and the passing of time do to one host record
// (seen -> stale after the site's stale days unseen -> retired after its retire days; seen again: back), and
// whether its enabled server follows a new address. D1, the ledger and revocation are glue (discovery.ts).
import type { DiscoveryLifecycle, DiscoveryLifecycleSettings, ServerProtocol } from "../../protocol/index.ts";

export const DAY_MS = 86_400_000;
/** A site that never set them: stale after 7 days unseen, retired after 30. */
export const DEFAULT_LIFECYCLE: DiscoveryLifecycleSettings = { staleAfterDays: 7, retireAfterDays: 30 };

export type Address = { host: string; port: number };

/** One discovered host as stored, with the enabled server's address when it has one. */
export type HostRecord = {
  lifecycle: DiscoveryLifecycle;
  lastSeen: number;
  host: string;
  /** The SSH port (what the source names). */
  port: number;
  rdpPort: number | null;
  server: { protocol: ServerProtocol; host: string; port: number } | null;
};

export type Sighting = { host: string; port: number; rdpPort: number | null };

export type LifecycleEvent =
  | { kind: "returned"; from: "stale" | "retired" }
  | {
      kind: "address_changed";
      before: Sighting;
      after: Sighting;
      /** The enabled server's new address, or null: none, unchanged for its protocol, or an admin moved it (left alone). */
      serverFollows: Address | null;
    };

/** The address a server of this protocol dials on a host: SSH on the source's port, RDP on the probed one (3389). */
export function serverAddress(protocol: ServerProtocol, h: Sighting): Address {
  return { host: h.host, port: protocol === "rdp" ? (h.rdpPort ?? 3389) : h.port };
}

const same = (a: Address, b: Address) => a.host === b.host && a.port === b.port;

/**
 * A rerun saw the host: it is `seen` from `now`, and it may have come back or moved. A sighting without an RDP
 * answer keeps the RDP port known before (a probe can fail once). The enabled server follows a move only while it
 * still dials the old discovered address (an admin's own edit wins).
 */
export function sighted(prev: HostRecord, seen: Sighting): { lifecycle: "seen"; events: LifecycleEvent[] } {
  const events: LifecycleEvent[] = [];
  if (prev.lifecycle !== "seen") events.push({ kind: "returned", from: prev.lifecycle });
  const before: Sighting = { host: prev.host, port: prev.port, rdpPort: prev.rdpPort };
  const after: Sighting = { host: seen.host, port: seen.port, rdpPort: seen.rdpPort ?? prev.rdpPort };
  if (before.host !== after.host || before.port !== after.port || before.rdpPort !== after.rdpPort) {
    const s = prev.server;
    const was = serverAddress(s?.protocol ?? "ssh", before);
    const now = serverAddress(s?.protocol ?? "ssh", after);
    const follows = s !== null && same(s, was) && !same(was, now);
    events.push({ kind: "address_changed", before, after, serverFollows: follows ? now : null });
  }
  return { lifecycle: "seen", events };
}

/** What time alone makes of a host at `now`: null when nothing changes (retired stays retired until seen). */
export function aged(
  rec: Pick<HostRecord, "lifecycle" | "lastSeen">,
  now: number,
  settings: DiscoveryLifecycleSettings,
): "stale" | "retired" | null {
  const unseen = now - rec.lastSeen;
  if (rec.lifecycle !== "retired" && unseen >= settings.retireAfterDays * DAY_MS) return "retired";
  if (rec.lifecycle === "seen" && unseen >= settings.staleAfterDays * DAY_MS) return "stale";
  return null;
}

/** The last-seen time before which a host of this site has something due (for the sweep's query). */
export function dueBefore(now: number, settings: DiscoveryLifecycleSettings): number {
  return now - Math.min(settings.staleAfterDays, settings.retireAfterDays) * DAY_MS;
}
