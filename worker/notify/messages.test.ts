// Rendering of checkout events into email text and Slack payloads, on Node.
import { describe, expect, it } from "vitest";
import { type CheckoutNotice, formatWindow, NOTIFY_EVENTS, renderNotice } from "./messages.ts";

const START = Date.UTC(2026, 4, 1, 14, 0);
const notice: CheckoutNotice = {
  event: "checkout.requested",
  checkoutId: "co-123",
  requester: "alice",
  server: "web-01",
  credential: "root pw (root)",
  startsAt: START,
  endsAt: START + 150 * 60_000,
  justification: "Patch CVE-2026-0001\nthen reboot",
};

describe("renderNotice", () => {
  it("tells approvers who wants what, when, why, and where to decide", () => {
    const m = renderNotice(notice, "https://psm.example.com/");
    expect(m.subject).toBe("Approval needed: alice requests root pw (root) on web-01");
    expect(m.text).toContain("alice requests a checkout that needs your approval.");
    expect(m.text).toMatch(/Server: +web-01/);
    expect(m.text).toMatch(/Credential: +root pw \(root\)/);
    expect(m.text).toContain("2026-05-01 14:00 UTC to 2026-05-01 16:30 UTC (2 h 30 min)");
    expect(m.text).toContain("Justification:\n  Patch CVE-2026-0001\n  then reboot");
    expect(m.text).toContain("https://psm.example.com/#/approvals/co-123");
    expect(m.text).toContain("Checkout co-123 · checkout.requested");
  });

  it("builds a Slack-compatible payload: fallback text, a mrkdwn section and a context block", () => {
    const { slack } = renderNotice(notice, "https://psm.example.com");
    expect(slack.text).toBe("Approval needed: alice requests root pw (root) on web-01");
    expect(slack.blocks[0].type).toBe("section");
    expect(slack.blocks[0].text.type).toBe("mrkdwn");
    expect(slack.blocks[0].text.text).toContain("*Server:* web-01");
    expect(slack.blocks[0].text.text).toContain(">Patch CVE-2026-0001\n>then reboot");
    expect(slack.blocks[0].text.text).toContain("<https://psm.example.com/#/approvals/co-123|Open this request>");
    expect(slack.blocks[1]).toEqual({
      type: "context",
      elements: [{ type: "mrkdwn", text: "Checkout co-123 · checkout.requested" }],
    });
    expect(JSON.parse(JSON.stringify(slack))).toEqual(slack);
  });

  it("leaves the link out when APP_URL is not set", () => {
    const m = renderNotice(notice);
    expect(m.text).not.toContain("approvals inbox");
    expect(m.slack.blocks[0].text.text).not.toContain("approvals");
  });

  it("escapes Slack markup in user text so nobody can @channel or disguise a link", () => {
    const m = renderNotice({ ...notice, justification: "<!channel> see <https://evil.example|docs> & more" });
    const section = m.slack.blocks[0].text.text;
    expect(section).toContain("&lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; more");
    expect(section).not.toContain("<!channel>");
    expect(m.text).toContain("<!channel> see"); // plain text email shows it as typed
  });

  it("keeps names on one line so they cannot break a subject", () => {
    const m = renderNotice({ ...notice, requester: "mallory\r\nBcc: x@example.net" });
    expect(m.subject).toBe("Approval needed: mallory Bcc: x@example.net requests root pw (root) on web-01");
  });

  it("renders each decision with who decided and why", () => {
    const approved = renderNotice({
      ...notice,
      event: "checkout.approved",
      decidedBy: "carol",
      comment: "ok for today",
    });
    expect(approved.subject).toBe("Checkout approved: root pw (root) on web-01");
    expect(approved.text).toContain("carol approved alice's checkout.");
    expect(approved.text).toContain("Comment:\n  ok for today");

    const denied = renderNotice({
      ...notice,
      event: "checkout.denied",
      decidedBy: "carol",
      comment: "use the runbook",
    });
    expect(denied.subject).toBe("Checkout denied: root pw (root) on web-01");
    expect(denied.text).toContain("carol denied alice's checkout.");
    expect(denied.slack.blocks[0].text.text).toContain("*Comment:*\n>use the runbook");

    const revoked = renderNotice({ ...notice, event: "checkout.revoked", decidedBy: "admin", reason: "incident 42" });
    expect(revoked.subject).toBe("Checkout revoked: root pw (root) on web-01");
    expect(revoked.text).toContain("admin revoked alice's checkout.");
    expect(revoked.text).toContain("Reason:\n  incident 42");

    expect(renderNotice({ ...notice, event: "checkout.expired" }).text).toContain("alice's checkout has expired.");
    expect(renderNotice({ ...notice, event: "checkout.checked_in" }).subject).toBe(
      "Checkout checked in: root pw (root) on web-01",
    );
  });

  it("gives every event its own subject and never an approvals link except for requests", () => {
    const rendered = NOTIFY_EVENTS.map((event) => renderNotice({ ...notice, event }, "https://psm.example.com"));
    expect(new Set(rendered.map((m) => m.subject)).size).toBe(NOTIFY_EVENTS.length);
    expect(rendered.filter((m) => m.text.includes("#/approvals"))).toHaveLength(1);
  });

  it("bounds free text and stays within Slack's 3,000-character section limit", () => {
    const m = renderNotice({ ...notice, justification: "x".repeat(10_000) });
    expect(m.text.length).toBeLessThan(2_000);
    expect(m.slack.blocks[0].text.text.length).toBeLessThanOrEqual(3_000);
  });
});

describe("formatWindow", () => {
  it("states both ends in UTC and the length", () => {
    expect(formatWindow(START, START + 3_600_000)).toBe("2026-05-01 14:00 UTC to 2026-05-01 15:00 UTC (1 h)");
    expect(formatWindow(START, START + 45 * 60_000)).toBe("2026-05-01 14:00 UTC to 2026-05-01 14:45 UTC (45 min)");
  });
});
