// Recording at the source, the edge's half, inside the Workers runtime: a connector's signed chunks go
// through the upload route to R2; the room witnesses the session and seals a manifest that binds the
// chunks to its witness. Attacks: a replayed or substituted chunk, another site's connector, a forged
// signature, bytes that do not match, a connector that under-reports, a deleted manifest, an edited or
// foreign chunk, a tail cut off. An honest recording whose last chunk never came reads as incomplete.
import { env, SELF } from "cloudflare:test";
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { encodeData, encodeMessage, type IntegrityReport } from "../../protocol/index.ts";
import { chunkKey, manifestKey, sha256Hex } from "../../recording/chain.ts";
import { api, auditLog, hasText, liveSession, login, seedSite, seedUser } from "../../worker/test/harness.ts";
import { makeChunks, uploadChunk } from "../../worker/test/chunks.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function recordingOf(sessionId: string) {
  return env.DB.prepare("SELECT * FROM recordings WHERE session_id = ?")
    .bind(sessionId)
    .first<{ id: string; status: string; complete: number; chunks: number; manifest_sha256: string | null }>();
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The recording's row once its manifest is signed (complete or not). */
function sealed(sessionId: string, what = "the seal") {
  return until(
    () => recordingOf(sessionId),
    (r) => r?.status === "stored",
    what,
  );
}

let adminCookie: string | undefined;
async function admin(): Promise<string> {
  if (!adminCookie) {
    await seedUser("rec-auditor", "auditor-password-1", ["admin"]);
    adminCookie = await login("rec-auditor", "auditor-password-1");
  }
  return adminCookie;
}

/** Revokes the site's connector as an admin does (Admin › Sites). */
async function revoke(site: { siteId: string; connectorId: string }): Promise<void> {
  const res = await api(`/api/sites/${site.siteId}/connectors/${site.connectorId}/revoke`, {
    method: "POST",
    cookie: await admin(),
  });
  expect(res.status).toBe(200);
}

async function verify(recordingId: string): Promise<IntegrityReport> {
  const res = await api(`/api/recordings/${recordingId}/verify`, { method: "POST", cookie: await admin(), body: {} });
  expect(res.status).toBe(200);
  return (await res.json()) as IntegrityReport;
}

/** A live session whose connector relays 15 output bytes and the user 3 input bytes, then ends it itself. */
async function relayedSession(end: "user_exit" | "kill" = "user_exit") {
  const live = await liveSession({ recording_required: 1, record_keystrokes: 1 });
  const { connector, user, room, id } = live;
  connector.ws.send(encodeData(bytes("hello world\r\n$ ")));
  await user.next((c) => c.binaries.length >= 1, "output");
  user.ws.send(encodeData(bytes("ls\r")));
  await connector.next((c) => c.binaries.length >= 1, "input");
  if (end === "user_exit") connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
  else await room.end("killed");
  await user.next(hasText("ended"), "ended");
  const rec = (await recordingOf(id))!;
  const connectorId = { connectorId: live.site.connectorId, identityKey: live.site.identityKey };
  return { ...live, rid: rec.id, connectorId };
}

/** The last chunk is uploaded late: the recording is sealed again, complete, and verifies. */
async function lateChunkCompletes(
  s: Awaited<ReturnType<typeof relayedSession>>,
  chunk: Awaited<ReturnType<typeof makeChunks>>[number],
): Promise<void> {
  expect((await uploadChunk(SELF, s.connectorId, s.rid, chunk)).status).toBe(200);
  await until(
    () => recordingOf(s.id),
    (r) => r?.complete === 1,
    "the complete seal",
  );
  expect(await verify(s.rid)).toMatchObject({ status: "verified" });
}

const parts = [
  { text: '{"version":2,"width":80,"height":24,"timestamp":1}\n[0,"o","hello world\\r\\n$ "]\n', out: 15, in: 0 },
  { text: '[0.1,"i","ls\\r"]\n[0.2,"m","end: user_exit"]\n', out: 15, in: 3 },
];

