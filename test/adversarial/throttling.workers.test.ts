// Attacks on sign-in throttling and on the audit ledger, inside workerd (docs/auth.md "Brute force"):
// guesses in parallel, a success that would reset the count, IPv6 rotation inside a /64, second-factor
// guessing spread over sign-ins and addresses, push prompt bombing and habit approval, a flood of failed
// logins against the ledger, and account discovery by the work a failure costs.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushFailureTally, tallyFailure } from "../../worker/auth/failure-tally-store.ts";
import { MAX_ACCOUNTS_PER_MINUTE } from "../../worker/auth/failure-tally.ts";
import { RULES } from "../../worker/auth/throttle.ts";
import { totpAt } from "../../worker/auth/totp.ts";
import { type Browser, browser } from "../../worker/test/auth-client.ts";
import { api, checkout, connectControl, login, ORIGIN, seedSite, seedUser } from "../../worker/test/harness.ts";

/** The flood: failed logins in all, and how many of them go through the HTTP route. */
const FLOOD = 2000;
const HTTP_LOGINS = 200;

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;
const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global"));

async function failuresOf(key: string): Promise<number> {
  const row = await env.DB.prepare("SELECT failures FROM auth_throttle WHERE key = ?").bind(key).first<{
    failures: number;
  }>();
  return row?.failures ?? 0;
}

/** Moves every counter matching `like` back by `ms`, as if the attacker had waited out the delay. */
const wait = (like: string, ms: number) =>
  env.DB.prepare("UPDATE auth_throttle SET last_failure_at = last_failure_at - ? WHERE key LIKE ?")
    .bind(ms, like)
    .run();

function loginFrom(ip: string, username: string, password: string) {
  return SELF.fetch(`${ORIGIN}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "CF-Connecting-IP": ip },
    body: JSON.stringify({ username, password }),
  });
}

async function enrolTotp(b: Browser): Promise<string> {
  const { secret } = await b.json<{ secret: string }>("/api/mfa/totp/enrol", { body: {} });
  await b.json("/api/mfa/totp/confirm", { body: { code: totpAt(secret, Date.now()) } });
  return secret;
}

describe("password guessing", () => {
  it("parallel guesses are all counted: a burst of 30 gets the free attempts only, and the lock comes at the limit", async () => {
    const name = unique("par");
    const id = await seedUser(name, "par-password-1", ["requester"]);
    const ip = "198.51.100.10";
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom(ip, name, `guess-${i}`)));
    const statuses = burst.map((r) => r.status);
    // Read-then-write counted the whole burst as one failure and checked all 30 passwords.
    expect(statuses.filter((s) => s === 401)).toHaveLength(RULES.acct_ip.free + 1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30 - RULES.acct_ip.free - 1);
    expect(await failuresOf(`acct-ip:${id}:${ip}`)).toBe(RULES.acct_ip.free + 1);

    // Burst after burst (waiting out each delay): passwords checked before the lock = the limit, not the bursts.
    let checked = RULES.acct_ip.free + 1;
    for (let round = 0; round < 10; round++) {
      await wait(`acct%${id}%`, RULES.acct_ip.maxDelayMs);
      await wait(`ip:${ip}`, RULES.ip.maxDelayMs);
      const again = await Promise.all(Array.from({ length: 10 }, (_, i) => loginFrom(ip, name, `r${round}-${i}`)));
      checked += again.filter((r) => r.status === 401).length;
    }
    expect(checked).toBe(RULES.acct_ip.lockAfter);
    const locked = await loginFrom(ip, name, "par-password-1");
    expect(locked.status).toBe(429);
  });

  it("a success does not clear the per-account-per-IP failures (an owner behind the attacker's NAT resets nothing)", async () => {
    const name = unique("nat");
    const id = await seedUser(name, "nat-password-1", ["requester"]);
    const ip = "198.51.100.11";
    for (let i = 0; i < 3; i++) expect((await loginFrom(ip, name, `guess-${i}`)).status).toBe(401);
    // The owner signs in from the same address.
    expect((await loginFrom(ip, name, "nat-password-1")).status).toBe(200);
    expect(await failuresOf(`acct-ip:${id}:${ip}`)).toBe(3);
    // So the attacker's next guess is the fourth, and the one after it is delayed.
    expect((await loginFrom(ip, name, "guess-3")).status).toBe(401);
    expect((await loginFrom(ip, name, "guess-4")).status).toBe(429);
  });

  it("rotating IPv6 addresses inside one /64 keeps the count (CF-Connecting-IP)", async () => {
    const name = unique("v6");
    const id = await seedUser(name, "v6-password-1", ["requester"]);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await loginFrom(`2001:db8:77:1:${(i + 1).toString(16)}:aa:bb:${i}`, name, `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    expect(await failuresOf(`acct-ip:${id}:2001:db8:77:1::/64`)).toBe(4);
    // Another /64 is another network: only the account-wide delay applies there, and it is not yet due.
    expect((await loginFrom("2001:db8:77:2::1", name, "guess-5")).status).toBe(401);
  });
});

