// Command control (docs/governance.md): a policy's rules for command lines typed into an SSH shell, their
// schema (checked by the policy API and again by the connector, which gets them in the session grant), and the
// pure engine that says what to do with a line: the first rule that matches decides.
import { z } from "zod";

export const CommandAction = z.enum(["deny", "review", "alert", "allow"]);
export type CommandAction = z.infer<typeof CommandAction>;

/** A rule's pattern is at most 200 characters; a name list at most 32 names of at most 64 characters. */
export const MAX_RULE_PATTERN = 200;
export const MAX_RULE_NAMES = 32;
/** At most 32 rules per policy, and their JSON at most 4 KiB: they travel in the grant (12 KiB in all). */
export const MAX_COMMAND_RULES = 32;
export const MAX_COMMAND_RULES_JSON = 4 * 1024;
/**
 * Lines longer than 4 Ki characters are not matched (a regular expression's cost grows with the line): with any
 * rule that denies, such a line is denied as too long to check; otherwise it goes through as `allow`.
 */
export const MAX_CHECKED_LINE = 4 * 1024;

/**
 * Why a regular expression is refused, or null when it is safe to run on every line: it must compile (as a
 * JavaScript `u` pattern) and must not nest unbounded repetition (`(a+)+`, `(a|ab)*`), use back-references or
 * lookaround, the constructs behind catastrophic backtracking. Conservative: some harmless patterns are refused too.
 */
export function regexProblem(pattern: string): string | null {
  if (pattern.length === 0) return "empty";
  if (pattern.length > MAX_RULE_PATTERN) return "too long";
  try {
    new RegExp(pattern, "u");
  } catch {
    return "does not compile";
  }
  // Per open group: whether it holds a repetition or an alternation.
  const groups: { repeats: boolean }[] = [{ repeats: false }];
  let lastClosed: { repeats: boolean } | null = null;
  let repetitions = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const closed = lastClosed;
    lastClosed = null;
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") return "back-references are not allowed";
      i++;
      continue;
    }
    if (c === "[") {
      // A character class: skip to its end (escapes inside included).
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
      continue;
    }
    if (c === "(") {
      if (pattern.startsWith("(?=", i) || pattern.startsWith("(?!", i) || pattern.startsWith("(?<=", i))
        return "lookaround is not allowed";
      if (pattern.startsWith("(?<!", i)) return "lookaround is not allowed";
      groups.push({ repeats: false });
      continue;
    }
    if (c === ")") {
      const group = groups.pop()!;
      if (group.repeats) groups[groups.length - 1]!.repeats = true;
      lastClosed = group;
      continue;
    }
    if (c === "|") {
      groups[groups.length - 1]!.repeats = true;
      continue;
    }
    const unbounded = c === "*" || c === "+" || (c === "{" && /^\{\d*,\}|^\{\d+,\d{2,}\}/.test(pattern.slice(i)));
    if (c === "*" || c === "+" || c === "?" || c === "{") {
      if (c === "{" && !/^\{\d+(,\d*)?\}/.test(pattern.slice(i))) continue;
      repetitions++;
      if (unbounded && closed?.repeats) return "nested repetition (catastrophic backtracking)";
      groups[groups.length - 1]!.repeats = true;
      if (c === "{") i = pattern.indexOf("}", i);
    }
  }
  if (repetitions > 16) return "too many repetitions";
  return null;
}

const CommandName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\s;&|<>()`$'"\\]+(?: [^\s;&|<>()`$'"\\]+)*$/, "a command name, optionally with its first arguments");

/**
 * `review` (docs/governance.md): the line is held until one of the session's reviewers (its policy's approver or
 * moderator group, never the user) allows or refuses it, at most `reviewSeconds` (default 2 min); no answer refuses.
 */
