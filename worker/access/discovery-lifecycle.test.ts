// The discovered-host lifecycle core: ageing by days unseen, coming back, and an enabled server following a move.
import { describe, expect, it } from "vitest";
import { aged, DAY_MS, DEFAULT_LIFECYCLE, dueBefore, type HostRecord, sighted } from "./discovery-lifecycle.ts";

const T0 = 1_700_000_000_000;
const host = (over: Partial<HostRecord> = {}): HostRecord => ({
  lifecycle: "seen",
  lastSeen: T0,
  host: "10.0.0.5",
  port: 22,
  rdpPort: null,
  server: null,
  ...over,
});

describe("ageing", () => {
  const settings = { staleAfterDays: 7, retireAfterDays: 30 };
  it("stays seen until the stale days have passed, then stale, then retired", () => {
    expect(aged(host(), T0 + 7 * DAY_MS - 1, settings)).toBeNull();
    expect(aged(host(), T0 + 7 * DAY_MS, settings)).toBe("stale");
    expect(aged(host({ lifecycle: "stale" }), T0 + 29 * DAY_MS, settings)).toBeNull();
    expect(aged(host({ lifecycle: "stale" }), T0 + 30 * DAY_MS, settings)).toBe("retired");
    expect(aged(host({ lifecycle: "retired" }), T0 + 300 * DAY_MS, settings)).toBeNull();
  });
  it("retires a host first seen long ago in one step (a sweep that did not run for weeks)", () => {
    expect(aged(host(), T0 + 31 * DAY_MS, settings)).toBe("retired");
  });
  it("has sensible defaults and a due bound the sweep can query by", () => {
    expect(DEFAULT_LIFECYCLE).toEqual({ staleAfterDays: 7, retireAfterDays: 30 });
    expect(dueBefore(T0, settings)).toBe(T0 - 7 * DAY_MS);
  });
});

describe("a rerun's sighting", () => {
  it("brings a stale or retired host back, and says from where", () => {
    expect(sighted(host({ lifecycle: "stale" }), { host: "10.0.0.5", port: 22, rdpPort: null }).events).toEqual([
      { kind: "returned", from: "stale" },
    ]);
    expect(sighted(host({ lifecycle: "retired" }), { host: "10.0.0.5", port: 22, rdpPort: null }).events).toEqual([
      { kind: "returned", from: "retired" },
    ]);
    expect(sighted(host(), { host: "10.0.0.5", port: 22, rdpPort: null })).toEqual({ lifecycle: "seen", events: [] });
  });

  it("moves an enabled SSH server that still dials the old address", () => {
    const prev = host({ server: { protocol: "ssh", host: "10.0.0.5", port: 22 } });
    expect(sighted(prev, { host: "10.0.0.9", port: 22, rdpPort: null }).events).toEqual([
      {
        kind: "address_changed",
        before: { host: "10.0.0.5", port: 22, rdpPort: null },
        after: { host: "10.0.0.9", port: 22, rdpPort: null },
        serverFollows: { host: "10.0.0.9", port: 22 },
      },
    ]);
  });

  it("moves an RDP server to the host's new address on its RDP port, and keeps a port a probe missed", () => {
    const prev = host({ rdpPort: 3390, server: { protocol: "rdp", host: "10.0.0.5", port: 3390 } });
    const [moved] = sighted(prev, { host: "win.corp", port: 22, rdpPort: null }).events;
    expect(moved).toMatchObject({
      after: { host: "win.corp", rdpPort: 3390 },
      serverFollows: { host: "win.corp", port: 3390 },
    });
    // Only the SSH port changed: an RDP server stays where it is (the change is still reported).
    const [sshOnly] = sighted(prev, { host: "10.0.0.5", port: 2222, rdpPort: 3390 }).events;
    expect(sshOnly).toMatchObject({ kind: "address_changed", serverFollows: null });
  });

  it("leaves a server an admin pointed elsewhere, and reports the move without a follow when none is enabled", () => {
    const edited = host({ server: { protocol: "ssh", host: "bastion.corp", port: 22 } });
    expect(sighted(edited, { host: "10.0.0.9", port: 22, rdpPort: null }).events[0]).toMatchObject({
      serverFollows: null,
    });
    expect(sighted(host(), { host: "10.0.0.9", port: 22, rdpPort: null }).events[0]).toMatchObject({
      kind: "address_changed",
      serverFollows: null,
    });
  });

  it("both comes back and moves in one rerun", () => {
    const prev = host({ lifecycle: "retired", server: { protocol: "ssh", host: "10.0.0.5", port: 22 } });
    expect(sighted(prev, { host: "10.0.0.6", port: 22, rdpPort: null }).events.map((e) => e.kind)).toEqual([
      "returned",
      "address_changed",
    ]);
  });
});
