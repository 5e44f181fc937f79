// Finding by name: recordings and the audit log filter by part of a user's, server's or zone's name in any
// case (LIKE wildcards typed by the user match only themselves), the pickers offer only names the caller may
// see (a zone admin's stay inside their zones), and the audit export carries what the filter selects.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry, AuditListEntry, FilterName, RecordingSummary } from "../protocol/index.ts";
import { api, login, seedSite, seedUser } from "./test/harness.ts";

const PASSWORD = "names-password-1";
const sfx = crypto.randomUUID().slice(0, 6);

type Site = Awaited<ReturnType<typeof seedSite>>;

/** A user (no recordings of their own unless given some). */
async function user(name: string, roles: string[] = ["requester"]) {
  return { id: await seedUser(name, PASSWORD, roles), name };
}

/** An ended session of `userId` on the site's server, with a stored recording. */
async function recorded(site: Site, userId: string, at: number): Promise<string> {
  const sessionId = crypto.randomUUID();
  const recordingId = crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline, ended_at, end_reason)
       VALUES (?, ?, ?, ?, ?, 'ended', ?, ?, ?, 'time_limit')`,
    ).bind(sessionId, userId, site.serverId, site.credentialId, site.siteId, at, at + 60_000, at + 60_000),
    env.DB.prepare(
      `INSERT INTO recordings (id, session_id, user_id, server_id, zone_id, started_at, ended_at, status, chunks, bytes, manifest_sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'stored', 1, 100, ?)`,
    ).bind(recordingId, sessionId, userId, site.serverId, site.zoneId, at, at + 60_000, "a".repeat(64)),
  ]);
  return recordingId;
}

const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global"));

describe("filters by name", () => {
  let prod: Site;
  let lab: Site;
  const people = {} as Record<"alice" | "alina" | "bob" | "percent", { id: string; name: string }>;
  const rec = {} as Record<"alice" | "alina" | "bob", string>;
  const cookies = {} as Record<"auditor" | "prodAdmin" | "alice", string>;

  beforeAll(async () => {
    prod = await seedSite();
    lab = await seedSite();
    await env.DB.batch([
      env.DB.prepare("UPDATE zones SET name = ? WHERE id = ?").bind(`Prod-${sfx}`, prod.zoneId),
      env.DB.prepare("UPDATE zones SET name = ? WHERE id = ?").bind(`lab-${sfx}`, lab.zoneId),
      env.DB.prepare("UPDATE servers SET name = ? WHERE id = ?").bind(`web-${sfx}-1`, prod.serverId),
      env.DB.prepare("UPDATE servers SET name = ? WHERE id = ?").bind(`db-${sfx}-1`, lab.serverId),
    ]);
    people.alice = await user(`Alice-${sfx}`);
    people.alina = await user(`alina-${sfx}`);
    people.bob = await user(`bob-${sfx}`);
    people.percent = await user(`al%_x-${sfx}`);
    const now = Date.now();
    rec.alice = await recorded(prod, people.alice.id, now - 3000);
    rec.bob = await recorded(prod, people.bob.id, now - 2000);
    rec.alina = await recorded(lab, people.alina.id, now - 1000);
    const auditor = await user(`aud-${sfx}`, ["auditor"]);
    const prodAdmin = await user(`za-${sfx}`, ["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)")
      .bind(prod.zoneId, prodAdmin.id)
      .run();
    cookies.auditor = await login(auditor.name, PASSWORD);
    cookies.prodAdmin = await login(prodAdmin.name, PASSWORD);
    cookies.alice = await login(people.alice.name, PASSWORD);
    // Entries about each of them, as the edge writes them.
    await ledger().appendMany([
      {
        actor: { id: people.alice.id, name: people.alice.name },
        action: "session.started",
        target: { type: "session", id: `s-alice-${sfx}`, name: `root@web-${sfx}-1` },
        refs: { userId: people.alice.id, serverId: prod.serverId, sessionId: `s-alice-${sfx}` },
      },
      {
        actor: { id: people.bob.id, name: people.bob.name },
        action: "checkout.requested",
        target: { type: "checkout", id: `c-bob-${sfx}`, name: `root pw on web-${sfx}-1` },
        refs: { userId: people.bob.id, serverId: prod.serverId, checkoutId: `c-bob-${sfx}` },
      },
      {
        actor: { id: people.alina.id, name: people.alina.name },
        action: "checkout.requested",
        target: { type: "checkout", id: `c-alina-${sfx}`, name: `root pw on db-${sfx}-1` },
        refs: { userId: people.alina.id, serverId: lab.serverId, checkoutId: `c-alina-${sfx}` },
      },
      {
        actor: { id: "admin-x", name: "admin-x" },
        action: "admin.change",
        target: { type: "zone", id: prod.zoneId },
        data: { after: { recordingRetentionDays: 30 } },
      },
    ]);
  });

  const list = async <T>(path: string, cookie = cookies.auditor): Promise<T> => {
    const res = await api(path, { cookie });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const recordingIds = async (query: string, cookie?: string) =>
    (await list<RecordingSummary[]>(`/api/recordings?${query}`, cookie)).map((r) => r.id).sort();
  const names = async (path: string, cookie?: string) => (await list<FilterName[]>(path, cookie)).map((n) => n.name);

  it("recordings: part of a user's, server's or zone's name, in any case", async () => {
    expect(await recordingIds(`user=${encodeURIComponent(`LIC`)}e-${sfx}`)).toEqual([rec.alice]);
    expect(await recordingIds(`user=${encodeURIComponent(`al`)}`)).toEqual(
      expect.arrayContaining([rec.alice, rec.alina]),
    );
    expect(await recordingIds(`user=-${sfx.toUpperCase()}`)).toEqual([rec.alice, rec.alina, rec.bob].sort());
    expect(await recordingIds(`server=WEB-${sfx}`)).toEqual([rec.alice, rec.bob].sort());
    expect(await recordingIds(`zone=prod-${sfx}`)).toEqual([rec.alice, rec.bob].sort());
    expect(await recordingIds(`zone=lab-${sfx}&user=ali`)).toEqual([rec.alina]);
    // An id still works; a wildcard typed is a character, not "anything".
    expect(await recordingIds(`user=${people.bob.id}`)).toEqual([rec.bob]);
    expect(await recordingIds(`user=${encodeURIComponent("%")}-${sfx}`)).toEqual([]);
    expect(await recordingIds(`user=${encodeURIComponent("_")}`)).toEqual([]);
  });

  it("recordings list the zone, the end reason and whether the manifest was signed", async () => {
    const [row] = await list<RecordingSummary[]>(`/api/recordings?user=${people.alice.id}`);
    expect(row).toMatchObject({ zoneName: `Prod-${sfx}`, endReason: "time_limit", signed: true });
  });

  it("recording pickers: partial names, only from recordings the caller may see", async () => {
    expect(await names(`/api/recordings/names?kind=user&q=${sfx}`)).toEqual([
      people.alice.name,
      people.alina.name,
      people.bob.name,
    ]);
    expect(await names(`/api/recordings/names?kind=user&q=ALI`)).toEqual(
      expect.arrayContaining([people.alice.name, people.alina.name]),
    );
    // Never a user with no recording (the % user has none), however the wildcard is typed.
    expect(await names(`/api/recordings/names?kind=user&q=${encodeURIComponent("%")}`)).toEqual([]);
    // The admin of Prod sees Prod's people, servers and zone, and nothing of lab through any picker.
    expect(await names(`/api/recordings/names?kind=user&q=${sfx}`, cookies.prodAdmin)).toEqual([
      people.alice.name,
      people.bob.name,
    ]);
    expect(await names(`/api/recordings/names?kind=user&q=alina`, cookies.prodAdmin)).toEqual([]);
    expect(await names(`/api/recordings/names?kind=server&q=${sfx}`, cookies.prodAdmin)).toEqual([`web-${sfx}-1`]);
    expect(await names(`/api/recordings/names?kind=zone&q=${sfx}`, cookies.prodAdmin)).toEqual([`Prod-${sfx}`]);
    expect(await names(`/api/recordings/names?kind=zone&q=lab`, cookies.prodAdmin)).toEqual([]);
    // ...nor through the list itself.
    expect(await recordingIds(`user=alina-${sfx}`, cookies.prodAdmin)).toEqual([]);
    expect(await recordingIds(`user=${sfx}`, cookies.prodAdmin)).toEqual([rec.alice, rec.bob].sort());
    // A requester sees no names until their zone lets owners replay; then only their own.
    expect(await names(`/api/recordings/names?kind=user&q=`, cookies.alice)).toEqual([]);
    await env.DB.prepare("UPDATE zones SET recording_owner_replay = 1 WHERE id = ?").bind(prod.zoneId).run();
    expect(await names(`/api/recordings/names?kind=user&q=`, cookies.alice)).toEqual([people.alice.name]);
    expect(await names(`/api/recordings/names?kind=server&q=`, cookies.alice)).toEqual([`web-${sfx}-1`]);
    await env.DB.prepare("UPDATE zones SET recording_owner_replay = 0 WHERE id = ?").bind(prod.zoneId).run();
  });

  it("audit: user, server and zone by part of a name, with each entry's names; none matching is an empty list", async () => {
    const actions = async (query: string) =>
      (await list<AuditListEntry[]>(`/api/audit?${query}`)).map((e) => `${e.action}:${e.target.id}`);
    // What alice did (she signed in) and what concerns her, newest first.
    expect(await actions(`user=alice-${sfx.toUpperCase()}`)).toEqual([
      `session.started:s-alice-${sfx}`,
      `auth.login:${people.alice.id}`,
    ]);
    expect(await actions(`user=-${sfx}&action=checkout.requested`)).toEqual([
      `checkout.requested:c-alina-${sfx}`,
      `checkout.requested:c-bob-${sfx}`,
    ]);
    expect(await actions(`server=db-${sfx}`)).toEqual([`checkout.requested:c-alina-${sfx}`]);
    // A zone: its servers' entries and the entries about the zone itself.
    expect(await actions(`zone=PROD-${sfx}`)).toEqual([
      `admin.change:${prod.zoneId}`,
      `checkout.requested:c-bob-${sfx}`,
      `session.started:s-alice-${sfx}`,
    ]);
    expect(await actions(`zone=prod-${sfx}&user=bob`)).toEqual([`checkout.requested:c-bob-${sfx}`]);
    expect(await actions(`user=nobody-${sfx}`)).toEqual([]);
    expect(await actions(`user=${encodeURIComponent("%")}${sfx}`)).toEqual([]);
    const [entry] = await list<AuditListEntry[]>(`/api/audit?user=bob-${sfx}`);
    expect(entry!.context).toEqual({ user: people.bob.name, server: `web-${sfx}-1`, zone: `Prod-${sfx}` });
    const [zoneEntry] = await list<AuditListEntry[]>(`/api/audit?zone=prod-${sfx}&action=admin.change`);
    expect(zoneEntry!.context.target).toBe(`Prod-${sfx}`);
  });

  it("audit pickers: every matching name for auditors; not for zone admins", async () => {
    expect(await names(`/api/audit/names?kind=user&q=AL`)).toEqual(
      expect.arrayContaining([people.alice.name, people.alina.name, people.percent.name]),
    );
    expect(await names(`/api/audit/names?kind=user&q=${encodeURIComponent("%_")}`)).toEqual([people.percent.name]);
    expect(await names(`/api/audit/names?kind=server&q=${sfx}`)).toEqual([`db-${sfx}-1`, `web-${sfx}-1`]);
    expect(await names(`/api/audit/names?kind=zone&q=${sfx}`)).toEqual([`lab-${sfx}`, `Prod-${sfx}`]);
    expect((await api(`/api/audit/names?kind=user&q=al`, { cookie: cookies.prodAdmin })).status).toBe(403);
  });

  it("the export carries what the filter selects, each entry as stored", async () => {
    const exported = async (query: string) => {
      const res = await api(`/api/audit/export?${query}`, { cookie: cookies.auditor });
      expect(res.status).toBe(200);
      return (await res.text())
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEntry & { context?: unknown });
    };
    const bob = await exported(`user=BOB-${sfx}`);
    expect(bob.map((e) => e.target.id)).toEqual([`c-bob-${sfx}`]);
    expect(bob[0]).not.toHaveProperty("context");
    expect(bob[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    const zone = await exported(`zone=prod-${sfx}`);
    expect(zone.map((e) => e.target.id)).toEqual([`s-alice-${sfx}`, `c-bob-${sfx}`, prod.zoneId]);
    expect(await exported(`server=nothing-${sfx}`)).toEqual([]);
    // Unfiltered, it is the whole log.
    expect((await exported("")).length).toBeGreaterThanOrEqual(4);
  });
});