export const REVIEW_SECONDS = { min: 10, default: 120, max: 1800 } as const;
const RuleBase = {
  action: CommandAction,
  message: z.string().trim().max(200).default(""),
  reviewSeconds: z.number().int().min(REVIEW_SECONDS.min).max(REVIEW_SECONDS.max).optional(),
};
export const CommandRule = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("regex"),
    pattern: z
      .string()
      .max(MAX_RULE_PATTERN)
      .superRefine((pattern, ctx) => {
        const problem = regexProblem(pattern);
        if (problem)
          ctx.addIssue({
            code: "custom",
            message: `pattern refused: ${problem}`,
            params: { apiCode: "command_rule_refused", rule: "regex_unsafe" },
          });
      }),
    ...RuleBase,
  }),
  z.strictObject({
    kind: z.literal("commands"),
    /** Command names (`systemctl`), or names with their first arguments (`systemctl stop`). */
    names: z.array(CommandName).min(1).max(MAX_RULE_NAMES),
    ...RuleBase,
  }),
]);
export type CommandRule = z.infer<typeof CommandRule>;

export const CommandRules = z
  .array(CommandRule)
  .max(MAX_COMMAND_RULES)
  .superRefine((rules, ctx) => {
    if (JSON.stringify(rules).length > MAX_COMMAND_RULES_JSON)
      ctx.addIssue({
        code: "custom",
        message: "the rules are too long in all",
        params: { apiCode: "command_rule_refused", rule: "rules_too_long" },
      });
  });

/**
 * What the engine decided for one line: the first matching rule's action (no match: allow, rule null).
 * `reviewSeconds`: how long a `review` holds the line.
 */
export type CommandVerdict = { action: CommandAction; rule: number | null; message: string; reviewSeconds?: number };

const ALLOW: CommandVerdict = { action: "allow", rule: null, message: "" };

/** The rules made ready to match many lines: regular expressions compiled once. */
export class CommandMatcher {
  private readonly compiled: (RegExp | string[][])[];
  private readonly denies: boolean;

  constructor(readonly rules: readonly CommandRule[]) {
    this.compiled = rules.map((r) =>
      r.kind === "regex" ? new RegExp(r.pattern, "u") : r.names.map((n) => n.split(" ")),
    );
    this.denies = rules.some((r) => r.action === "deny" || r.action === "review");
  }

  /** The verdict for one command line (as the shell will run it: continuation lines already joined). */
  check(line: string): CommandVerdict {
    const text = line.trim();
    if (text.length === 0) return ALLOW;
    if (text.length > MAX_CHECKED_LINE)
      return this.denies ? { action: "deny", rule: null, message: "This command line is too long to check." } : ALLOW;
    const commands = this.compiled.some((m) => !(m instanceof RegExp)) ? splitCommands(text) : [];
    for (let i = 0; i < this.rules.length; i++) {
      const matcher = this.compiled[i]!;
      const hit =
        matcher instanceof RegExp
          ? matcher.test(text)
          : commands.some((words) => matcher.some((name) => startsWith(words, name)));
      if (!hit) continue;
      const rule = this.rules[i]!;
      return rule.action === "review"
        ? {
            action: "review",
            rule: i,
            message: rule.message,
            reviewSeconds: rule.reviewSeconds ?? REVIEW_SECONDS.default,
          }
        : { action: rule.action, rule: i, message: rule.message };
    }
    return ALLOW;
  }
}

function startsWith(words: string[], name: string[]): boolean {
  if (words.length < name.length) return false;
  const first = words[0]!;
  const base = first.slice(first.lastIndexOf("/") + 1);
  if (base !== name[0]) return false;
  return name.every((n, i) => i === 0 || words[i] === n);
}

