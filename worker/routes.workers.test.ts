// The edge's HTTP routes inside the Workers runtime: accounts, cookies, validation, enrollment,
// and websocket upgrades refused before any Durable Object accepts them.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { type CatalogEntry, FirstAdmin } from "../protocol/index.ts";
import { api, BOOTSTRAP_TOKEN, login, ORIGIN, seedSite, seedUser } from "./test/harness.ts";

describe("accounts", () => {
  it("bootstraps the first admin once, with the bootstrap token only", async () => {
    const body = { token: BOOTSTRAP_TOKEN, username: "root-admin", password: "long-enough-pw" };
    expect(
      (await api("/api/bootstrap", { method: "POST", body: { ...body, token: "wrong-token-0123456789" } })).status,
    ).toBe(403);
    const created = await api("/api/bootstrap", { method: "POST", body });
    expect(created.status).toBe(201);
    // The answer the route declares (FirstAdmin), exactly.
    expect(FirstAdmin.strict().parse(await created.json())).toMatchObject({ username: "root-admin" });
    const again = await api("/api/bootstrap", { method: "POST", body: { ...body, username: "second" } });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: { code: "conflict", message: expect.any(String) } });
  });

  it("logs in with a hardened cookie and refuses a wrong password generically", async () => {
    await seedUser("bob", "bob-password-1", ["requester"]);
    const bad = await api("/api/login", { method: "POST", body: { username: "bob", password: "nope" } });
    const unknown = await api("/api/login", { method: "POST", body: { username: "nobody", password: "nope" } });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual(await unknown.json());
    const res = await SELF.fetch("https://psm.test/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "bob", password: "bob-password-1" }),
    });
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("__Host-psm_session="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Secure/);
    const me = await api("/api/me", { cookie: cookie.split(";")[0] });
    expect(await me.json()).toMatchObject({ username: "bob", roles: ["requester"] });
    expect((await api("/api/logout", { method: "POST" })).headers.get("set-cookie")).toMatch(/__Host-psm_session=;/);
  });

  it("stores passwords as PBKDF2 hashes", async () => {
    await seedUser("carol", "carol-password-1", ["requester"]);
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE username = 'carol'").first<{
      password_hash: string;
    }>();
    expect(row!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(row!.password_hash).not.toContain("carol-password-1");
  });

  it("refuses a tampered cookie and a token of another type", async () => {
    const id = await seedUser("dave", "dave-password-1", ["requester"]);
    const cookie = await login("dave", "dave-password-1");
    const [h, p, s] = cookie.split("=")[1]!.split(".");
    const tampered = `__Host-psm_session=${h}.${p}x.${s}`;
    expect((await api("/api/me", { cookie: tampered })).status).toBe(401);
    // Signed with the right secret but typed as a grant: not a session.
    const grantTyped = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "psm-grant+jwt" })
      .setIssuer("psm-edge")
      .setAudience("psm-web")
      .setSubject(id)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("test-user-token-secret-0123456789abcdef"));
    expect((await api("/api/me", { cookie: `__Host-psm_session=${grantTyped}` })).status).toBe(401);
  });

  it("validates bodies and answers with a stable code and no detail", async () => {
    for (const body of ["{", '{"username":"x"}', '{"username":"x","password":"y","admin":true}']) {
      const res = await SELF.fetch(`${ORIGIN}/api/login`, { method: "POST", body });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: "bad_request", message: "The request was not valid." } });
    }
  });

  it("keeps admin routes from requesters", async () => {
    await seedUser("erin", "erin-password-1", ["requester"]);
    const cookie = await login("erin", "erin-password-1");
    expect((await api("/api/sites", { method: "POST", cookie, body: { name: "x" } })).status).toBe(403);
    expect((await api("/api/sites", { method: "POST", body: { name: "x" } })).status).toBe(401);
  });
});