describe("second-factor guessing", () => {
  it("counts against the account across sign-ins and addresses and locks the second factor; the owner's own device still gets in", async () => {
    const name = unique("mfa");
    const id = await seedUser(name, "mfa-password-1", ["requester"]);
    // The owner's phone: first sign-in (a known device from now on), TOTP enrolled there.
    const phone = browser("203.0.113.50");
    expect((await phone.login(name, "mfa-password-1")).status).toBe(200);
    const secret = await enrolTotp(phone);
    await phone.send("/api/logout", { body: {} });
    const wrong = (t: number) => (totpAt(secret, t) === "000000" ? "111111" : "000000");

    // An attacker holding the password: a fresh sign-in from a fresh address for every two codes, so the
    // per-sign-in cap never bites and the address keys never fill; a password success in between each.
    let failures = 0;
    for (let round = 0; failures < RULES.mfa_acct.lockAfter!; round++) {
      const attacker = browser(`198.51.100.${100 + round}`);
      expect(await (await attacker.login(name, "mfa-password-1")).json()).toMatchObject({ stage: "mfa" });
      for (let i = 0; i < 2 && failures < RULES.mfa_acct.lockAfter!; i++) {
        await wait(`mfa%${id}%`, RULES.mfa_acct.maxDelayMs);
        expect((await attacker.send("/api/mfa/totp/verify", { body: { code: wrong(Date.now()) } })).status).toBe(401);
        failures++;
      }
    }
    expect(await failuresOf(`mfa:${id}`)).toBe(RULES.mfa_acct.lockAfter);

    // Locked for any new device, from any address, even with the right code (which is not spent).
    const next = browser("198.51.100.199");
    expect((await next.login(name, "mfa-password-1")).status).toBe(200);
    const refused = await next.send("/api/mfa/totp/verify", { body: { code: totpAt(secret, Date.now()) } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);

    // The victim's password sign-in is not locked anywhere (another new device, another address)...
    const laptop = browser("203.0.113.51");
    expect(await (await laptop.login(name, "mfa-password-1")).json()).toMatchObject({ stage: "mfa" });
    // ...and on the phone they used before, the second factor still works.
    expect((await phone.login(name, "mfa-password-1")).status).toBe(200);
    // (The next step's code: the current one was spent confirming the enrolment.)
    const code = totpAt(secret, Date.now() + 30_000);
    expect((await phone.send("/api/mfa/totp/verify", { body: { code } })).status).toBe(200);
    expect((await phone.send("/api/me")).status).toBe(200);
  });

  it("one address guessing codes across fresh sign-ins is locked at the pair's limit (password successes clear nothing)", async () => {
    const name = unique("mfb");
    const id = await seedUser(name, "mfb-password-1", ["requester"]);
    const phone = browser("203.0.113.60");
    await phone.login(name, "mfb-password-1");
    const secret = await enrolTotp(phone);
    const wrong = (t: number) => (totpAt(secret, t) === "000000" ? "111111" : "000000");
    const attacker = browser("198.51.100.60");
    let guessed = 0;
    let last = 0;
    for (let round = 0; round < 4; round++) {
      expect((await attacker.login(name, "mfb-password-1")).status).toBe(200);
      for (let i = 0; i < 4; i++) {
        await wait(`mfa%${id}%`, RULES.mfa_acct.maxDelayMs);
        last = (await attacker.send("/api/mfa/totp/verify", { body: { code: wrong(Date.now()) } })).status;
        if (last === 401) guessed++;
      }
    }
    expect(guessed).toBe(RULES.mfa_acct_ip.lockAfter);
    expect(last).toBe(429);
    expect(await failuresOf(`mfa-ip:${id}:198.51.100.60`)).toBe(RULES.mfa_acct_ip.lockAfter);
  });
});

describe("approve by push", () => {
  async function pushSetup() {
    const name = unique("pb");
    const id = await seedUser(name, "pb-password-1", ["requester"]);
    const phone = browser("203.0.113.70");
    await phone.login(name, "pb-password-1");
    await enrolTotp(phone);
    const attacker = browser("198.51.100.70");
    expect(await (await attacker.login(name, "pb-password-1")).json()).toMatchObject({ stage: "mfa" });
    return { id, phone, attacker };
  }

  it("the approving device must type the number: it is never offered, a wrong one denies", async () => {
    const { phone, attacker } = await pushSetup();
    const started = await attacker.json<{ id: string; number: number }>("/api/mfa/push", { body: {} });
    const pending = await phone.json<Record<string, unknown>[]>("/api/mfa/push/pending");
    expect(pending).toHaveLength(1);
    // With three choices one tap in three approved an attacker; now nothing on the approving side names it.
    // Exactly these fields, each accounted for: the request's id, where it comes from, when it expires. (A search for
    // the number in the JSON failed whenever the number was an octet of the attacker's address, 2 runs in 90.)
    expect(Object.keys(pending[0]!).sort()).toEqual(["country", "expiresAt", "id", "ip"]);
    expect(pending[0]).toMatchObject({ id: started.id, ip: "198.51.100.70" });
    expect(pending[0]!.expiresAt).toBeGreaterThan(Date.now());
    const wrong = started.number === 99 ? 10 : started.number + 1;
    expect(await phone.json(`/api/mfa/push/${started.id}/approve`, { body: { number: wrong } })).toEqual({
      status: "denied",
    });
    expect(await attacker.json(`/api/mfa/push/${started.id}/complete`, { body: {} })).toEqual({ status: "denied" });
  });

  it("new pushes are rate-limited (no prompt bombing), and three denials lock push, audited", async () => {
    const { id, phone, attacker } = await pushSetup();
    const starts = [];
    for (let i = 0; i < 5; i++) starts.push(await attacker.send("/api/mfa/push", { body: {} }));
    expect(starts.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);

    // The owner says "not me" three times.
    for (let i = 0; i < 3; i++) {
      await wait(`push:${id}`, RULES.push.maxDelayMs);
      const { id: pushId } = await attacker.json<{ id: string }>("/api/mfa/push", { body: {} });
      expect(await phone.json(`/api/mfa/push/${pushId}/deny`, { body: {} })).toEqual({ status: "denied" });
    }
    // Locked: no new push, however long the rate limit has been waited out.
    await wait(`push:${id}`, RULES.push.maxDelayMs);
    const locked = await attacker.send("/api/mfa/push", { body: {} });
    expect(locked.status).toBe(429);
    const entries = (await ledger().query({ userId: id, action: "auth.locked_out", limit: 10 })) as {
      data: Record<string, unknown>;
    }[];
    expect(entries.map((e) => e.data.what)).toEqual(["push"]);
    expect(entries[0]!.data.denials).toBe(3);
  });
});

describe("the audit ledger under a flood of failed logins", () => {
  it("2,000 failed logins make a bounded number of entries, every one counted, and a signed-in user's entry is not queued behind them", async () => {
    const name = unique("aud");
    const userId = await seedUser(name, "aud-password-1", ["requester"]);
    const user = browser("203.0.113.80");
    expect((await user.login(name, "aud-password-1")).status).toBe(200);
    // Earlier tests' failures go to the ledger first, so only this flood is tallied below.
    await flushFailureTally(env, Date.now() + 60_000);
    const start = Date.now();
    const before = await ledger().count();

    // 200 logins through the route, from 20 addresses to 200 names, 100 at a time; the user signs out
    // after the first hundred. (The addresses have used their free attempts: fewer PBKDF2s to wait for.)
    const addresses = Array.from({ length: 20 }, (_, i) => `192.0.2.${200 + i}`);
    await env.DB.batch(
      addresses.map((a) =>
        env.DB.prepare("INSERT INTO auth_throttle (key, failures, last_failure_at) VALUES (?, ?, ?)").bind(
          `ip:${a}`,
          RULES.ip.free,
          start - RULES.ip.maxDelayMs,
        ),
      ),
    );
    const statuses: number[] = [];
    let logoutIdx = -1;
    for (let i = 0; i < HTTP_LOGINS; i += 100) {
      if (i === 100) {
        expect((await user.send("/api/logout", { body: {} })).status).toBe(200);
        const [entry] = (await ledger().query({ userId, action: "auth.logout", limit: 1 })) as { idx: number }[];
        logoutIdx = entry!.idx;
      }
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          loginFrom(addresses[(i + j) % addresses.length]!, `ghost-${i + j}`, "guess"),
        ),
      );
      statuses.push(...batch.map((r) => r.status));
    }
    // The other 1,800 through the call the route makes for each failure (a login costs ~50-500 ms of
    // D1 round trips under miniflare on this 2-core machine; 2,000 of them took minutes).
    const more = Array.from({ length: FLOOD - HTTP_LOGINS }, (_, i) => i);
    for (let i = 0; i < more.length; i += 100)
      await Promise.all(
        more.slice(i, i + 100).map((k) =>
          tallyFailure(env, {
            action: "auth.login_failed",
            via: "password",
            account: `name:ghost-${HTTP_LOGINS + k}`,
            userId: null,
            name: `ghost-${HTTP_LOGINS + k}`,
            address: `2001:db8:${k % 200}::1`,
            reason: "unknown_user",
          }),
        ),
      );
    // The user's entry was written at once, with none of the flood's ahead of it or after it yet.
    expect(logoutIdx).toBe(before);
    expect(await ledger().count()).toBe(before + 1);

    // The sweep after the minute closes writes the tally: bounded per minute, nothing lost.
    await flushFailureTally(env, Date.now() + 60_000);
    const added = (await ledger().count()) - before - 1;
    const minutes = Math.floor(Date.now() / 60_000) - Math.floor(start / 60_000) + 1;
    expect(added).toBeLessThanOrEqual(minutes * (MAX_ACCOUNTS_PER_MINUTE + 4));
    const entries = (await ledger().page(before, 1000)) as {
      action: string;
      actor: unknown;
      data: { count?: number; addresses?: Record<string, number>; otherAddresses?: number };
    }[];
    const flood = entries.filter((e) => e.action === "auth.login_failed" || e.action === "auth.locked_out");
    const counted = (action: string) =>
      flood.filter((e) => e.action === action).reduce((n, e) => n + (e.data.count ?? 0), 0);
    // Every refused password is counted as a failure, every throttled attempt as a lockout; nothing lost.
    expect(counted("auth.locked_out")).toBe(statuses.filter((s) => s === 429).length);
    expect(counted("auth.login_failed")).toBe(statuses.filter((s) => s === 401).length + FLOOD - HTTP_LOGINS);
    expect(counted("auth.login_failed") + counted("auth.locked_out")).toBe(FLOOD);
    expect(flood.every((e) => e.actor === null)).toBe(true);
    // The addresses are kept (up to 32 a bucket, the rest counted).
    const seen = new Set(flood.flatMap((e) => Object.keys(e.data.addresses ?? {})));
    for (const a of addresses) expect(seen).toContain(a);
    const named = flood.reduce((n, e) => n + Object.values(e.data.addresses ?? {}).reduce((x, y) => x + y, 0), 0);
    expect(named + flood.reduce((n, e) => n + (e.data.otherAddresses ?? 0), 0)).toBe(FLOOD);
  }, 120_000);

  it("a session start with the ledger down is refused before anything is dispatched", async () => {
    const site = await seedSite();
    const name = unique("led");
    await site.entitle(await seedUser(name, "led-password-1", ["requester"]));
    const cookie = await login(name, "led-password-1");
    const control = await connectControl(site);
    const { id: checkoutId } = await checkout(cookie, site);
    const rename = (from: string, to: string) =>
      runInDurableObject(ledger(), (_o, state: DurableObjectState) => {
        state.storage.sql.exec(`ALTER TABLE ${from} RENAME TO ${to}`);
      });
    await rename("entries", "entries_away");
    try {
      const res = await api("/api/sessions", { method: "POST", cookie, body: { checkoutId } });
      expect(res.status).toBe(500);
    } finally {
      await rename("entries_away", "entries");
    }
    expect(control.texts.filter((m) => (m as { type: string }).type === "open")).toEqual([]);
    const started = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE checkout_id = ?")
      .bind(checkoutId)
      .first<{ n: number }>();
    expect(started!.n).toBe(0);
    control.ws.close();
  });

  it("a session whose own start entry cannot be written is ended at once, even after dispatch", async () => {
    const site = await seedSite();
    const name = unique("lee");
    await site.entitle(await seedUser(name, "lee-password-1", ["requester"]));
    const cookie = await login(name, "lee-password-1");
    const control = await connectControl(site);
    const { id: checkoutId } = await checkout(cookie, site);
    // The ledger takes every entry but session.started (the step-up decision before it is written).
    const trigger = (sql: string) =>
      runInDurableObject(ledger(), (_o, state: DurableObjectState) => {
        state.storage.sql.exec(sql);
      });
    await trigger(
      "CREATE TRIGGER refuse_start BEFORE INSERT ON entries WHEN NEW.action = 'session.started' BEGIN SELECT RAISE(ABORT, 'down'); END",
    );
    try {
      const res = await api("/api/sessions", { method: "POST", cookie, body: { checkoutId } });
      expect(res.status).toBe(500);
    } finally {
      await trigger("DROP TRIGGER refuse_start");
    }
    const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE checkout_id = ?")
      .bind(checkoutId)
      .first<{ status: string; end_reason: string | null }>();
    expect(row).toEqual({ status: "ended", end_reason: "internal_error" });
    control.ws.close();
  });
});

