// Attacks on the audit ledger's tamper evidence, inside workerd (docs/audit.md): an entry written honestly must
// verify for as long as nobody touches storage, whatever text a caller put in its names.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, login, seedSite, seedUser } from "../../worker/test/harness.ts";

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;
const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global"));

describe("the audit chain against names that do not survive storage", () => {
  it("attack: a zone admin names a credential with a lone UTF-16 surrogate; the genuine entry must still verify", async () => {
    const site = await seedSite();
    const auditorName = unique("aud");
    await seedUser(auditorName, "auditor-password-1", ["auditor"]);
    const zoneAdminName = unique("za");
    const zoneAdmin = await seedUser(zoneAdminName, "zone-admin-password-1", ["requester", "zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(site.zoneId, zoneAdmin).run();
    const auditor = await login(auditorName, "auditor-password-1");
    expect(await (await api("/api/audit/verify", { cookie: auditor })).json()).toMatchObject({ ok: true });

    // "\ud800" in the JSON body is a lone high surrogate once parsed: valid for zod's string and the 128-char
    // limit, and hashed by the chain as the escape `\ud800`; SQLite stores the column as UTF-8, so it comes
    // back as U+FFFD and the entry no longer hashes to what the ledger wrote.
    const zoneAdminCookie = await login(zoneAdminName, "zone-admin-password-1");
    const res = await api(`/api/credentials/${site.credentialId}`, {
      method: "PATCH",
      cookie: zoneAdminCookie,
      body: { name: "root pw \ud800" },
    });
    expect(res.status).toBe(200);
    const [entry] = await ledger().query({ action: "admin.change", limit: 1 });
    expect(entry?.target).toMatchObject({ type: "credential", id: site.credentialId });

    // Nobody touched storage: the ledger must still verify. (It used to report hash_mismatch at
    // the zone admin's own entry, and from then on every later alteration hides behind that first bad index.)
    const verdict = await (await api("/api/audit/verify", { cookie: auditor })).json();
    expect(verdict).toMatchObject({ ok: true });
  });
});