describe("connector enrollment", () => {
  const identityKey = { kty: "OKP", crv: "Ed25519", x: "XYQaEo_0jlJWuP-g0SN3IWYyMO7GsMVoRyBKxUQDSDw" };
  const sealKey = {
    kty: "EC",
    crv: "P-256",
    x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  };

  it("takes a one-time token once, returns the edge key to pin, and sets the site's seal key", async () => {
    await seedUser("admin1", "admin-password-1", ["admin"]);
    const cookie = await login("admin1", "admin-password-1");
    const site = (await (await api("/api/sites", { method: "POST", cookie, body: { name: "dc-east" } })).json()) as {
      id: string;
    };
    const { token } = (await (
      await api(`/api/sites/${site.id}/enrollment-tokens`, { method: "POST", cookie })
    ).json()) as { token: string };
    const first = await api("/api/connectors/enroll", {
      method: "POST",
      body: { token, name: "c1", identityKey, sealKey },
    });
    expect(first.status).toBe(201);
    const enrolled = (await first.json()) as {
      edgeKey: Record<string, unknown>;
      sealKey: Record<string, unknown>;
      siteId: string;
    };
    expect(enrolled.siteId).toBe(site.id);
    expect(enrolled.edgeKey).toMatchObject({ kty: "OKP", crv: "Ed25519" });
    expect(enrolled.edgeKey).not.toHaveProperty("d");
    expect(enrolled.sealKey).toMatchObject({ x: sealKey.x });
    const replay = await api("/api/connectors/enroll", {
      method: "POST",
      body: { token, name: "c2", identityKey, sealKey },
    });
    expect(replay.status).toBe(401);
    const stored = await env.DB.prepare("SELECT token_hash FROM enrollment_tokens").all<{ token_hash: string }>();
    expect(JSON.stringify(stored.results)).not.toContain(token);
  });

  it("refuses an expired token and private key material", async () => {
    const uid = await seedUser("admin2", "admin-password-2", ["admin"]);
    const site = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO sites (id, name, created_at) VALUES (?, 'old', 0)").bind(site).run();
    const { sha256 } = await import("./random.ts");
    await env.DB.prepare(
      "INSERT INTO enrollment_tokens (token_hash, site_id, created_by, expires_at) VALUES (?, ?, ?, ?)",
    )
      .bind(await sha256("expired-token-0123456789"), site, uid, Date.now() - 1)
      .run();
    const expired = await api("/api/connectors/enroll", {
      method: "POST",
      body: { token: "expired-token-0123456789", name: "c", identityKey, sealKey },
    });
    expect(expired.status).toBe(401);
    const withPrivate = await api("/api/connectors/enroll", {
      method: "POST",
      body: { token: "expired-token-0123456789", name: "c", identityKey: { ...identityKey, d: "secret" } },
    });
    expect(withPrivate.status).toBe(400);
  });
});

describe("websocket upgrades", () => {
  it("refuses unauthenticated and foreign-origin upgrades before the room accepts anything", async () => {
    const site = await seedSite();
    const userId = await seedUser("frank", "frank-password-1", ["requester"]);
    const cookie = await login("frank", "frank-password-1");
    const sessionId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
    )
      .bind(sessionId, userId, site.serverId, site.credentialId, site.siteId, Date.now(), Date.now() + 60_000)
      .run();
    const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(sessionId));
    await room.init({
      sessionId,
      userId,
      username: "frank",
      serverId: site.serverId,
      siteId: site.siteId,
      deadline: Date.now() + 60_000,
    });
    const path = `${ORIGIN}/api/sessions/${sessionId}/ws`;
    const upgrade = (headers: Record<string, string>) =>
      SELF.fetch(path, { headers: { Upgrade: "websocket", ...headers } });

    expect((await upgrade({ Origin: ORIGIN })).status).toBe(401);
    expect((await upgrade({ Origin: "https://evil.example", cookie })).status).toBe(403);
    expect((await upgrade({ cookie })).status).toBe(403);
    expect(
      (await SELF.fetch(`${ORIGIN}/connector/sessions/${sessionId}`, { headers: { Upgrade: "websocket" } })).status,
    ).toBe(401);
    expect(
      (
        await SELF.fetch(`${ORIGIN}/connector/sessions/${sessionId}`, {
          headers: { Upgrade: "websocket", Authorization: "Bearer x.y.z" },
        })
      ).status,
    ).toBe(401);
    await runInDurableObject(room, (_instance, state) => {
      expect(state.getWebSockets()).toHaveLength(0);
    });
    // Another user's cookie cannot reach this session either.
    await seedUser("mallory", "mallory-password-1", ["requester"]);
    const other = await login("mallory", "mallory-password-1");
    expect((await upgrade({ Origin: ORIGIN, cookie: other })).status).toBe(404);
    const ok = await upgrade({ Origin: ORIGIN, cookie });
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    ok.webSocket!.close(1000);
  });

  it("never returns the sealed blob through the catalog", async () => {
    const site = await seedSite();
    await site.entitle(await seedUser("gina", "gina-password-1", ["requester"]));
    const cookie = await login("gina", "gina-password-1");
    const text = await (await api("/api/catalog", { cookie })).text();
    expect(text).toContain("root pw");
    expect(text).not.toContain("SEALED");
  });

  it("tells the requester before they ask that connecting will need a second factor or the master password", async () => {
    const name = `hint-${crypto.randomUUID().slice(0, 6)}`;
    const plain = await seedSite();
    const strict = await seedSite({ mfa_required: 1, master_password_required: 1 });
    const high = await seedSite();
    await env.DB.prepare("UPDATE zones SET sensitivity = 'high' WHERE id = ?").bind(high.zoneId).run();
    const userId = await seedUser(name, "hint-password-12", ["requester"]);
    for (const site of [plain, strict, high]) await site.entitle(userId);
    const cookie = await login(name, "hint-password-12");
    const catalog = (await (await api("/api/catalog", { cookie })).json()) as CatalogEntry[];
    const hint = (site: { serverId: string }) => {
      const { mfaAtConnect, masterPasswordAtConnect } = catalog.find((s) => s.id === site.serverId)!.credentials[0]!
        .policy;
      return { mfaAtConnect, masterPasswordAtConnect };
    };
    expect(hint(plain)).toEqual({ mfaAtConnect: false, masterPasswordAtConnect: false });
    expect(hint(strict)).toEqual({ mfaAtConnect: true, masterPasswordAtConnect: true });
    expect(hint(high)).toEqual({ mfaAtConnect: true, masterPasswordAtConnect: false });
  });
});
