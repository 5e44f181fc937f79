// Adversarial suite, request bodies, inside workerd: oversized bodies (declared, or chunked with no
// Content-Length) are refused with 413 before anything parses them, each route at its own limit from
// protocol/limits.ts, and a connector route authenticates before it reads a byte of the body.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  connectorEndpoint,
  MAX_INVENTORY_BODY,
  MAX_JSON_BODY,
  MAX_SERVER_IMPORT_BODY,
  MAX_SIGN_IN_BODY,
} from "../../protocol/index.ts";
import { login, ORIGIN, seedSite, seedUser } from "../../worker/test/harness.ts";

const CHUNK_BYTES = 64 * 1024;

/**
 * A chunked body (no Content-Length) of `total` bytes: `prefix`, then filler, then `suffix`, produced
 * only as the reader pulls. `pulled()` says how much the Worker took before it stopped reading.
 */
function streamed(total: number, prefix = '{"username":"mallory","password":"', suffix = '"}') {
  const encoder = new TextEncoder();
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(CHUNK_BYTES, total - sent);
      const chunk = new Uint8Array(size).fill(0x61); // "a"
      if (sent === 0) chunk.set(encoder.encode(prefix));
      if (sent + size === total) chunk.set(encoder.encode(suffix), size - suffix.length);
      sent += size;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => sent };
}

/** A body of exactly `total` bytes with a Content-Length: valid JSON for `prefix`…`suffix`. */
function sized(total: number, prefix: string, suffix: string): string {
  return prefix + "a".repeat(total - prefix.length - suffix.length) + suffix;
}

function post(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, ...headers },
    body,
  });
}

async function expectTooLarge(res: Response): Promise<void> {
  expect(res.status).toBe(413);
  expect(await res.json()).toEqual({ error: { code: "too_large", message: "The request is too large." } });
}

describe("adversarial: request bodies", () => {
  let adminCookie: string;
  let userCookie: string;
  let site: Awaited<ReturnType<typeof seedSite>>;

  beforeAll(async () => {
    await seedUser("body-admin", "body-admin-password", ["admin"]);
    await seedUser("body-user", "body-user-password", ["requester"]);
    adminCookie = await login("body-admin", "body-admin-password");
    userCookie = await login("body-user", "body-user-password");
    site = await seedSite();
  });

  it("attack: 32 MiB streamed to the login route with no Content-Length — guarantee: 413 at the 8 KiB limit, the rest never read or parsed", async () => {
    const total = 32 * 1024 * 1024;
    const body = streamed(total);
    const res = await post("/api/login", body.stream);
    await expectTooLarge(res);
    // Reading stopped at the limit (plus what the runtime had already buffered), far from the whole body.
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it("attack: a login body that declares more than the limit — guarantee: 413 from Content-Length alone; one byte under is parsed as usual", async () => {
    const over = sized(MAX_SIGN_IN_BODY + 1, '{"username":"mallory","password":"', '"}');
    await expectTooLarge(await post("/api/login", over));
    // At the limit the body is read and validated: the password is too long for the schema (400), not too large.
    const at = sized(MAX_SIGN_IN_BODY, '{"username":"mallory","password":"', '"}');
    expect((await post("/api/login", at)).status).toBe(400);
  });

  it("attack: oversized bodies to other routes (enrolment, cart, server import) — guarantee: 413 at each route's own limit, declared or streamed", async () => {
    // Connector enrolment (anyone may call it): the sign-in limit.
    const enroll = streamed(4 * 1024 * 1024, '{"token":"', '"}');
    await expectTooLarge(await post("/api/connectors/enroll", enroll.stream));
    expect(enroll.pulled()).toBeLessThan(1024 * 1024);
    // A signed-in user's cart: the JSON default.
    const cart = sized(MAX_JSON_BODY + 1, '{"items":[],"pad":"', '"}');
    await expectTooLarge(await post("/api/checkouts", cart, { cookie: userCookie }));
    const cartStream = streamed(8 * 1024 * 1024, '{"items":[],"pad":"', '"}');
    await expectTooLarge(await post("/api/checkouts", cartStream.stream, { cookie: userCookie }));
    expect(cartStream.pulled()).toBeLessThan(2 * 1024 * 1024);
    // The server CSV import takes more (2 MiB), but not without end.
    const csvPrefix = `{"zoneId":"${site.zoneId}","csv":"`;
    const csvOver = sized(MAX_SERVER_IMPORT_BODY + 1, csvPrefix, '"}');
    await expectTooLarge(await post("/api/servers/import", csvOver, { cookie: adminCookie }));
    // Over the JSON default but under the import limit: read and parsed (a CSV with no valid row is not a 413).
    const csvUnder = sized(MAX_JSON_BODY * 4, csvPrefix, '"}');
    expect((await post("/api/servers/import", csvUnder, { cookie: adminCookie })).status).not.toBe(413);
  });

  it("attack: a stranger posts a huge or broken body to /connector/inventory — guarantee: 401 before a byte is read (never 400 or 413 from parsing)", async () => {
    const huge = streamed(MAX_INVENTORY_BODY * 4, '{"servers":[],"pad":"', '"}');
    const res = await post("/connector/inventory", huge.stream);
    expect(res.status).toBe(401);
    expect((await res.json()) as unknown).toMatchObject({ error: { code: "unauthorized" } });
    expect(huge.pulled()).toBeLessThan(1024 * 1024);
    for (const broken of ["{", "not json", '{"servers":"nope"}']) {
      expect((await post("/connector/inventory", broken)).status, broken).toBe(401);
      expect((await post("/connector/inventory", broken, { authorization: "Bearer not.a.token" })).status).toBe(401);
    }
  });

  it("attack: an enrolled connector sends an inventory past its limit — guarantee: 413 after authentication; a report within it is taken", async () => {
    const token = () => site.token(connectorEndpoint.inventory);
    const authorization = `Bearer ${await token()}`;
    const over = sized(MAX_INVENTORY_BODY + 1, '{"servers":[],"pad":"', '"}');
    await expectTooLarge(await post("/connector/inventory", over, { authorization }));
    const report = JSON.stringify({
      servers: [{ source: "ldap", sourceId: "cn=web1", name: "web1", host: "10.0.0.5", port: 22 }],
    });
    const ok = await post("/connector/inventory", report, { authorization: `Bearer ${await token()}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: 1 });
  });
});
