// The policy form's command rules (docs/governance.md): an ordered list of rules, each a command-name list or a
// regular expression, an action and the message the user reads when a line is refused. The first rule that
// matches decides, so rules can be moved up. Checked here with the schema the API uses (protocol/command-rules.ts).
import {
  type CommandRule,
  CommandRule as CommandRuleSchema,
  MAX_COMMAND_RULES,
  REVIEW_SECONDS,
} from "../../../protocol/index.ts";
import { rowButton } from "./admin-ui.ts";
import { type Control, h, replace } from "../shared/dom.ts";

const ACTIONS = [
  { value: "deny", label: "Deny" },
  { value: "review", label: "Review" },
  { value: "alert", label: "Alert" },
  { value: "allow", label: "Allow" },
] as const;

type Row = {
  element: HTMLDivElement;
  kind: HTMLSelectElement;
  pattern: HTMLInputElement;
  action: HTMLSelectElement;
  message: HTMLInputElement;
  /** How long a reviewer has (review only). */
  seconds: HTMLInputElement;
  error: HTMLParagraphElement;
};

export class CommandRulesEditor {
  readonly element: HTMLFieldSetElement;
  private readonly list = h("div", { class: "command-rules" });
  private readonly add: HTMLButtonElement;
  private rows: Row[] = [];
  private nextId = 0;

  constructor() {
    this.add = h(
      "button",
      { type: "button", class: "button-quiet small-button", id: "policy-command-rule-add" },
      "Add rule",
    );
    this.add.addEventListener("click", () => {
      this.addRow({ kind: "commands", names: [""], action: "deny", message: "" }, true);
    });
    this.element = h(
      "fieldset",
      { class: "wide policy-section" },
      h("legend", {}, "Command control (SSH)"),
      h(
        "small",
        { class: "hint", id: "policy-command-rules-hint" },
        "Checked when the user presses Enter in a shell; the first rule that matches decides. Command names match each command of a chain (;, &&, ||, |), also after sudo or env; a name may include its first arguments (systemctl stop). Deny clears the line and shows your message; review holds it until someone of the approver or moderator group allows it (no answer in time refuses it); alert lets it run and audits it. A guard-rail, not a sandbox: scripts and aliases get past it.",
      ),
      this.list,
      this.add,
    );
  }

  set(rules: readonly CommandRule[]): void {
    this.rows = [];
    replace(this.list);
    for (const rule of rules) this.addRow(rule, false);
    this.sync();
  }

  /** The rules, or the first control to fix (its message is shown at its row). */
  read(): { ok: true; rules: CommandRule[] } | { ok: false; control: Control; message: string } {
    const rules: CommandRule[] = [];
    let first: { control: Control; message: string } | null = null;
    for (const row of this.rows) {
      row.error.hidden = true;
      row.pattern.removeAttribute("aria-invalid");
      const text = row.pattern.value.trim();
      const base = {
        action: row.action.value,
        message: row.message.value.trim(),
        ...(row.action.value === "review" ? { reviewSeconds: Number(row.seconds.value) } : {}),
      };
      const raw =
        row.kind.value === "regex"
          ? { kind: "regex", pattern: text, ...base }
          : {
              kind: "commands",
              names: text
                .split(",")
                .map((n) => n.trim().replace(/\s+/g, " "))
                .filter(Boolean),
              ...base,
            };
      const parsed = CommandRuleSchema.safeParse(raw);
      if (parsed.success) {
        rules.push(parsed.data);
        continue;
      }
      const badSeconds = parsed.error.issues.some((issue) => issue.path[0] === "reviewSeconds");
      const message = badSeconds
        ? `A reviewer's time is ${REVIEW_SECONDS.min} to ${REVIEW_SECONDS.max} seconds.`
        : text
          ? row.kind.value === "regex"
            ? `This pattern cannot be used: ${parsed.error.issues[0]?.message ?? "check it"}.`
            : "Enter command names separated by commas (letters, digits, - . _ /; no quotes or ; | &)."
          : "Enter what the rule matches, or remove the rule.";
      row.error.textContent = message;
      row.error.hidden = false;
      row.pattern.setAttribute("aria-invalid", "true");
      first ??= { control: row.pattern, message };
    }
    return first ? { ok: false, ...first } : { ok: true, rules };
  }

