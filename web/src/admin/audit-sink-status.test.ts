// The audit stream sink's status sentence (Admin › Audit streaming) for each state the edge reports.
import { describe, expect, it } from "vitest";
import { sinkStatus, sinkTarget } from "./audit-sink-status.ts";

const time = (ms: number) => `t${ms}`;
const healthy = { enabled: true, behind: 0, failingSince: null, lastError: null, nextAttemptAt: null, lastOkAt: 5 };

describe("sinkStatus", () => {
  it("says up to date when nothing is owed", () => {
    expect(sinkStatus(healthy, time)).toEqual({ tone: "ok", text: "Up to date" });
  });
  it("counts the entries behind, singular and plural", () => {
    expect(sinkStatus({ ...healthy, behind: 1 }, time).text).toBe("1 entry behind");
    expect(sinkStatus({ ...healthy, behind: 42 }, time)).toEqual({ tone: "behind", text: "42 entries behind" });
  });
  it("says since when and why it fails, and when it tries next", () => {
    const failing = {
      ...healthy,
      behind: 3,
      failingSince: 100,
      lastError: "the collector is unreachable",
      nextAttemptAt: 160,
    };
    expect(sinkStatus(failing, time)).toEqual({
      tone: "failing",
      text: "Failing since t100: the collector is unreachable, next try t160",
    });
    expect(sinkStatus({ ...failing, nextAttemptAt: null, lastError: null }, time).text).toBe(
      "Failing since t100: no answer",
    );
  });
  it("says a turned-off sink is off, even while it was failing", () => {
    expect(sinkStatus({ ...healthy, enabled: false }, time)).toEqual({ tone: "off", text: "Turned off" });
    expect(sinkStatus({ ...healthy, enabled: false, behind: 7, failingSince: 1 }, time).text).toBe(
      "Turned off, 7 entries behind",
    );
  });
});

describe("sinkTarget", () => {
  const names = (id: string) => (id === "s1" ? "Paris" : id);
  it("is the URL of an HEC sink", () => {
    const hec = { kind: "hec" as const, url: "https://siem.example/services/collector/event", host: null, port: null };
    expect(sinkTarget({ ...hec, siteId: null }, names)).toBe("https://siem.example/services/collector/event");
  });
  it("is host:port and the site's name of a syslog sink", () => {
    expect(sinkTarget({ kind: "syslog", url: null, host: "10.0.0.5", port: 6514, siteId: "s1" }, names)).toBe(
      "10.0.0.5:6514 via site Paris",
    );
  });
});
