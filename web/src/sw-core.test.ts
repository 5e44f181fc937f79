// The service worker's decisions (sw-core.ts): the notification a decrypted payload becomes (title, body, tag,
// data.url, kept within PushNotice's limits), and what a tap opens or focuses, never a URL off this origin.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PushNotice } from "../../protocol/web-push.ts";
import {
  BODY_MAX_CHARS,
  clickPlan,
  FALLBACK_PATH,
  notificationFor,
  safePath,
  TAG_MAX_CHARS,
  TITLE_MAX_CHARS,
} from "./sw-core.ts";

const ORIGIN = "https://psm.example.com";

const signIn = {
  kind: "sign_in",
  title: "Sign-in request",
  body: "Sign-in request from Chrome on Linux, 203.0.113.9 (NL)",
  url: "/#/account",
  tag: "sign-in-abc",
};

describe("notificationFor", () => {
  it("shows a sign-in notice as sent, kept on screen until acted on, linking the number-matching screen", () => {
    expect(notificationFor(JSON.stringify(signIn), ORIGIN)).toEqual({
      title: "Sign-in request",
      options: {
        body: signIn.body,
        tag: "sign-in-abc",
        icon: "/icons/icon-192.png",
        badge: "/icons/icon-192.png",
        data: { url: "/#/account" },
        requireInteraction: true,
      },
    });
  });

  it("an approver's task links its approval and goes away by itself", () => {
    const task = {
      kind: "approval",
      title: "Approval needed",
      body: "alice asks for db-1",
      url: "/#/approvals/ck_1",
      tag: "approval-ck_1",
    };
    const shown = notificationFor(JSON.stringify(task), ORIGIN);
    expect(shown?.options.data).toEqual({ url: "/#/approvals/ck_1" });
    expect(shown?.options.requireInteraction).toBe(false);
    expect(shown?.options.tag).toBe("approval-ck_1");
  });

  it("carries only title, body, tag and the path: extra fields of the payload go nowhere", () => {
    const shown = notificationFor(JSON.stringify({ ...signIn, code: "42", token: "secret-token" }), ORIGIN);
    expect(JSON.stringify(shown)).not.toMatch(/42|secret-token/);
  });

  it("shows nothing for a payload that is not a notice of ours", () => {
    for (const payload of [
      null,
      undefined,
      "",
      "not json",
      "null",
      "42",
      '"text"',
      "[]",
      '{"title":"t"}',
      '{"title":1,"body":"b"}',
    ])
      expect(notificationFor(payload, ORIGIN), String(payload)).toBeNull();
  });

  it("a link off this origin, or no link, opens the Account page instead", () => {
    for (const url of [
      "https://evil.example/#/account",
      "//evil.example/x",
      "/\\evil.example/x",
      "javascript:alert(1)",
      "#/account",
      7,
      undefined,
    ])
      expect(notificationFor(JSON.stringify({ ...signIn, url }), ORIGIN)?.options.data.url, String(url)).toBe(
        FALLBACK_PATH,
      );
  });

  it("cuts an oversized title, body and tag to PushNotice's limits, which these constants match", () => {
    const shape = PushNotice.shape;
    expect(shape.title.maxLength).toBe(TITLE_MAX_CHARS);
    expect(shape.body.maxLength).toBe(BODY_MAX_CHARS);
    expect(shape.tag.maxLength).toBe(TAG_MAX_CHARS);
    const shown = notificationFor(
      JSON.stringify({ ...signIn, title: "t".repeat(999), body: "b".repeat(999), tag: "g".repeat(999) }),
      ORIGIN,
    );
    expect(shown?.title.length).toBe(TITLE_MAX_CHARS);
    expect(shown?.options.body.length).toBe(BODY_MAX_CHARS);
    expect(shown?.options.tag?.length).toBe(TAG_MAX_CHARS);
  });

  it("every notice PushNotice accepts is shown unchanged (property)", () => {
    const path = fc.stringMatching(/^\/#\/[a-z0-9_/-]{0,40}$/);
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom("sign_in", "approval", "extension", "test"),
          title: fc.string({ maxLength: 120 }),
          body: fc.string({ maxLength: 400 }),
          url: path,
          tag: fc.string({ minLength: 1, maxLength: 80 }),
        }),
        (notice) => {
          expect(PushNotice.safeParse(notice).success).toBe(true);
          const shown = notificationFor(JSON.stringify(notice), ORIGIN);
          expect(shown).toMatchObject({
            title: notice.title,
            options: { body: notice.body, tag: notice.tag, data: { url: notice.url } },
          });
        },
      ),
    );
  });
});

describe("safePath", () => {
  it("never resolves to another origin, whatever the string (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.string().map((s) => `/${s}`),
        ),
        (s) => {
          const path = safePath(s, ORIGIN);
          expect(path.startsWith("/")).toBe(true);
          expect(new URL(path, ORIGIN).origin).toBe(ORIGIN);
        },
      ),
    );
  });

  it("keeps query and hash of a path on this origin", () => {
    expect(safePath("/?a=1#/approvals/ck_2", ORIGIN)).toBe("/?a=1#/approvals/ck_2");
  });
});

describe("clickPlan", () => {
  it("opens a window at the notice's path when none of the app's is open", () => {
    expect(clickPlan({ url: "/#/account" }, ORIGIN, [])).toEqual({ open: "/#/account" });
    expect(clickPlan({ url: "/#/account" }, ORIGIN, [{ url: "https://other.example/#/account" }])).toEqual({
      open: "/#/account",
    });
  });

  it("focuses the first window of this origin and moves it to the screen", () => {
    const windows = [{ url: "https://other.example/" }, { url: `${ORIGIN}/#/catalog` }, { url: `${ORIGIN}/#/admin` }];
    const plan = clickPlan({ url: "/#/approvals/ck_1" }, ORIGIN, windows);
    expect(plan).toEqual({ focus: windows[1], navigate: "/#/approvals/ck_1" });
    expect("focus" in plan && plan.focus).toBe(windows[1]);
  });

  it("only focuses a window already on the screen", () => {
    expect(clickPlan({ url: "/#/account" }, ORIGIN, [{ url: `${ORIGIN}/#/account` }])).toEqual({
      focus: { url: `${ORIGIN}/#/account` },
      navigate: null,
    });
  });

  it("refuses a URL off this origin in the notification's data: the Account page instead", () => {
    for (const data of [
      { url: "https://evil.example/" },
      { url: "//evil.example" },
      { url: "/\\evil.example" },
      null,
      undefined,
      "x",
      {},
    ]) {
      expect(clickPlan(data, ORIGIN, []), JSON.stringify(data)).toEqual({ open: FALLBACK_PATH });
      expect(clickPlan(data, ORIGIN, [{ url: `${ORIGIN}/#/catalog` }])).toEqual({
        focus: { url: `${ORIGIN}/#/catalog` },
        navigate: FALLBACK_PATH,
      });
    }
  });

  it("skips a window whose URL does not parse", () => {
    expect(clickPlan({ url: "/#/account" }, ORIGIN, [{ url: "not a url" }, { url: `${ORIGIN}/` }])).toEqual({
      focus: { url: `${ORIGIN}/` },
      navigate: "/#/account",
    });
  });
});