  /** The control a problem with the rules as a whole is shown at. */
  get firstControl(): Control | undefined {
    return this.rows[0]?.pattern;
  }

  private addRow(rule: CommandRule, focus: boolean): void {
    const n = ++this.nextId;
    const id = `policy-command-rule-${n}`;
    const kind = h(
      "select",
      { id: `${id}-kind`, name: `${id}-kind` },
      h("option", { value: "commands" }, "Command names"),
      h("option", { value: "regex" }, "Regular expression"),
    );
    kind.value = rule.kind;
    const pattern = h("input", {
      id: `${id}-pattern`,
      name: `${id}-pattern`,
      autocomplete: "off",
      spellcheck: "false",
      maxlength: 2000,
      value: rule.kind === "regex" ? rule.pattern : rule.names.join(", "),
    });
    const action = h(
      "select",
      { id: `${id}-action`, name: `${id}-action` },
      ...ACTIONS.map((a) => h("option", { value: a.value }, a.label)),
    );
    action.value = rule.action;
    const seconds = h("input", {
      id: `${id}-seconds`,
      name: `${id}-seconds`,
      type: "number",
      min: REVIEW_SECONDS.min,
      max: REVIEW_SECONDS.max,
      value: String(rule.reviewSeconds ?? REVIEW_SECONDS.default),
    });
    const reviewing = () => {
      seconds.disabled = action.value !== "review";
    };
    action.addEventListener("change", reviewing);
    reviewing();
    const message = h("input", {
      id: `${id}-message`,
      name: `${id}-message`,
      maxlength: 200,
      autocomplete: "off",
      value: rule.message,
    });
    const error = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
    pattern.setAttribute("aria-describedby", `${id}-error policy-command-rules-hint`);
    const row: Row = { element: h("div", { class: "command-rule" }), kind, pattern, action, message, seconds, error };
    const label = (control: Control, text: string) => h("label", { for: control.id }, text);
    const place = () => `rule ${this.rows.indexOf(row) + 1}`;
    replace(
      row.element,
      h("div", { class: "field" }, label(kind, "Match"), kind),
      h("div", { class: "field command-rule-pattern" }, label(pattern, "Commands or pattern"), pattern, error),
      h("div", { class: "field" }, label(action, "Action"), action),
      h("div", { class: "field command-rule-seconds" }, label(seconds, "Reviewer's time (s)"), seconds),
      h("div", { class: "field command-rule-message" }, label(message, "Message to the user"), message),
      h(
        "div",
        { class: "command-rule-buttons" },
        rowButton("Move up", "", place(), () => this.move(row, -1)),
        rowButton("Remove", "", place(), () => this.remove(row)),
      ),
    );
    this.rows.push(row);
    this.list.append(row.element);
    this.sync();
    if (focus) pattern.focus();
  }

  private move(row: Row, by: number): void {
    const at = this.rows.indexOf(row);
    const to = at + by;
    if (to < 0 || to >= this.rows.length) return;
    this.rows.splice(at, 1);
    this.rows.splice(to, 0, row);
    replace(this.list, ...this.rows.map((r) => r.element));
    this.sync();
    row.pattern.focus();
  }

  private remove(row: Row): void {
    this.rows = this.rows.filter((r) => r !== row);
    row.element.remove();
    this.sync();
    this.add.focus();
  }

  /** Row buttons name their row by position; the add button stops at the bound. */
  private sync(): void {
    this.rows.forEach((row, i) => {
      const buttons = row.element.querySelectorAll<HTMLButtonElement>(".command-rule-buttons button");
      buttons[0]?.setAttribute("aria-label", `Move up: rule ${i + 1}`);
      if (buttons[0]) buttons[0].disabled = i === 0;
      buttons[1]?.setAttribute("aria-label", `Remove: rule ${i + 1}`);
    });
    this.add.disabled = this.rows.length >= MAX_COMMAND_RULES;
  }
}
