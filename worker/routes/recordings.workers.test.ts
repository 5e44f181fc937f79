// Recordings API: an IDOR test over every recording route (JumpServer's CVE-2023-42442 was a
// replay download by id without an owner check), verification through the API catching tampering
// in the store, deletion refused before retention, and the retention sweep (deleted and audited).
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeData, encodeMessage, type IntegrityReport, type RecordingSummary } from "../../protocol/index.ts";
import { chunkKey, manifestKey, recordingPrefix } from "../../recording/chain.ts";
import { api, hasText, liveSession, login, seedSite, seedUser } from "../test/harness.ts";
import { sweep } from "../scheduler.ts";
import { makeChunks, uploadChunk } from "../test/chunks.ts";

/**
 * Runs a short session to its end, uploads its recording as the connector would (one asciicast chunk of the
 * output), and returns the recording's id once it is stored.
 */
async function recordedSession(output: string[]) {
  const live = await liveSession();
  for (const text of output) live.connector.ws.send(encodeData(new TextEncoder().encode(text)));
  await live.user.next((c) => c.binaries.length === output.length, "output");
  live.connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
  await live.user.next(hasText("ended"), "ended");
  const { id: rid } = (await env.DB.prepare("SELECT id FROM recordings WHERE session_id = ?")
    .bind(live.id)
    .first<{ id: string }>())!;
  const cast = [
    JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 }),
    ...output.map((text, i) => JSON.stringify([i / 10, "o", text])),
  ].join("\n");
  const out = output.reduce((n, text) => n + new TextEncoder().encode(text).byteLength, 0);
  const [chunk] = await makeChunks(live.site.identityKey, { rid, sid: live.id }, [{ text: `${cast}\n`, out, in: 0 }]);
  const connector = { connectorId: live.site.connectorId, identityKey: live.site.identityKey };
  expect((await uploadChunk(SELF, connector, rid, chunk!)).status).toBe(200);
  let row: { id: string; status: string } | null = null;
  for (let i = 0; i < 100 && row?.status !== "stored"; i++) {
    row = await env.DB.prepare("SELECT id, status FROM recordings WHERE session_id = ?").bind(live.id).first();
    if (row?.status !== "stored") await new Promise((r) => setTimeout(r, 20));
  }
  expect(row?.status).toBe("stored");
  return { ...live, recordingId: row!.id };
}

const ROUTES = [
  ["GET", (id: string) => `/api/recordings/${id}`],
  ["POST", (id: string) => `/api/recordings/${id}/verify`],
  ["GET", (id: string) => `/api/recordings/${id}/cast`],
  ["GET", (id: string) => `/api/recordings/${id}/manifest`],
  ["DELETE", (id: string) => `/api/recordings/${id}`],
] as const;

async function statuses(cookie: string, id: string) {
  const out: Record<string, number> = {};
  for (const [method, path] of ROUTES)
    out[`${method} ${path(":id")}`] = (await api(path(id), { method, cookie })).status;
  const list = (await (await api("/api/recordings", { cookie })).json()) as RecordingSummary[];
  out.listed = list.some((r) => r.id === id) ? 1 : 0;
  return out;
}

const all = (read: number, del: number, listed: number) => ({
  "GET /api/recordings/:id": read,
  "POST /api/recordings/:id/verify": read,
  "GET /api/recordings/:id/cast": read,
  "GET /api/recordings/:id/manifest": read,
  "DELETE /api/recordings/:id": del,
  listed,
});

