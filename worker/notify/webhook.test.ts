// The webhook channel against real HTTP receivers on 127.0.0.1 (port 0): signatures a receiver can verify,
// a receiver that fails first, refused connections, timeouts and redirects. Runs on Node (unit project).
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { afterAttempt } from "./outbox.ts";
import { deliverWebhook, signWebhook, verifyWebhookSignature } from "./webhook.ts";

const SECRET = "whsec-test-0123456789abcdef";
const BODY = JSON.stringify({ text: "Approval needed", blocks: [] });

type Received = { headers: IncomingHttpHeaders; body: string; verified: boolean };
/** How the receiver answers its n-th request (0-based); "hang" never answers. */
type Answer = { status: number; body?: string; headers?: Record<string, string> } | "hang";

const servers: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function receiver(answer: (n: number) => Answer) {
  const received: Received[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const ts = req.headers["x-psm-timestamp"] as string | undefined;
      const sig = req.headers["x-psm-signature"] as string | undefined;
      const verified = await verifyWebhookSignature(SECRET, ts, body, sig, Date.now());
      const a = answer(received.length);
      received.push({ headers: req.headers, body, verified });
      if (a === "hang") return;
      res.writeHead(a.status, a.headers).end(a.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}/hooks/psm`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

describe("deliverWebhook against a real receiver", () => {
  it("POSTs JSON the receiver can verify with the documented HMAC", async () => {
    const r = await receiver(() => ({ status: 204 }));
    const now = Date.now();
    expect(await deliverWebhook(fetch, r.url, SECRET, BODY, now)).toEqual({ ok: true });
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.verified).toBe(true);
    expect(got.body).toBe(BODY);
    expect(got.headers["content-type"]).toBe("application/json");
    const ts = got.headers["x-psm-timestamp"];
    expect(ts).toBe(String(Math.floor(now / 1000)));
    // What a receiver in any language computes: hex HMAC-SHA256 over "<timestamp>.<raw body>".
    const expected = createHmac("sha256", SECRET).update(`${ts}.${BODY}`).digest("hex");
    expect(got.headers["x-psm-signature"]).toBe(`v1=${expected}`);
  });

  it("fails on the first request of a flaky receiver, succeeds on the retry, and the row state follows", async () => {
    const r = await receiver((n) => (n === 0 ? { status: 500, body: "upstream down" } : { status: 200, body: "ok" }));
    const now = 1_800_000_000_000;
    const first = await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now());
    expect(first).toEqual({ ok: false, error: "http 500: upstream down" });
    const afterFirst = afterAttempt(0, first, now, 0.5);
    expect(afterFirst).toMatchObject({ outcome: "failed", attempts: 1, nextAttemptAt: now + 30_000 });
    expect(afterFirst.lastError).toBe("http 500: upstream down");

    const second = await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now());
    expect(second).toEqual({ ok: true });
    expect(afterAttempt(1, second, now + 30_000, 0.5)).toMatchObject({ outcome: "delivered", attempts: 2 });
    expect(r.received.map((x) => x.verified)).toEqual([true, true]);
  });

  it("keeps errors short and free of the secret and the URL", async () => {
    const r = await receiver(() => ({ status: 502, body: `${"x".repeat(5000)}` }));
    const long = await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now());
    expect(long.ok).toBe(false);
    if (long.ok) return;
    expect(long.error.startsWith("http 502: xxx")).toBe(true);
    expect(long.error.length).toBeLessThanOrEqual(200);

    let leakyUrl = "";
    const leaky = await receiver(() => ({ status: 401, body: `refused ${SECRET} at ${leakyUrl}` }));
    leakyUrl = leaky.url;
    const res = await deliverWebhook(fetch, leaky.url, SECRET, BODY, Date.now());
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error).not.toContain(SECRET);
    expect(res.error).not.toContain("127.0.0.1");
    expect(res.error).toBe("http 401: refused [redacted] at [redacted]");
  });

  it("treats a redirect as a failure and does not follow it", async () => {
    const target = await receiver(() => ({ status: 200 }));
    const r = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    expect(await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now())).toEqual({ ok: false, error: "http 302" });
    expect(target.received).toHaveLength(0);
  });

  it("reports a refused connection without the URL", async () => {
    const r = await receiver(() => ({ status: 200 }));
    await r.close();
    const res = await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now());
    expect(res).toEqual({ ok: false, error: "network error: fetch failed (ECONNREFUSED)" });
  });

  it("gives up on a receiver that never answers after the timeout", async () => {
    const r = await receiver(() => "hang");
    // A receiver that never answers would hang this call without the timeout (no timed assertion needed).
    const res = await deliverWebhook(fetch, r.url, SECRET, BODY, Date.now(), 200);
    expect(res).toEqual({ ok: false, error: "timeout after 200 ms" });
    expect(r.received).toHaveLength(1);
  });

  it("sends no signature headers when no secret is configured", async () => {
    const r = await receiver(() => ({ status: 200 }));
    expect(await deliverWebhook(fetch, r.url, undefined, BODY, Date.now())).toEqual({ ok: true });
    expect(r.received[0]!.headers["x-psm-signature"]).toBeUndefined();
    expect(r.received[0]!.verified).toBe(false);
  });

  it("refuses a non-http URL before any network access", async () => {
    expect(await deliverWebhook(fetch, "file:///etc/passwd", SECRET, BODY, Date.now())).toEqual({
      ok: false,
      error: "invalid webhook url",
    });
  });
});

describe("verifyWebhookSignature", () => {
  const now = 1_800_000_000_000;
  const ts = String(now / 1000);

  it("accepts the edge's signature and refuses tampering, other secrets, stale or malformed input", async () => {
    const sig = await signWebhook(SECRET, Number(ts), BODY);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig, now)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, ts, `${BODY} `, sig, now)).toBe(false);
    expect(await verifyWebhookSignature("another-secret", ts, BODY, sig, now)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, String(Number(ts) + 1), BODY, sig, now)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig.replace("v1=", "v0="), now)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, "v1=zz", now)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, "", BODY, sig, now)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, null, now)).toBe(false);
  });

  it("holds a 300 s replay window by default, configurable", async () => {
    const sig = await signWebhook(SECRET, Number(ts), BODY);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig, now + 300_000)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig, now + 301_000)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig, now - 301_000)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, sig, now + 301_000, 600)).toBe(true);
  });

  it("accepts any one of several v1 values (secret rotation)", async () => {
    const sig = await signWebhook(SECRET, Number(ts), BODY);
    const old = await signWebhook("old-secret", Number(ts), BODY);
    expect(await verifyWebhookSignature(SECRET, ts, BODY, `${old}, ${sig}`, now)).toBe(true);
  });
});
