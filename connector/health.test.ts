// Health: link state and errors from log events, bounded error list, Prometheus text.
import { describe, expect, it } from "vitest";
import { Health, MAX_ERRORS } from "./health.ts";

describe("connector health", () => {
  it("follows the control link and counts reconnects", () => {
    let t = 1000;
    const h = new Health("psm-connector/test", () => t);
    expect(h.link).toBe("connecting");
    t = 2000;
    h.observe("control.connected", { site: "s" });
    expect([h.link, h.linkSince]).toEqual(["connected", 2000]);
    t = 3000;
    h.observe("control.reconnecting", { code: 1006, inMs: 500 });
    expect([h.link, h.linkSince, h.counters.controlReconnects]).toEqual(["disconnected", 3000, 1]);
  });

  it("keeps the last errors with their reason code only, bounded", () => {
    const h = new Health("a");
    h.observe("session.setup_failed", { reason: "target_refused", error: "target 127.0.0.1 refused: loopback" });
    expect(h.lastErrors()).toEqual([
      { at: expect.any(Number), event: "session.setup_failed", reason: "target_refused" },
    ]);
    for (let i = 0; i < 25; i++) h.observe("control.refused", { status: 401 });
    expect(h.lastErrors()).toHaveLength(MAX_ERRORS);
    h.observe("session.open", { session: "x" });
    expect(h.lastErrors()).toHaveLength(MAX_ERRORS);
  });

  it("counts sessions and exposes Prometheus text", () => {
    const h = new Health('agent"1');
    h.observe("control.connected");
    h.sessionStarted("a");
    h.sessionStarted("b");
    h.sessionEnded("a", "user_exit");
    h.sessionEnded("a", "user_exit"); // once only
    const text = h.prometheus();
    expect(text).toContain('psm_connector_info{agent="agent\\"1"} 1');
    expect(text).toContain("psm_connector_link_up 1");
    expect(text).toContain("psm_connector_sessions 1");
    expect(text).toContain("psm_connector_sessions_started_total 2");
    expect(text).toContain('psm_connector_sessions_ended_total{reason="user_exit"} 1');
    expect(text).toMatch(/# TYPE psm_connector_sessions gauge/);
    for (const line of text.trim().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{.*\})? \d+)$/);
  });
});
