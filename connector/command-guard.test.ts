// The command guard on a line the screen does not show: `stty -echo` at a shell prompt hides what is typed, so the
// guard reads the line from the keys themselves. Attack: type a denied command one key at a time with echo off.
// A password typed at a prompt that does not echo still goes through, and is never written to an event.
import { describe, expect, it } from "vitest";
import { CommandRules } from "../protocol/command-rules.ts";
import { CommandGuard, type CommandEventOut } from "./command-guard.ts";

const RULES = CommandRules.parse([
  { kind: "commands", names: ["reboot"], action: "deny", message: "no reboots" },
  { kind: "commands", names: ["systemctl stop"], action: "review" },
]);

/** A guard in front of a shell that has printed `prompt` and echoes nothing typed after it. */
function blindShell(prompt: string) {
  const sent: Buffer[] = [];
  const denied: string[] = [];
  const events: CommandEventOut[] = [];
  const guard = new CommandGuard(RULES, 80, 24, {
    send: (bytes) => sent.push(Buffer.from(bytes)),
    denied: (message) => denied.push(message),
    command: (event) => events.push(event),
    review: async () => ({ allowed: true, message: "" }),
    overflow: () => {
      throw new Error("overflow");
    },
    fault: (err) => {
      throw err;
    },
  });
  guard.output(Buffer.from(prompt));
  /** Types `keys` one key per frame, as a person types, then waits until the guard has dealt with them. */
  const type = async (keys: string[]) => {
    for (const key of keys) guard.input(Buffer.from(key));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
  };
  const ran = () => Buffer.concat(sent).includes(0x0d);
  return { guard, sent, denied, events, type, ran };
}

describe("CommandGuard, echo off", () => {
  it("attack: a denied command typed key by key with echo off (stty -echo) is refused", async () => {
    const shell = blindShell("u@host:~$ ");
    await shell.type([..."reboot", "\r"]);
    expect(shell.ran()).toBe(false);
    expect(shell.denied).toEqual(["no reboots"]);
    expect(shell.events).toMatchObject([{ action: "deny", line: "(typed with echo off: not shown)" }]);
    shell.guard.dispose();
  }, 10_000);

  it("attack: the same line edited with keys the guard cannot follow (arrows) is refused", async () => {
    const shell = blindShell("u@host:~$ ");
    await shell.type([..."rebot", "\x1b[D", "o", "\r"]);
    expect(shell.ran()).toBe(false);
    expect(shell.denied[0]).toMatch(/cannot read this line/);
    shell.guard.dispose();
  }, 10_000);

  it("attack: a line a rule holds for review cannot run unseen", async () => {
    const shell = blindShell("u@host:~$ ");
    await shell.type([..."systemctl stop nginx", "\r"]);
    expect(shell.ran()).toBe(false);
    expect(shell.denied[0]).toMatch(/needs review/);
    shell.guard.dispose();
  }, 10_000);

  it("lets a password through at a prompt that does not echo, Backspace and all, and never writes it to an event", async () => {
    const shell = blindShell("[sudo] password for u: ");
    await shell.type([..."canary-pw-X", "\x7f", ..."7", "\r"]);
    expect(shell.ran()).toBe(true);
    expect(shell.denied).toEqual([]);
    expect(JSON.stringify(shell.events)).not.toContain("canary");
    shell.guard.dispose();
  }, 10_000);
});