describe("recordings API", { timeout: 60_000 }, () => {
  let rec: Awaited<ReturnType<typeof recordedSession>>;
  const cookies: Record<string, string> = {};

  beforeAll(async () => {
    rec = await recordedSession(["$ ", "uname -a\r\nLinux db1\r\n$ "]);
    const other = await seedSite();
    const p = "idor-password-1";
    const sameZoneUser = await seedUser(`bob${crypto.randomUUID().slice(0, 6)}`, p, ["requester"]);
    await rec.site.entitle(sameZoneUser);
    const zoneAdmin = await seedUser(`za${crypto.randomUUID().slice(0, 6)}`, p, ["zone_admin"]);
    const otherZoneAdmin = await seedUser(`zb${crypto.randomUUID().slice(0, 6)}`, p, ["zone_admin"]);
    const auditor = await seedUser(`au${crypto.randomUUID().slice(0, 6)}`, p, ["auditor"]);
    await env.DB.batch([
      env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(rec.site.zoneId, zoneAdmin),
      env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(other.zoneId, otherZoneAdmin),
    ]);
    for (const [name, id] of Object.entries({ sameZoneUser, zoneAdmin, otherZoneAdmin, auditor })) {
      const row = await env.DB.prepare("SELECT username FROM users WHERE id = ?")
        .bind(id)
        .first<{ username: string }>();
      cookies[name] = await login(row!.username, p);
    }
    cookies.owner = rec.cookie;
  });

  it("IDOR: every recording route answers not_found to whoever may not see it, and works for those who may", async () => {
    // Another user of the same zone, an admin of another zone, and the owner while the zone does not allow it.
    expect(await statuses(cookies.sameZoneUser!, rec.recordingId)).toEqual(all(404, 404, 0));
    expect(await statuses(cookies.otherZoneAdmin!, rec.recordingId)).toEqual(all(404, 404, 0));
    expect(await statuses(cookies.owner!, rec.recordingId)).toEqual(all(404, 404, 0));
    // An auditor reads everything but deletes nothing; the zone's admin may delete, but not before retention.
    expect(await statuses(cookies.auditor!, rec.recordingId)).toEqual(all(200, 403, 1));
    expect(await statuses(cookies.zoneAdmin!, rec.recordingId)).toEqual(all(200, 409, 1));
    // A guessed id is the same 404 for everyone.
    expect(
      (await api("/api/recordings/00000000-0000-4000-8000-000000000000/cast", { cookie: cookies.auditor })).status,
    ).toBe(404);
    // The zone lets owners replay: the owner now reads, and still cannot delete.
    const put = await api(`/api/zones/${rec.site.zoneId}/recording-policy`, {
      method: "PUT",
      cookie: cookies.zoneAdmin,
      body: { retentionDays: 30, ownerReplay: true },
    });
    expect(put.status).toBe(403); // only admins change the zone's recording rules
    await env.DB.prepare("UPDATE zones SET recording_owner_replay = 1 WHERE id = ?").bind(rec.site.zoneId).run();
    expect(await statuses(cookies.owner!, rec.recordingId)).toEqual(all(200, 403, 1));
    expect(await statuses(cookies.sameZoneUser!, rec.recordingId)).toEqual(all(404, 404, 0));
    await env.DB.prepare("UPDATE zones SET recording_owner_replay = 0 WHERE id = ?").bind(rec.site.zoneId).run();
  });

  it("filters the list by user, server, zone and time", async () => {
    const q = async (query: string) =>
      ((await (await api(`/api/recordings?${query}`, { cookie: cookies.auditor })).json()) as RecordingSummary[]).map(
        (r) => r.id,
      );
    const row = (await (
      await api(`/api/recordings/${rec.recordingId}`, { cookie: cookies.auditor })
    ).json()) as RecordingSummary;
    expect(await q(`user=${row.username}`)).toEqual([rec.recordingId]);
    expect(await q(`server=${row.serverName}`)).toEqual([rec.recordingId]);
    expect(await q(`zone=${row.zoneId}`)).toEqual([rec.recordingId]);
    expect(await q(`zone=${row.zoneId}&from=${row.startedAt + 1}`)).toEqual([]);
    expect(await q(`zone=${row.zoneId}&to=${row.startedAt}`)).toEqual([rec.recordingId]);
  });

  it("serves the .cast and manifest, and the API's verify catches a flipped byte, a deleted chunk and a foreign chunk", async () => {
    const cast = await (await api(`/api/recordings/${rec.recordingId}/cast`, { cookie: cookies.auditor })).text();
    expect(cast.split("\n")[0]).toContain('"version":2');
    expect(cast).toContain("Linux db1");
    const verify = async () =>
      (await (
        await api(`/api/recordings/${rec.recordingId}/verify`, { method: "POST", cookie: cookies.auditor })
      ).json()) as IntegrityReport;
    expect(await verify()).toMatchObject({ status: "verified", problems: [] });

    const other = await recordedSession(["different output"]);
    const key = chunkKey(rec.recordingId, 0);
    const original = new Uint8Array(await (await env.RECORDINGS!.get(key))!.arrayBuffer());
    const flipped = original.slice();
    flipped[flipped.length - 12]! ^= 0x40;
    await env.RECORDINGS!.put(key, flipped);
    expect((await verify()).problems).toEqual([expect.objectContaining({ kind: "hash", seq: 0 })]);
    const foreign = await env.RECORDINGS!.get(chunkKey(other.recordingId, 0));
    await env.RECORDINGS!.put(key, await foreign!.arrayBuffer());
    expect((await verify()).problems).toEqual([
      expect.objectContaining({ kind: "hash", seq: 0, detail: "chunk 0 comes from another recording" }),
    ]);
    await env.RECORDINGS!.delete(key);
    expect(await verify()).toMatchObject({
      status: "tampered",
      problems: [expect.objectContaining({ kind: "missing", seq: 0 })],
    });
    await env.RECORDINGS!.put(key, original);
    expect((await verify()).status).toBe("verified");
  });

  it("deletes after retention only: the admin's delete and the cron sweep remove the objects and audit it", async () => {
    const a = await recordedSession(["to be deleted by an admin"]);
    const b = await recordedSession(["to be swept"]);
    const admin = await seedUser(`ad${crypto.randomUUID().slice(0, 6)}`, "idor-password-1", ["admin"]);
    const adminRow = await env.DB.prepare("SELECT username FROM users WHERE id = ?")
      .bind(admin)
      .first<{ username: string }>();
    const cookie = await login(adminRow!.username, "idor-password-1");
    expect((await api(`/api/recordings/${a.recordingId}`, { method: "DELETE", cookie })).status).toBe(409);
    await env.DB.prepare("UPDATE recordings SET retain_until = ? WHERE id IN (?, ?)")
      .bind(Date.now() - 1, a.recordingId, b.recordingId)
      .run();
    expect((await api(`/api/recordings/${a.recordingId}`, { method: "DELETE", cookie })).status).toBe(200);
    const result = await sweep(env, Date.now());
    expect(result.recordingsDeleted).toBeGreaterThanOrEqual(1);
    for (const id of [a.recordingId, b.recordingId]) {
      expect((await env.RECORDINGS!.list({ prefix: recordingPrefix(id) })).objects).toEqual([]);
      expect(await env.RECORDINGS!.get(manifestKey(id))).toBeNull();
      expect((await api(`/api/recordings/${id}`, { cookie })).status).toBe(404);
    }
    type Entry = { target: { id: string }; data: { why: string } };
    const audit = (await (await api("/api/audit?action=recording.deleted", { cookie })).json()) as
      | Entry[]
      | { entries: Entry[] };
    const entries = Array.isArray(audit) ? audit : audit.entries;
    expect(entries.map((e) => [e.target.id, e.data.why])).toEqual(
      expect.arrayContaining([
        [a.recordingId, "admin"],
        [b.recordingId, "retention"],
      ]),
    );
  });
});