/** Prefixes that run the command after them; their options are skipped (those taking a value with it). */
const WRAPPERS: Record<string, string[]> = {
  sudo: [
    ..."-u -g -h -p -r -t -C -D -T -U".split(" "),
    ..."--user --group --host --prompt --role --type --close-from --chdir --command-timeout --other-user".split(" "),
  ],
  doas: ["-u", "-C"],
  env: ["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
  command: [],
  exec: ["-a"],
  nohup: [],
  // The keyword takes -p; GNU time's program takes a format and an output file.
  time: ["-f", "-o", "--format", "--output"],
  nice: ["-n", "--adjustment"],
  builtin: [],
};

/** Reserved words a command may follow (`if reboot; then …`, `! reboot`, `do reboot`). */
const RESERVED = new Set(["!", "if", "then", "elif", "else", "do", "while", "until", "coproc"]);

/** Bash's ANSI-C quoting (`$'…'`) from the opening quote at `start`: the text it stands for and its closing quote. */
function ansiC(line: string, start: number): { text: string; end: number } {
  const simple: Record<string, string> = {
    a: "\x07",
    b: "\b",
    e: "\x1b",
    E: "\x1b",
    f: "\f",
    n: "\n",
    r: "\r",
    t: "\t",
    v: "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
  };
  let text = "";
  let i = start + 1;
  for (; i < line.length && line[i] !== "'"; i++) {
    if (line[i] !== "\\" || i + 1 >= line.length) {
      text += line[i];
      continue;
    }
    const rest = line.slice(i + 1);
    const code =
      /^[0-7]{1,3}/.exec(rest) ??
      /^x([0-9a-fA-F]{1,2})/.exec(rest) ??
      /^u([0-9a-fA-F]{1,4})/.exec(rest) ??
      /^U([0-9a-fA-F]{1,8})/.exec(rest);
    if (code) {
      const value = code[1] === undefined ? Number.parseInt(code[0], 8) : Number.parseInt(code[1], 16);
      text += value <= 0x10ffff ? String.fromCodePoint(value) : "";
      i += code[0].length;
    } else if (rest[0] === "c" && rest.length > 1) {
      text += String.fromCharCode(rest.charCodeAt(1) & 0x1f);
      i += 2;
    } else {
      text += simple[rest[0]!] ?? `\\${rest[0]}`;
      i++;
    }
  }
  return { text, end: i };
}

/**
 * The commands of a line, each as its words (quotes removed, `$'…'` decoded, `sudo`/`env`-style prefixes, reserved
 * words such as `if`, `then` and `!`, redirections and `VAR=value` assignments dropped): split at `;`, `&&`, `||`,
 * `|`, `&`, newlines and parentheses, and the inside of `$(…)` and backquotes counted as commands of their own. A
 * shell-like reading for matching, not a shell parser.
 */
export function splitCommands(line: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  /** A redirection's operator was read: the next word is its target, not a word of the command. */
  let target = false;
  const endWord = () => {
    if (inWord && target) target = false;
    else if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    target = false;
    const command = unwrap(words);
    if (command.length > 0) out.push(command);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\") {
      if (i + 1 < line.length && line[i + 1] !== "\n") {
        word += line[i + 1];
        inWord = true;
      }
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word += line.slice(i + 1, end < 0 ? line.length : end);
      inWord = true;
      i = end < 0 ? line.length : end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) j++;
        word += line[j];
      }
      inWord = true;
      i = j;
    } else if (c === "$" && line[i + 1] === "'") {
      const quoted = ansiC(line, i + 1);
      word += quoted.text;
      inWord = true;
      i = quoted.end;
    } else if (c === "$" && line[i + 1] === '"') {
      // Locale quoting: read as the double quotes that follow.
      inWord = true;
    } else if (c === "$" && line[i + 1] === "(") {
      endCommand();
      i++;
    } else if (c === "<" || c === ">" || (c === "&" && line[i + 1] === ">")) {
      // A redirection (`>x`, `2>&1`, `&>x`, `<<<x`) may come before the command: its file descriptor, operator and
      // target are not the command's words.
      if (inWord && /^\d+$/.test(word)) {
        word = "";
        inWord = false;
      } else endWord();
      while (i + 1 < line.length && "<>&|-".includes(line[i + 1]!)) i++;
      target = true;
    } else if (";&|()\n`{}".includes(c)) {
      endCommand();
    } else if (c === " " || c === "\t") {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}

function unwrap(words: string[]): string[] {
  let i = 0;
  for (;;) {
    while (i < words.length && (RESERVED.has(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!))) i++;
    const w = words[i];
    if (w === undefined) return [];
    const wrapper = WRAPPERS[w.slice(w.lastIndexOf("/") + 1)];
    if (!wrapper) return words.slice(i);
    i++;
    while (i < words.length && words[i]!.startsWith("-") && words[i] !== "--") {
      const option = words[i]!;
      i++;
      if (wrapper.includes(option)) i++;
    }
    if (words[i] === "--") i++;
  }
}
