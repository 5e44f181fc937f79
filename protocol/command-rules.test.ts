// The command control engine: rule schema (unsafe patterns refused), command splitting, first match wins.
import { describe, expect, it } from "vitest";
import { CommandMatcher, type CommandRule, CommandRules, regexProblem, splitCommands } from "./command-rules.ts";

const rules = (list: unknown[]) => CommandRules.parse(list);

describe("regexProblem", () => {
  it("accepts ordinary patterns", () => {
    for (const p of ["rm\\s+-rf\\s+/", "^shutdown\\b", "systemctl (stop|restart) nginx", "[a-z]+\\.conf$", "a{2,5}"])
      expect(regexProblem(p), p).toBeNull();
  });
  it("refuses nested repetition, back-references, lookaround, bad syntax and long patterns", () => {
    for (const p of ["(a+)+$", "(a|ab)*c", "(x*)*", "((a)+)+", "(a{1,})+", "(.)\\1", "(?<n>a)\\k<n>"])
      expect(regexProblem(p), p).toMatch(/nested|back-ref/);
    expect(regexProblem("(?=a)b")).toMatch(/lookaround/);
    expect(regexProblem("(?<!a)b")).toMatch(/lookaround/);
    expect(regexProblem("(")).toBe("does not compile");
    expect(regexProblem("a".repeat(201))).toBe("too long");
    expect(regexProblem("")).toBe("empty");
  });
  it("is what the schema checks, with a stable code", () => {
    const bad = CommandRules.safeParse([{ kind: "regex", pattern: "(a+)+", action: "deny" }]);
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error)).toContain("command_rule_refused");
    const tooMany = Array.from({ length: 33 }, () => ({ kind: "regex", pattern: "x", action: "alert" }));
    expect(CommandRules.safeParse(tooMany).success).toBe(false);
    const tooLong = Array.from({ length: 30 }, () => ({ kind: "regex", pattern: "x".repeat(150), action: "alert" }));
    expect(CommandRules.safeParse(tooLong).success).toBe(false);
  });
});

describe("splitCommands", () => {
  it("splits chains and strips sudo/env prefixes and assignments", () => {
    expect(splitCommands("ls -l; sudo -u root systemctl stop nginx && echo ok || env A=1 FOO=2 reboot | cat")).toEqual([
      ["ls", "-l"],
      ["systemctl", "stop", "nginx"],
      ["echo", "ok"],
      ["reboot"],
      ["cat"],
    ]);
    expect(splitCommands("X=1 /usr/bin/sudo -E -- nohup rm -rf /tmp/x &")).toEqual([["rm", "-rf", "/tmp/x"]]);
  });
  it("reads quotes and escapes as the shell joins words, and looks inside $( ) and backquotes", () => {
    expect(splitCommands(`'sys'temctl "st"op x`)).toEqual([["systemctl", "stop", "x"]]);
    expect(splitCommands("sys\\temctl stop")).toEqual([["systemctl", "stop"]]);
    expect(splitCommands("echo $(reboot now) `halt`")).toEqual([["echo"], ["reboot", "now"], ["halt"]]);
    expect(splitCommands("echo 'a;b' \"c|d\"")).toEqual([["echo", "a;b", "c|d"]]);
  });
});

describe("CommandMatcher", () => {
  const matcher = new CommandMatcher(
    rules([
      { kind: "commands", names: ["systemctl stop", "reboot"], action: "deny", message: "Not here." },
      { kind: "regex", pattern: "rm\\s+-rf\\s+/(\\s|$)", action: "deny", message: "No." },
      { kind: "commands", names: ["systemctl"], action: "alert" },
      { kind: "regex", pattern: "^ls", action: "allow" },
      { kind: "regex", pattern: "ls", action: "deny" },
    ]),
  );
  it("the first matching rule decides", () => {
    expect(matcher.check("sudo systemctl stop nginx")).toEqual({ action: "deny", rule: 0, message: "Not here." });
    expect(matcher.check("systemctl status nginx")).toMatchObject({ action: "alert", rule: 2 });
    expect(matcher.check("ls /")).toMatchObject({ action: "allow", rule: 3 });
    expect(matcher.check("echo ls")).toMatchObject({ action: "deny", rule: 4 });
    expect(matcher.check("uptime")).toEqual({ action: "allow", rule: null, message: "" });
    expect(matcher.check("   ")).toMatchObject({ action: "allow", rule: null });
  });
  it("matches every command of a chain", () => {
    expect(matcher.check("uptime; reboot")).toMatchObject({ action: "deny", rule: 0 });
    expect(matcher.check("true && env LANG=C systemctl stop x")).toMatchObject({ action: "deny", rule: 0 });
    expect(matcher.check("false || /sbin/reboot")).toMatchObject({ action: "deny", rule: 0 });
    expect(matcher.check("cat x | sudo -u root reboot")).toMatchObject({ action: "deny", rule: 0 });
    expect(matcher.check("cd / && rm -rf /")).toMatchObject({ action: "deny", rule: 1 });
    expect(matcher.check("rm -rf /tmp/x")).toMatchObject({ action: "allow", rule: null });
  });
  // Each of these lines runs `reboot` in bash; the guard claims to check every command of a line.
  it("attack: a denied command behind a reserved word (if, then, do, else, !, while) still matches", () => {
    for (const line of [
      "if reboot; then :; fi",
      "if true; then reboot; fi",
      "if false; then :; else reboot; fi",
      "for i in 1; do reboot; done",
      "while reboot; do :; done",
      "until /sbin/reboot; do :; done",
      "! reboot",
      "true && ! sudo reboot",
      "coproc reboot",
    ])
      expect(matcher.check(line), line).toMatchObject({ action: "deny", rule: 0 });
  });
  it("attack: a denied command behind a leading redirection still matches", () => {
    for (const line of [
      ">/dev/null reboot",
      "> /dev/null reboot",
      "2>/dev/null reboot",
      "2>&1 reboot",
      "&>/dev/null reboot",
      "</dev/null systemctl stop nginx",
      "<<<x reboot",
      "true; >x reboot",
    ])
      expect(matcher.check(line), line).toMatchObject({ action: "deny", rule: 0 });
    expect(splitCommands("echo hi >out 2>&1; cat <in")).toEqual([["echo", "hi"], ["cat"]]);
  });
  it("attack: a denied command in ANSI-C quotes ($'…', $\"…\") still matches", () => {
    for (const line of ["$'reboot'", "$'\\x72eboot'", "$'\\162eboot'", '$"reboot"', "systemctl $'stop' x"])
      expect(matcher.check(line), line).toMatchObject({ action: "deny", rule: 0 });
  });
  it("attack: a denied command behind a wrapper's long option with a value still matches", () => {
    for (const line of [
      "sudo --user root reboot",
      "sudo --user=root reboot",
      "env --unset X reboot",
      "nice --adjustment 5 reboot",
    ])
      expect(matcher.check(line), line).toMatchObject({ action: "deny", rule: 0 });
  });
  it("denies a line too long to check when any rule denies; allows it otherwise", () => {
    expect(matcher.check(`echo ${"a".repeat(5000)}`)).toMatchObject({ action: "deny", rule: null });
    const alertOnly = new CommandMatcher(rules([{ kind: "regex", pattern: "x", action: "alert" }]) as CommandRule[]);
    expect(alertOnly.check(`echo ${"a".repeat(5000)}`)).toMatchObject({ action: "allow" });
  });
});