describe("recording at the source: the edge's half", { timeout: 30_000 }, () => {
  it("a connector's chunks seal a manifest that binds them to the room's witness; it verifies", async () => {
    const s = await relayedSession();
    const chunks = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts);
    for (const chunk of chunks) expect((await uploadChunk(SELF, s.connectorId, s.rid, chunk)).status).toBe(200);
    const row = await sealed(s.id);
    expect(row).toMatchObject({ complete: 1, chunks: 2 });
    const report = await verify(s.rid);
    expect(report).toMatchObject({
      status: "verified",
      problems: [],
      coverage: { output: 15, input: 3, recordedOutput: 15, recordedInput: 3 },
    });
    // The room's markers are witnessed; the seal is audited.
    const log = await auditLog();
    expect(log.some((e) => e.action === "recording.sealed" && e.target?.id === s.rid)).toBe(true);
  });

  it("a retried chunk is accepted once; a different chunk under a used number is refused and audited", async () => {
    const s = await relayedSession();
    const [first] = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts.slice(0, 1), {
      final: false,
    });
    expect(await (await uploadChunk(SELF, s.connectorId, s.rid, first!)).json()).toMatchObject({ duplicate: false });
    expect(await (await uploadChunk(SELF, s.connectorId, s.rid, first!)).json()).toMatchObject({ duplicate: true });
    const [other] = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, [
      { text: "other\n", out: 1, in: 0 },
    ]);
    expect((await uploadChunk(SELF, s.connectorId, s.rid, other!)).status).toBe(409);
    const log = await auditLog();
    expect(
      log.some((e) => e.action === "recording.chunk_refused" && JSON.stringify(e.data).includes("used number")),
    ).toBe(true);
  });

  it("two different chunks racing for one number: exactly one is stored, the other is refused and audited", async () => {
    const s = await relayedSession();
    const ids = { rid: s.rid, sid: s.id };
    const [a] = await makeChunks(s.site.identityKey, ids, [{ text: "first\n", out: 6, in: 0 }], { final: false });
    const [b] = await makeChunks(s.site.identityKey, ids, [{ text: "second\n", out: 7, in: 0 }], { final: false });
    expect(a!.claims.sha256).not.toBe(b!.claims.sha256);
    const [resA, resB] = await Promise.all([
      uploadChunk(SELF, s.connectorId, s.rid, a!),
      uploadChunk(SELF, s.connectorId, s.rid, b!),
    ]);
    expect([resA.status, resB.status].sort()).toEqual([200, 409]);
    const winner = resA.status === 200 ? a! : b!;
    const loser = winner === a ? b! : a!;
    // The store holds the winner's bytes, and D1 the winner's claims: the loser overwrote neither.
    const stored = await env.RECORDINGS!.get(chunkKey(s.rid, 0));
    expect(await sha256Hex(new Uint8Array(await stored!.arrayBuffer()))).toBe(winner.claims.sha256);
    const row = await env.DB.prepare("SELECT sha256, jws FROM recording_chunks WHERE recording_id = ? AND seq = 0")
      .bind(s.rid)
      .first<{ sha256: string; jws: string }>();
    expect(row).toEqual({ sha256: winner.claims.sha256, jws: winner.jws });
    const log = await auditLog();
    const refusals = log.filter((e) => e.action === "recording.chunk_refused" && e.target?.id === s.rid);
    expect(refusals).toEqual([expect.objectContaining({ data: expect.objectContaining({ seq: 0 }) })]);
    expect(JSON.stringify(refusals[0]!.data)).toMatch(/used number/);
    // The loser's retry is still refused; the winner's is a duplicate.
    expect((await uploadChunk(SELF, s.connectorId, s.rid, loser)).status).toBe(409);
    expect(await (await uploadChunk(SELF, s.connectorId, s.rid, winner)).json()).toMatchObject({ duplicate: true });
  });

  it("refuses another site's connector, a forged signature, bytes that differ, a token for another path", async () => {
    const s = await relayedSession();
    const [chunk] = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts.slice(0, 1), {
      final: false,
    });
    const stranger = await seedSite();
    // Another site's connector, signing with its own key: the recording is not one it may know of.
    const [foreign] = await makeChunks(stranger.identityKey, { rid: s.rid, sid: s.id }, parts.slice(0, 1));
    const strangerId = { connectorId: stranger.connectorId, identityKey: stranger.identityKey };
    expect((await uploadChunk(SELF, strangerId, s.rid, foreign!)).status).toBe(404);
    // This site's connector, but claims signed by a key it does not hold.
    expect((await uploadChunk(SELF, s.connectorId, s.rid, foreign!)).status).toBe(400);
    // Claims of one chunk with the bytes of another.
    const edited = new Uint8Array(chunk!.data);
    edited[edited.length - 9] = edited[edited.length - 9]! ^ 1;
    expect((await uploadChunk(SELF, s.connectorId, s.rid, { ...chunk!, data: edited })).status).toBe(400);
    // A token minted for chunk 5's path does not open chunk 0's.
    const res = await SELF.fetch(`http://psm.test/connector/recordings/${s.rid}/chunks/0`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${await s.site.token(`/connector/recordings/${s.rid}/chunks/5`)}` },
      body: new Blob([chunk!.data as BlobPart]),
    });
    expect(res.status).toBe(401);
    expect(await env.RECORDINGS!.get(chunkKey(s.rid, 0))).toBeNull();
  });

  it("a connector that under-reports (its last chunk holds less than the room relayed) is caught", async () => {
    const s = await relayedSession();
    const short = [parts[0]!, { ...parts[1]!, out: 10 }];
    for (const chunk of await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, short))
      expect((await uploadChunk(SELF, s.connectorId, s.rid, chunk)).status).toBe(200);
    await sealed(s.id);
    const report = await verify(s.rid);
    expect(report.status).toBe("tampered");
    expect(report.problems).toEqual([expect.objectContaining({ kind: "witness" })]);
  });

  it("no last chunk by the tail wait: signed incomplete with the missing range; a later upload completes it", async () => {
    const s = await relayedSession("kill");
    const chunks = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts);
    expect((await uploadChunk(SELF, s.connectorId, s.rid, chunks[0]!)).status).toBe(200);
    expect((await recordingOf(s.id))?.status).toBe("recording"); // waiting for the tail
    // The tail wait runs out (RECORDING_TAIL_WAIT_MS is minutes; the test moves the due time instead).
    await env.DB.prepare("UPDATE recordings SET tail_due = 0 WHERE id = ?").bind(s.rid).run();
    await s.room.chunkArrived(s.rid);
    const row = await sealed(s.id, "the incomplete seal");
    expect(row).toMatchObject({ complete: 0, chunks: 1 });
    const incomplete = await verify(s.rid);
    expect(incomplete.status).toBe("incomplete");
    expect(incomplete.problems[0]?.detail).toMatch(/output bytes 15 to 15 .*tail_timeout.*chunks from 1/);
    // The missing chunk arrives late: sealed again, complete.
    await lateChunkCompletes(s, chunks[1]!);
  });

  it("a seal while a chunk's bytes are still being put lists only stored chunks: incomplete, never tampered", async () => {
    const s = await relayedSession("kill");
    const chunks = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts);
    expect((await uploadChunk(SELF, s.connectorId, s.rid, chunks[0]!)).status).toBe(200);
    // Chunk 1's upload has claimed its number (its row is in) but its put has not finished.
    const { claims, jws } = chunks[1]!;
    await env.DB.prepare(
      `INSERT INTO recording_chunks (recording_id, seq, sha256, size, link, out_end, in_end, final, jws, signer_kid, received_at)
       VALUES (?, 1, ?, ?, ?, ?, ?, 1, ?, 'kid', ?)`,
    )
      .bind(s.rid, claims.sha256, claims.size, claims.link, claims.out, claims.in, jws, Date.now())
      .run();
    await env.DB.prepare("UPDATE recordings SET tail_due = 0 WHERE id = ?").bind(s.rid).run();
    await s.room.chunkArrived(s.rid);
    expect(await sealed(s.id, "the seal mid-put")).toMatchObject({ complete: 0, chunks: 1 });
    expect((await verify(s.rid)).status).toBe("incomplete");
    // The put completes (the connector's retry): sealed again, complete and verified.
    await lateChunkCompletes(s, chunks[1]!);
  });

  it("a connector revoked with chunks still spooled: its uploads are refused, the recording is sealed incomplete at once", async () => {
    const live = await liveSession({ recording_required: 1, record_keystrokes: 1 });
    const { connector, user, id } = live;
    connector.ws.send(encodeData(bytes("hello world\r\n$ ")));
    await user.next((c) => c.binaries.length >= 1, "output");
    user.ws.send(encodeData(bytes("ls\r")));
    await connector.next((c) => c.binaries.length >= 1, "input");
    const rid = (await recordingOf(id))!.id;
    const chunks = await makeChunks(live.site.identityKey, { rid, sid: id }, parts);
    const connectorId = { connectorId: live.site.connectorId, identityKey: live.site.identityKey };
    // The first chunk went up while the session ran; the second is still in the connector's spool.
    expect((await uploadChunk(SELF, connectorId, rid, chunks[0]!)).status).toBe(200);
    await revoke(live.site);
    await user.next(hasText("ended", { reason: "connector_revoked" }), "ended: connector_revoked");
    // Its identity opens the upload route no more: the spooled chunk is refused and not stored.
    const late = await uploadChunk(SELF, connectorId, rid, chunks[1]!);
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect(await env.RECORDINGS!.get(chunkKey(rid, 1))).toBeNull();
    // Nothing more can come from it, so nothing is waited for: sealed now (the tail wait is minutes),
    // incomplete, naming the revocation as the gap's reason; what did arrive still verifies.
    const row = await sealed(id);
    expect(row).toMatchObject({ complete: 0, chunks: 1 });
    const report = await verify(rid);
    expect(report.status).toBe("incomplete");
    expect(report.problems).toEqual([expect.objectContaining({ kind: "incomplete" })]);
    expect(report.problems[0]?.detail).toMatch(/output bytes 15 to 15 .*connector_revoked.*chunks from 1/);
  });

  it("a connector revoked after its session ended, its last chunk still spooled: the gap names the revocation", async () => {
    const s = await relayedSession();
    const chunks = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts);
    expect((await uploadChunk(SELF, s.connectorId, s.rid, chunks[0]!)).status).toBe(200);
    expect((await recordingOf(s.id))?.status).toBe("recording"); // waiting for the tail
    await revoke(s.site);
    expect((await uploadChunk(SELF, s.connectorId, s.rid, chunks[1]!)).status).toBe(401);
    // The room looks again (its tail alarm; the test calls it): nothing more can come, so it seals now.
    await s.room.chunkArrived(s.rid);
    const row = await sealed(s.id);
    expect(row).toMatchObject({ complete: 0, chunks: 1 });
    const report = await verify(s.rid);
    expect(report.status).toBe("incomplete");
    expect(report.problems[0]?.detail).toMatch(/connector_revoked.*chunks from 1/);
  });

  it("tampering in the store is detected: a deleted manifest, an edited chunk, a foreign chunk, a cut tail", async () => {
    const a = await relayedSession();
    const b = await relayedSession();
    for (const s of [a, b])
      for (const chunk of await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts))
        expect((await uploadChunk(SELF, s.connectorId, s.rid, chunk)).status).toBe(200);
    for (const s of [a, b]) await sealed(s.id);
    const bucket = env.RECORDINGS!;
    // A chunk from another recording put in place of this one's.
    const foreign = await (await bucket.get(chunkKey(b.rid, 0)))!.arrayBuffer();
    const own = await (await bucket.get(chunkKey(a.rid, 0)))!.arrayBuffer();
    await bucket.put(chunkKey(a.rid, 0), foreign);
    expect((await verify(a.rid)).problems).toContainEqual(expect.objectContaining({ kind: "hash", seq: 0 }));
    // An edited byte.
    const edited = new Uint8Array(own.slice(0));
    edited[20] = edited[20]! ^ 0x40;
    await bucket.put(chunkKey(a.rid, 0), edited);
    expect((await verify(a.rid)).status).toBe("tampered");
    await bucket.put(chunkKey(a.rid, 0), own);
    expect((await verify(a.rid)).status).toBe("verified");
    // The tail cut off.
    const tail = await (await bucket.get(chunkKey(a.rid, 1)))!.arrayBuffer();
    await bucket.delete(chunkKey(a.rid, 1));
    expect((await verify(a.rid)).problems).toContainEqual(expect.objectContaining({ kind: "missing", seq: 1 }));
    await bucket.put(chunkKey(a.rid, 1), tail);
    // The manifest deleted: D1 kept its hash, so this is tampering, not "not sealed yet".
    await bucket.delete(manifestKey(a.rid));
    const gone = await verify(a.rid);
    expect(gone.status).toBe("tampered");
    expect(gone.problems[0]?.detail).toMatch(/manifest is gone/);
  });

  it("a connector that cannot record tells the room: shown as failing, audited, and named as the gap's reason", async () => {
    const live = await liveSession({ recording_required: 0 });
    live.connector.ws.send(encodeMessage({ type: "recording", state: "failing", detail: "spool_full" }));
    await until(
      () => live.room.presence(),
      (p) => p.recording === "failing",
      "failing",
    );
    await live.room.end("killed");
    const rec = (await recordingOf(live.id))!;
    await env.DB.prepare("UPDATE recordings SET tail_due = 0 WHERE id = ?").bind(rec.id).run();
    await live.room.chunkArrived(rec.id);
    await sealed(live.id);
    const report = await verify(rec.id);
    expect(report.status).toBe("incomplete");
    expect(report.problems[0]?.detail).toMatch(/spool_full/);
    const log = await auditLog();
    expect(log.some((e) => e.action === "recording.alert" && e.target?.id === live.id)).toBe(true);
  });

  it("the room sends its markers to the connector, which writes them into the stream in order", async () => {
    const live = await liveSession({ recording_required: 1 });
    expect(await live.room.extend(Date.now() + 3_600_000, "grant-for-test")).toBe(true);
    await live.connector.next(hasText("marker"), "marker");
    const marker = live.connector.texts.find((m) => (m as { type: string }).type === "marker") as { label: string };
    expect(marker.label).toMatch(/^extension: until /);
    await live.room.end("killed");
  });

  it("another connector of the same site cannot upload for a session it did not serve", async () => {
    const s = await relayedSession();
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const otherId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, 'c2', ?, ?)",
    )
      .bind(otherId, s.site.siteId, JSON.stringify(await exportJWK(publicKey)), Date.now())
      .run();
    const otherKey = await exportJWK(privateKey);
    const [chunk] = await makeChunks(otherKey, { rid: s.rid, sid: s.id }, parts.slice(0, 1), { final: false });
    const res = await uploadChunk(SELF, { connectorId: otherId, identityKey: otherKey }, s.rid, chunk!);
    expect(res.status).toBe(404);
    const log = await auditLog();
    expect(
      log.some((e) => e.action === "recording.chunk_refused" && JSON.stringify(e.data).includes("did not serve")),
    ).toBe(true);
  });

  it("chunks signed before and after a connector key rotation both verify, also after the connector is revoked", async () => {
    const s = await relayedSession();
    const [first] = await makeChunks(s.site.identityKey, { rid: s.rid, sid: s.id }, parts.slice(0, 1), {
      final: false,
    });
    expect((await uploadChunk(SELF, s.connectorId, s.rid, first!)).status).toBe(200);
    // The connector rotates its identity key (POST /connector/identity, signed with the current key).
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const rotated = await SELF.fetch("http://psm.test/connector/identity", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${await s.site.token("/connector/identity")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ publicKey: await exportJWK(publicKey) }),
    });
    expect(rotated.status).toBe(200);
    const newKey = await exportJWK(privateKey);
    // The second chunk, chained after the first, signed with the new key.
    const both = await makeChunks(newKey, { rid: s.rid, sid: s.id }, parts);
    const res = await uploadChunk(SELF, { connectorId: s.site.connectorId, identityKey: newKey }, s.rid, both[1]!);
    expect(res.status).toBe(200);
    await sealed(s.id);
    await env.DB.prepare("UPDATE connectors SET revoked_at = ? WHERE id = ?")
      .bind(Date.now(), s.site.connectorId)
      .run();
    expect(await verify(s.rid)).toMatchObject({ status: "verified", problems: [] });
  });

  it("a policy with recording off: no recording row, the grant names none, the room witnesses nothing", async () => {
    const live = await liveSession({ recording_enabled: 0, recording_required: 0 });
    const grant = decodeJwt(live.open.grant) as { rec: { id?: string } };
    expect(grant.rec.id).toBeUndefined();
    await live.room.end("killed");
    expect(await recordingOf(live.id)).toBeNull();
    expect((await live.room.presence()).recording).toBe("not_recorded");
  });
});
