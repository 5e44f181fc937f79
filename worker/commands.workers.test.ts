// The commands timeline (GET /api/commands): the command lines sessions ran, searched by part of the line in any
// case (LIKE wildcards typed match only themselves), by user, server, outcome and time, newest first with a cursor;
// each row names who, where, the rule's message and the recording with the time to open it at. Auditors and admins
// only: a requester and a zone admin get 403, however they ask.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { CommandListEntry, CommandsPage } from "../protocol/index.ts";
import { api, login, seedSite, seedUser } from "./test/harness.ts";

const PASSWORD = "commands-password-1";
const sfx = crypto.randomUUID().slice(0, 6);
const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global"));

describe("commands timeline", () => {
  let site: Awaited<ReturnType<typeof seedSite>>;
  let other: Awaited<ReturnType<typeof seedSite>>;
  const ids = {} as Record<"alice" | "bob" | "session" | "otherSession" | "recording", string>;
  const cookies = {} as Record<"auditor" | "admin" | "requester" | "zoneAdmin", string>;

  beforeAll(async () => {
    site = await seedSite();
    other = await seedSite();
    await env.DB.batch([
      env.DB.prepare("UPDATE servers SET name = ? WHERE id = ?").bind(`web-${sfx}`, site.serverId),
      env.DB.prepare("UPDATE servers SET name = ? WHERE id = ?").bind(`db-${sfx}`, other.serverId),
    ]);
    ids.alice = await seedUser(`alice-${sfx}`, PASSWORD, ["requester"]);
    ids.bob = await seedUser(`bob-${sfx}`, PASSWORD, ["requester"]);
    await seedUser(`aud-${sfx}`, PASSWORD, ["auditor"]);
    await seedUser(`adm-${sfx}`, PASSWORD, ["admin"]);
    const zoneAdmin = await seedUser(`za-${sfx}`, PASSWORD, ["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(site.zoneId, zoneAdmin).run();
    cookies.auditor = await login(`aud-${sfx}`, PASSWORD);
    cookies.admin = await login(`adm-${sfx}`, PASSWORD);
    cookies.requester = await login(`alice-${sfx}`, PASSWORD);
    cookies.zoneAdmin = await login(`za-${sfx}`, PASSWORD);

    // Alice's session on web is recorded; Bob's on db is not.
    ids.session = crypto.randomUUID();
    ids.otherSession = crypto.randomUUID();
    ids.recording = crypto.randomUUID();
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline, ended_at, end_reason)
         VALUES (?, ?, ?, ?, ?, 'ended', ?, ?, ?, 'user_exit')`,
      ).bind(ids.session, ids.alice, site.serverId, site.credentialId, site.siteId, now, now + 60_000, now + 60_000),
      env.DB.prepare(
        `INSERT INTO recordings (id, session_id, user_id, server_id, zone_id, started_at, ended_at, status, chunks, bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'stored', 1, 100)`,
      ).bind(ids.recording, ids.session, ids.alice, site.serverId, site.zoneId, now, now + 60_000),
    ]);
    // As the room audits them (durable/room/commands.ts), oldest first.
    const command = (
      who: "alice" | "bob",
      action: "session.command" | "session.command_alert" | "session.command_denied",
      data: Record<string, unknown>,
    ) => {
      const alice = who === "alice";
      const sessionId = alice ? ids.session : ids.otherSession;
      return {
        actor: { id: ids[who], name: `${who}-${sfx}` },
        action,
        target: { type: "session", id: sessionId },
        refs: { userId: ids[who], serverId: alice ? site.serverId : other.serverId, sessionId },
        data,
      };
    };
    await ledger().appendMany([
      command("alice", "session.command", { line: `uptime # ${sfx}`, rule: null, at: 120 }),
      command("bob", "session.command", { line: `systemctl status nginx # ${sfx}`, rule: null, at: 300 }),
      command("alice", "session.command_alert", {
        line: `sudo SYSTEMCTL stop nginx # ${sfx}`,
        rule: 2,
        at: 800,
        ms: 12_345,
        message: "Paged on-call.",
      }),
      command("bob", "session.command_denied", {
        line: `systemctl stop postgres # ${sfx}`,
        rule: 0,
        at: 900,
        message: "Not on this server.",
      }),
      command("alice", "session.command", { line: `echo 100%_done # ${sfx}`, rule: null, at: 1000, ms: 20_000 }),
      // Not a command: never in the timeline, even though it names the text.
      {
        actor: { id: ids.alice, name: `alice-${sfx}` },
        action: "session.started",
        target: { type: "session", id: ids.session, name: `systemctl stop ${sfx}` },
        refs: { userId: ids.alice, serverId: site.serverId, sessionId: ids.session },
      },
    ]);
  });

  const page = async (query: string, cookie = cookies.auditor): Promise<CommandsPage> => {
    const res = await api(`/api/commands?${query}`, { cookie });
    expect(res.status, query).toBe(200);
    return (await res.json()) as CommandsPage;
  };
  const lines = (p: CommandsPage) => p.commands.map((c) => c.line.replace(` # ${sfx}`, ""));
  const q = (text: string) => `q=${encodeURIComponent(text)}`;

  it("finds the lines containing the text, in any case, newest first, each with who, where and the replay moment", async () => {
    const found = await page(`${q(`systemctl stop`)}&user=${sfx}`);
    expect(lines(found)).toEqual(["systemctl stop postgres", "sudo SYSTEMCTL stop nginx"]);
    expect(found.next).toBeNull();
    const [denied, alerted] = found.commands as [CommandListEntry, CommandListEntry];
    expect(alerted).toMatchObject({
      user: `alice-${sfx}`,
      userId: ids.alice,
      server: `web-${sfx}`,
      sessionId: ids.session,
      outcome: "alert",
      rule: 2,
      message: "Paged on-call.",
      recordingId: ids.recording,
      seconds: 12.345,
      offset: 800,
    });
    // Bob's session has no recording: no link, but the rest is there.
    expect(denied).toMatchObject({
      user: `bob-${sfx}`,
      server: `db-${sfx}`,
      outcome: "denied",
      message: "Not on this server.",
      recordingId: null,
      seconds: null,
      offset: 900,
    });
    expect(alerted.at).toBeLessThanOrEqual(denied.at);
  });

  it("a typed wildcard matches only itself", async () => {
    expect(lines(await page(q(`100%_done # ${sfx}`)))).toEqual(["echo 100%_done"]);
    expect(lines(await page(q(`0%_d`)))).toEqual(["echo 100%_done"]);
    expect((await page(q(`up%e # ${sfx}`))).commands).toEqual([]);
    expect((await page(q(`_ptime # ${sfx}`))).commands).toEqual([]);
  });

  it("filters by user, server, outcome and time", async () => {
    expect(lines(await page(`${q(sfx)}&user=BOB-${sfx}`))).toEqual([
      "systemctl stop postgres",
      "systemctl status nginx",
    ]);
    expect(lines(await page(`${q(sfx)}&server=web-${sfx}`))).toEqual([
      "echo 100%_done",
      "sudo SYSTEMCTL stop nginx",
      "uptime",
    ]);
    expect(lines(await page(`${q(sfx)}&action=denied`))).toEqual(["systemctl stop postgres"]);
    expect(lines(await page(`${q(sfx)}&action=alert`))).toEqual(["sudo SYSTEMCTL stop nginx"]);
    expect((await page(`${q(sfx)}&user=nobody-${sfx}`)).commands).toEqual([]);
    expect((await page(`${q(sfx)}&to=${Date.now() - 3_600_000}`)).commands).toEqual([]);
    expect(lines(await page(`${q(sfx)}&from=${Date.now() - 3_600_000}&action=ran&server=db-${sfx}`))).toEqual([
      "systemctl status nginx",
    ]);
  });

  it("pages newest first with a cursor until the last page says there is no more", async () => {
    const seen: string[] = [];
    let cursor: number | null | undefined;
    for (let i = 0; i < 10; i++) {
      const p = await page(`${q(sfx)}&limit=2${cursor ? `&before=${cursor}` : ""}`);
      seen.push(...lines(p));
      cursor = p.next;
      if (cursor === null) break;
      expect(p.commands).toHaveLength(2);
    }
    expect(cursor).toBeNull();
    expect(seen).toEqual([
      "echo 100%_done",
      "systemctl stop postgres",
      "sudo SYSTEMCTL stop nginx",
      "systemctl status nginx",
      "uptime",
    ]);
  });

  it("is the audit log's right: admins see it; a requester (even their own commands) and a zone admin get 403", async () => {
    expect(lines(await page(q(`stop nginx # ${sfx}`), cookies.admin))).toEqual(["sudo SYSTEMCTL stop nginx"]);
    for (const cookie of [cookies.requester, cookies.zoneAdmin]) {
      for (const query of [q(sfx), `user=alice-${sfx}`, `server=web-${sfx}&action=ran`]) {
        const res = await api(`/api/commands?${query}`, { cookie });
        expect(res.status, query).toBe(403);
        expect(await res.text()).not.toContain(sfx);
      }
    }
    expect((await api(`/api/commands?${q(sfx)}`)).status).toBe(401);
  });

  it("refuses a malformed query with 400", async () => {
    for (const query of ["limit=0", "limit=201", "action=ran%20or", `q=${"x".repeat(201)}`, "before=-1"]) {
      expect((await api(`/api/commands?${query}`, { cookie: cookies.auditor })).status, query).toBe(400);
    }
  });
});
