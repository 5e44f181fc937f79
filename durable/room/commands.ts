// Command control's events in the room (docs/governance.md): the connector reports each command line the
// user ran or tried to; the room audits it for the commands timeline, with its output offset (where it is in
// the recording), and marks denials and alerts in the recording.
import type { CommandEvent } from "../../protocol/index.ts";
import type { RoomCore } from "./core.ts";

/** Attributed to the session's user: the connector sees one shell, not who typed each key. */
export function commandRan(core: RoomCore, cmd: CommandEvent, now: number): void {
  const meta = core.meta!;
  if (cmd.action !== "allow") core.mark(`command ${cmd.action}: rule ${cmd.rule ?? "-"}`, now, false);
  const action =
    cmd.action === "deny"
      ? "session.command_denied"
      : cmd.action === "alert"
        ? "session.command_alert"
        : "session.command";
  // `ms` (the recording's clock) is what the timeline's replay link seeks to; entries from before it carry only the
  // output offset.
  core.auditSession({ id: meta.userId, name: meta.username }, action, {
    line: cmd.line,
    rule: cmd.rule,
    at: cmd.at,
    ...(cmd.ms !== undefined ? { ms: cmd.ms } : {}),
    ...(cmd.message ? { message: cmd.message } : {}),
  });
}