describe("equal-cost login failure", () => {
  afterEach(() => vi.restoreAllMocks());

  it("unknown user, wrong password, SSO-only and disabled accounts each cost one PBKDF2 at the full count, like a success", async () => {
    const local = unique("eq");
    await seedUser(local, "eq-password-1", ["requester"]);
    const sso = unique("sso");
    const ssoId = await seedUser(sso, "unused-password-1", ["requester"]);
    await env.DB.prepare("UPDATE users SET password_hash = '!', oidc_subject = ? WHERE id = ?")
      .bind(`https://idp.test|${ssoId}`, ssoId)
      .run();
    const off = unique("off");
    const offId = await seedUser(off, "off-password-1", ["requester"]);
    await env.DB.prepare("UPDATE users SET disabled = 1 WHERE id = ?").bind(offId).run();

    const derive = vi.spyOn(crypto.subtle, "deriveBits");
    const cost = async (ip: string, username: string, password: string) => {
      derive.mockClear();
      const res = await loginFrom(ip, username, password);
      const pbkdf2 = derive.mock.calls.map(([algorithm]) => (algorithm as Pbkdf2Params).iterations);
      return { status: res.status, body: res.status === 200 ? null : await res.json(), pbkdf2 };
    };
    const results = {
      unknown: await cost("192.0.2.180", unique("nobody"), "guess-1"),
      wrongPassword: await cost("192.0.2.181", local, "guess-1"),
      ssoOnly: await cost("192.0.2.182", sso, "guess-1"),
      disabled: await cost("192.0.2.183", off, "off-password-1"),
    };
    const success = await cost("192.0.2.184", local, "eq-password-1");
    expect(success.pbkdf2).toEqual([100_000]);
    for (const [kind, r] of Object.entries(results)) {
      expect(r.pbkdf2, kind).toEqual(success.pbkdf2);
      expect(r.status, kind).toBe(401);
      expect(r.body, kind).toEqual(results.unknown.body);
    }
  });
});
