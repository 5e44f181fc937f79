// Web Push inside workerd, against a loopback push service played by a fetch stub: the test holds each
// subscription's keys (made here with WebCrypto), decrypts what the Worker POSTs per RFC 8291 (aes128gcm, written
// out below) and verifies the VAPID JWT per RFC 8292. Sign-in requests go out at once, approvers' tasks through the
// outbox sweep; a 410 prunes the subscription, a 5xx is retried by the outbox, devices are bounded per user.
import { env } from "cloudflare:test";
import { importJWK, jwtVerify } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PUSH_DEVICES_MAX, type PushNotice } from "../protocol/web-push.ts";
import { totpAt } from "./auth/totp.ts";
import { BACKOFF_BASE_MS, deliverDue, MAX_ATTEMPTS, type NotifyEnv } from "./notify/outbox.ts";
import { browser } from "./test/auth-client.ts";
import { api, login, seedSite, seedUser } from "./test/harness.ts";

const PUSH_ORIGIN = "https://push.psm.test";
const DAY_S = 24 * 3600;
const utf8 = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);
const b64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const fromB64url = (s: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

/** A browser's push subscription: the keys stay with the test (the "device"), the public halves go to the edge. */
async function newDevice(label = "Test phone") {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const publicRaw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const auth = crypto.getRandomValues(new Uint8Array(16));
  const endpoint = `${PUSH_ORIGIN}/wpush/v2/${crypto.randomUUID()}`;
  return {
    endpoint,
    privateKey: pair.privateKey,
    publicRaw,
    auth,
    subscription: { endpoint, keys: { p256dh: b64url(publicRaw), auth: b64url(auth) }, label },
  };
}
type Device = Awaited<ReturnType<typeof newDevice>>;

async function hkdf(
  salt: Uint8Array<ArrayBuffer>,
  ikm: Uint8Array<ArrayBuffer>,
  info: Uint8Array<ArrayBuffer>,
  bytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

/** RFC 8291 §3-4 and RFC 8188 §2, on the receiving side: the plaintext of an aes128gcm body sent to `device`. */
async function decrypt(device: Device, body: Uint8Array): Promise<string> {
  // RFC 8188 header: salt (16) | rs (uint32) | idlen (1) | keyid (the sender's ephemeral public key, 65 bytes)
  const salt = body.slice(0, 16);
  const rs = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0);
  const idlen = body[20]!;
  expect(idlen).toBe(65);
  const asPublic = body.slice(21, 21 + idlen);
  const record = body.slice(21 + idlen);
  // One record: a push message is a single record no longer than rs.
  expect(record.length).toBeLessThanOrEqual(rs);
  const asKey = await crypto.subtle.importKey("raw", asPublic, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const ecdhSecret = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "ECDH", public: asKey }, device.privateKey, 256),
  );
  // RFC 8291 §3.4: IKM from the auth secret and key_info = "WebPush: info" || 0x00 || ua_public || as_public
  const ikm = await hkdf(device.auth, ecdhSecret, concat(utf8("WebPush: info\0"), device.publicRaw, asPublic), 32);
  const cek = await hkdf(salt, ikm, utf8("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, utf8("Content-Encoding: nonce\0"), 12);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, record));
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  expect(padded[end]).toBe(2);
  return new TextDecoder().decode(padded.slice(0, end));
}

/** RFC 8292: `vapid t=<JWT>, k=<public key>`, ES256 by our key, aud = the push service's origin, exp ≤ 24 h, sub. */
async function checkVapid(headers: Headers, url: string): Promise<void> {
  const m = /^vapid t=([A-Za-z0-9_.-]+), k=([A-Za-z0-9_-]+)$/.exec(headers.get("authorization") ?? "");
  expect(m, "vapid authorization").not.toBeNull();
  const { x, y } = JSON.parse(env.PUSH_VAPID_KEY!) as { x: string; y: string };
  expect(m![2]).toBe(b64url(concat(new Uint8Array([4]), fromB64url(x), fromB64url(y))));
  const key = await importJWK({ kty: "EC", crv: "P-256", x, y }, "ES256");
  const { payload, protectedHeader } = await jwtVerify(m![1]!, key, { audience: new URL(url).origin });
  expect(protectedHeader.alg).toBe("ES256");
  expect(payload.aud).toBe(PUSH_ORIGIN);
  expect(payload.sub).toBe("mailto:security@psm.test");
  const now = Math.floor(Date.now() / 1000);
  expect(payload.exp).toBeGreaterThan(now);
  expect(payload.exp! - now).toBeLessThanOrEqual(DAY_S);
}

type Received = { url: string; headers: Headers; body: Uint8Array };

/**
 * The loopback push service: keeps every POST and answers with `status(url)` (201 by default). Its `fetch` is
 * what the outbox is handed; `install` puts it in place of the global fetch for routes that deliver at once (in
 * waitUntil: tests wait on the outbox row in D1, never on a promise the Worker's request would resolve).
 */
function pushService(status: (url: string) => number = () => 201) {
  const received: Received[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (!req.url.startsWith(`${PUSH_ORIGIN}/`)) throw new Error(`unexpected fetch ${req.method}`);
    received.push({ url: req.url, headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
    return new Response(null, { status: status(req.url) });
  }) as typeof fetch;
  return {
    received,
    fetch: fetchFn,
    install: () => vi.spyOn(globalThis, "fetch").mockImplementation(fetchFn),
  };
}

async function open(device: Device, r: Received): Promise<PushNotice> {
  expect(r.url).toBe(device.endpoint);
  expect(r.headers.get("content-encoding")).toBe("aes128gcm");
  await checkVapid(r.headers, r.url);
  return JSON.parse(await decrypt(device, r.body)) as PushNotice;
}

const notifyEnv = (): NotifyEnv => ({
  DB: env.DB,
  PUSH_VAPID_KEY: env.PUSH_VAPID_KEY,
  PUSH_VAPID_SUBJECT: env.PUSH_VAPID_SUBJECT,
});

type OutboxRow = {
  id: string;
  channel: string;
  target: string;
  event: string;
  body: string;
  attempts: number;
  next_attempt_at: number;
  delivered_at: number | null;
  dead_at: number | null;
  last_error: string | null;
};
const rowsFor = async (subscriptionId: string) =>
  (
    await env.DB.prepare("SELECT * FROM notifications WHERE channel = 'push' AND target = ? ORDER BY created_at")
      .bind(subscriptionId)
      .all<OutboxRow>()
  ).results;

async function subscribe(cookie: string, device: Device): Promise<string> {
  const res = await api("/api/push/devices", { method: "POST", cookie, body: device.subscription });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Web Push: a sign-in request", () => {
  it("reaches the user's notified device at once, encrypted (RFC 8291) and signed (RFC 8292), with no number in it", async () => {
    const name = unique("wp");
    await seedUser(name, "wp-password-1", ["requester"]);
    const phone = browser("192.0.2.71");
    await phone.login(name, "wp-password-1");
    const { secret } = await phone.json<{ secret: string }>("/api/mfa/totp/enrol", { body: {} });
    await phone.json("/api/mfa/totp/confirm", { body: { code: totpAt(secret, Date.now()) } });
    const device = await newDevice("Chrome on Android");
    const saved = await phone.json<{ id: string }>("/api/push/devices", { body: device.subscription });
    // Listed by label and dates only: neither the endpoint (a capability URL) nor the keys go back to a browser.
    const listedRes = await phone.send("/api/push/devices");
    const listedText = await listedRes.text();
    expect(JSON.parse(listedText)).toEqual([
      { id: saved.id, label: "Chrome on Android", createdAt: expect.any(Number), lastDeliveredAt: null },
    ]);
    expect(listedText).not.toContain(new URL(device.endpoint).pathname);
    expect(listedText).not.toContain(device.subscription.keys.auth);

    const service = pushService();
    service.install();
    const laptop = browser("192.0.2.72");
    expect(await (await laptop.login(name, "wp-password-1")).json()).toMatchObject({ stage: "mfa" });
    const started = await laptop.json<{ id: string; number: number }>("/api/mfa/push", { body: {} });
    // Sent in the background (waitUntil): wait for the outbox row to record the attempt.
    await vi.waitFor(async () => expect((await rowsFor(saved.id))[0]?.attempts).toBe(1));
    expect(service.received).toHaveLength(1);
    const notice = await open(device, service.received[0]!);
    // Exactly these words: the number to match is not among them (it is typed from the laptop's screen).
    expect(notice).toEqual({
      kind: "sign_in",
      title: "Sign-in request",
      body: "Sign-in request from 192.0.2.72. Open to type the number that device shows.",
      url: "/#/account",
      tag: `sign-in-${started.id}`,
    });
    const r = service.received[0]!;
    expect(r.headers.get("urgency")).toBe("high");
    // It lives as long as the request (60 s), not a day.
    expect(Number(r.headers.get("ttl"))).toBeLessThanOrEqual(60);
    // Delivered through the outbox: the row is marked, the device shows when it last got one.
    const rows = await rowsFor(saved.id);
    expect(rows.map((x) => [x.event, x.delivered_at !== null])).toEqual([["auth.push_requested", true]]);
    expect(JSON.stringify(rows)).not.toContain(device.endpoint);
    const [listed] = await phone.json<{ lastDeliveredAt: number | null }[]>("/api/push/devices");
    expect(listed!.lastDeliveredAt).toEqual(expect.any(Number));
  });
});

describe("Web Push: approvers' tasks through the outbox", () => {
  it("a checkout waiting for approval goes to the approvers' devices (not the requester's) and opens its card", async () => {
    const site = await seedSite({ approval_required: 1, quorum: 1 });
    await env.DB.prepare("UPDATE policies SET approver_group_id = ? WHERE id = ?")
      .bind(site.groupId, site.policyId)
      .run();
    const requesterName = unique("wpreq");
    const requesterId = await seedUser(requesterName, "wp-password-1", ["requester"]);
    await site.entitle(requesterId);
    const approverName = unique("wpapp");
    const approverId = await seedUser(approverName, "wp-password-1", ["approver"]);
    await site.entitle(approverId);
    const requester = await login(requesterName, "wp-password-1");
    const approver = await login(approverName, "wp-password-1");
    const approverDevice = await newDevice();
    const requesterDevice = await newDevice();
    const approverSub = await subscribe(approver, approverDevice);
    const requesterSub = await subscribe(requester, requesterDevice);

    const res = await api("/api/checkouts", {
      method: "POST",
      cookie: requester,
      body: {
        items: [
          { serverId: site.serverId, credentialId: site.credentialId, minutes: 30, justification: "patch night" },
        ],
      },
    });
    const cart = (await res.json()) as { results: { checkout: { id: string; status: string } }[] };
    const checkoutId = cart.results[0]!.checkout.id;
    expect(cart.results[0]!.checkout.status).toBe("pending_approval");
    expect(await rowsFor(requesterSub)).toEqual([]);
    const [queued] = await rowsFor(approverSub);
    expect(queued).toMatchObject({ event: "checkout.requested", attempts: 0, delivered_at: null });

    const service = pushService();
    const counts = await deliverDue(notifyEnv(), Date.now() + 1, { fetch: service.fetch }, 50, [queued!.id]);
    expect(counts).toEqual({ delivered: 1, failed: 0, dead: 0 });
    const notice = await open(approverDevice, service.received[0]!);
    expect(notice).toMatchObject({ kind: "approval", title: "Approval needed", url: `/#/approvals/${checkoutId}` });
    expect(notice.body).toContain(requesterName);
    expect(service.received[0]!.headers.get("urgency")).toBe("normal");
  });
});

describe("Web Push: the push service's answers", () => {
  async function queued() {
    const name = unique("wpx");
    await seedUser(name, "wp-password-1", ["requester"]);
    const cookie = await login(name, "wp-password-1");
    const device = await newDevice();
    const id = await subscribe(cookie, device);
    // "Send a test" queues one row for this device (delivered at once in the background: held back here).
    const service = pushService(() => 503);
    service.install();
    expect((await api(`/api/push/devices/${id}/test`, { method: "POST", cookie })).status).toBe(200);
    await vi.waitFor(async () => expect((await rowsFor(id))[0]?.attempts).toBe(1));
    vi.restoreAllMocks();
    return { cookie, device, id, row: (await rowsFor(id))[0]! };
  }

  it("a 5xx is retried by the outbox with backoff, and the retry delivers", async () => {
    const { device, id, row } = await queued();
    expect(row).toMatchObject({ attempts: 1, delivered_at: null, dead_at: null, last_error: "push service http 503" });
    const due = row.next_attempt_at;
    expect(due).toBeGreaterThan(Date.now() + BACKOFF_BASE_MS / 2);
    // Not due yet: a sweep now leaves it alone.
    const service = pushService();
    expect(await deliverDue(notifyEnv(), due - 1, { fetch: service.fetch }, 50, [row.id])).toEqual({
      delivered: 0,
      failed: 0,
      dead: 0,
    });
    expect(await deliverDue(notifyEnv(), due, { fetch: service.fetch }, 50, [row.id])).toEqual({
      delivered: 1,
      failed: 0,
      dead: 0,
    });
    expect((await open(device, service.received[0]!)).kind).toBe("test");
    expect((await rowsFor(id))[0]).toMatchObject({ attempts: 2, delivered_at: due });
  });

  it("a 410 (expired subscription) prunes the device and gives up at once; 404 likewise", async () => {
    for (const status of [410, 404]) {
      const { cookie, id, row } = await queued();
      const service = pushService(() => status);
      expect(await deliverDue(notifyEnv(), row.next_attempt_at, { fetch: service.fetch }, 50, [row.id])).toEqual({
        delivered: 0,
        failed: 0,
        dead: 1,
      });
      expect(service.received).toHaveLength(1);
      const after = (await rowsFor(id))[0]!;
      expect(after.attempts).toBeLessThan(MAX_ATTEMPTS);
      expect(after.dead_at).toEqual(expect.any(Number));
      expect(after.last_error).toBe(`push subscription gone (http ${status}), removed`);
      expect(await (await api("/api/push/devices", { cookie })).json()).toEqual([]);
      const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM push_subscriptions WHERE id = ?")
        .bind(id)
        .first<{ n: number }>();
      expect(left!.n).toBe(0);
    }
  });
});

describe("Web Push: devices", () => {
  it("are bounded per user, their own only, and re-subscribing the same browser updates it", async () => {
    const name = unique("wpd");
    await seedUser(name, "wp-password-1", ["requester"]);
    const cookie = await login(name, "wp-password-1");
    const ids: string[] = [];
    const devices: Device[] = [];
    for (let i = 0; i < PUSH_DEVICES_MAX; i++) {
      devices.push(await newDevice(`Device ${i}`));
      ids.push(await subscribe(cookie, devices[i]!));
    }
    const extra = await newDevice("One too many");
    expect((await api("/api/push/devices", { method: "POST", cookie, body: extra.subscription })).status).toBe(409);
    // The same browser again (fresh keys) is an update, not a new device, even at the bound.
    const again = await newDevice("Device 0, renewed");
    const renewed = { ...again.subscription, endpoint: devices[0]!.endpoint };
    const res = await api("/api/push/devices", { method: "POST", cookie, body: renewed });
    expect(await res.json()).toEqual({ id: ids[0] });

    // Another user can neither remove nor test these.
    const otherName = unique("wpo");
    await seedUser(otherName, "wp-password-1", ["requester"]);
    const other = await login(otherName, "wp-password-1");
    expect((await api(`/api/push/devices/${ids[1]}`, { method: "DELETE", cookie: other })).status).toBe(200);
    expect((await api(`/api/push/devices/${ids[1]}/test`, { method: "POST", cookie: other })).status).toBe(404);
    expect(await (await api("/api/push/devices", { cookie })).json()).toHaveLength(PUSH_DEVICES_MAX);

    expect((await api(`/api/push/devices/${ids[1]}`, { method: "DELETE", cookie })).status).toBe(200);
    expect(await (await api("/api/push/devices", { cookie })).json()).toHaveLength(PUSH_DEVICES_MAX - 1);
    expect((await api("/api/push/devices", { method: "POST", cookie, body: extra.subscription })).status).toBe(200);

    // Not a push service's URL, or keys of the wrong size: refused at the door.
    const bad = [
      { ...extra.subscription, endpoint: "http://push.psm.test/x" },
      { ...extra.subscription, keys: { ...extra.subscription.keys, auth: "AAAA" } },
      { ...extra.subscription, extra: 1 },
    ];
    for (const body of bad) expect((await api("/api/push/devices", { method: "POST", cookie, body })).status).toBe(400);
    expect(await (await api("/api/push/config", { cookie })).json()).toEqual({
      publicKey: expect.stringMatching(/^B[A-Za-z0-9_-]{86}$/),
    });
  });
});
