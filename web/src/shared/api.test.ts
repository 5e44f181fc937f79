// The browser's client, without a browser: each call goes to its route's path (parameters encoded, empty query
// values left out), sends its body as JSON, and takes an answer only when it matches the route's response schema.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, auditExportUrl, recordingCastUrl, routeUrl, setUnauthorizedHandler } from "./api.ts";

type Sent = { url: string; method: string; body: unknown };
let sent: Sent[];
let answer: { status: number; body: unknown };

beforeEach(() => {
  sent = [];
  answer = { status: 200, body: {} };
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    sent.push({ url, method: init.method ?? "GET", body: init.body ? JSON.parse(String(init.body)) : undefined });
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  });
});
afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(() => {});
});

describe("the API client", () => {
  it("fills and encodes the route's path parameters", async () => {
    answer.body = { revoked: true };
    await api.takeBackInvitation("s/1", "i?2");
    expect(sent).toEqual([{ url: "/api/sessions/s%2F1/invitations/i%3F2", method: "DELETE", body: undefined }]);
    expect(recordingCastUrl("r 1")).toBe("/api/recordings/r%201/cast");
  });

  it("sends the query's defined, non-empty values only", async () => {
    answer.body = [];
    await api.catalog({ q: "db", zoneId: "", tag: undefined });
    expect(sent[0]!.url).toBe("/api/catalog?q=db");
    expect(auditExportUrl({})).toBe("/api/audit/export");
    expect(routeUrl("GET /api/audit/names", { query: { kind: "user", q: "al ice" } })).toBe(
      "/api/audit/names?kind=user&q=al+ice",
    );
  });

  it("sends a body as JSON, and an empty object for a POST without one", async () => {
    answer.body = { id: "t", expiresAt: 1, status: "pending" };
    await api.totpConfirm("123456").catch(() => {});
    expect(sent[0]).toMatchObject({ method: "POST", url: "/api/mfa/totp/confirm", body: { code: "123456" } });
    answer.body = { rotationId: "r" };
    expect(await api.rotateSealKey("site")).toEqual({ rotationId: "r" });
    expect(sent[1]).toMatchObject({ method: "POST", url: "/api/sites/site/seal-key/rotate", body: {} });
  });

  it("takes an answer only when it matches the route's response schema", async () => {
    answer.body = { rotationId: 7 };
    await expect(api.rotateSealKey("site")).rejects.toMatchObject({ code: "protocol_error" });
    answer.body = { ticket: "t", expiresAt: 1 };
    expect(await api.socketTicket("s", "ws")).toEqual({ ticket: "t", expiresAt: 1 });
  });

  it("throws the edge's stable code, and hands a lost sign-in to the page once", async () => {
    const lost = vi.fn();
    setUnauthorizedHandler(lost);
    answer = { status: 409, body: { error: { code: "sharing_off", message: "x" } } };
    await expect(api.sessionSharing("s")).rejects.toEqual(new ApiError(409, "sharing_off"));
    answer = { status: 401, body: { error: { code: "unauthorized", message: "x" } } };
    await expect(api.checkouts()).rejects.toMatchObject({ status: 401 });
    expect(lost).toHaveBeenCalledTimes(1);
    // The sign-in probe answers null instead of sending the page to sign in.
    expect(await api.me()).toBeNull();
    expect(lost).toHaveBeenCalledTimes(1);
  });
});
