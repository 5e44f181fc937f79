// The commands timeline's row from an audit entry (commandRow): the outcome each ledger action means, the replay
// moment from the recording clock the entry carries (none without a recording, or for entries from before it was
// carried: they have only the output offset), the rule's message, and nothing for entries that are not commands.
import { describe, expect, it } from "vitest";
import type { AuditListEntry } from "./audit.ts";
import { COMMAND_ACTIONS, commandRow } from "./commands.ts";

function entry(action: string, data: Record<string, unknown>, context: AuditListEntry["context"] = {}): AuditListEntry {
  return {
    idx: 7,
    ts: 1_700_000_000_000,
    prev: "0".repeat(64),
    hash: "1".repeat(64),
    actor: { id: "u1", name: "alice-then" },
    action: action as AuditListEntry["action"],
    target: { type: "session", id: "s1" },
    refs: { userId: "u1", serverId: "v1", sessionId: "s1" },
    data,
    context,
  };
}

describe("commandRow", () => {
  it("maps each command action to its outcome, and back", () => {
    for (const [outcome, action] of Object.entries(COMMAND_ACTIONS))
      expect(commandRow(entry(action, { line: "ls", rule: null, at: 1 }))?.outcome).toBe(outcome);
  });

  it("gives the replay moment in seconds from the recording clock, with the names the edge has today", () => {
    const row = commandRow(
      entry(
        "session.command_alert",
        { line: "systemctl stop nginx", rule: 1, at: 512, ms: 61_250, message: "Paged." },
        { user: "alice", server: "web-1", recordingId: "r1" },
      ),
    );
    expect(row).toEqual({
      idx: 7,
      at: 1_700_000_000_000,
      userId: "u1",
      user: "alice",
      serverId: "v1",
      server: "web-1",
      sessionId: "s1",
      line: "systemctl stop nginx",
      outcome: "alert",
      rule: 1,
      message: "Paged.",
      recordingId: "r1",
      seconds: 61.25,
      offset: 512,
    });
  });

  it("has no moment without a recording, nor for an entry that carries only the output offset", () => {
    expect(commandRow(entry("session.command", { line: "ls", rule: null, at: 9, ms: 1000 }))).toMatchObject({
      recordingId: null,
      seconds: null,
      offset: 9,
    });
    const old = commandRow(entry("session.command", { line: "ls", rule: null, at: 9 }, { recordingId: "r1" }));
    expect(old).toMatchObject({ recordingId: "r1", seconds: null, offset: 9, message: null });
    // The actor's name as written stands in when the user is gone from D1.
    expect(old?.user).toBe("alice-then");
  });

  it("ignores what is not a command, and malformed numbers", () => {
    expect(commandRow(entry("session.started", { line: "ls" }))).toBeNull();
    expect(commandRow(entry("session.command", { rule: null, at: 1 }))).toBeNull();
    expect(
      commandRow(entry("session.command", { line: "x", rule: -1, at: 1.5, ms: "9" }, { recordingId: "r" })),
    ).toMatchObject({ rule: null, offset: null, seconds: null });
  });
});
