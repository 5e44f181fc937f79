// The policy form: the policy's fields in sections (approval, time, recording and privacy, authentication,
// credential use), durations as a number and a unit, read into a CreatePolicyRequest body (also valid as an
// UpdatePolicyRequest) or filled from an existing policy. Nonsense is refused at the field it comes from, with
// the same cross-field rules the API applies (protocol/policy-rules.ts).
import {
  CreatePolicyRequest,
  minutesText,
  type Policy,
  type PolicyLimits,
  policyProblems,
} from "../../../protocol/index.ts";
import { type AdminData, fillSelect } from "./admin-data.ts";
import { checkField } from "./admin-ui.ts";
import { CommandRulesEditor } from "./command-rules-editor.ts";
import { FileTransferEditor } from "./file-transfer-editor.ts";
import { type Control, h } from "../shared/dom.ts";

type Body = ReturnType<typeof CreatePolicyRequest.parse>;
type DurationKey =
  | "maxCheckoutMinutes"
  | "maxSessionMinutes"
  | "pendingTtlMinutes"
  | "idleTimeoutMinutes"
  | "extensionMinutes"
  | "disconnectGraceMinutes";
type CountKey = "quorum" | "maxExtensions" | "moderatorsRequired";
type FlagKey = {
  [K in keyof Body]: Body[K] extends boolean ? K : never;
}[keyof Body];

const UNITS = [
  { value: "minutes", minutes: 1 },
  { value: "hours", minutes: 60 },
  { value: "days", minutes: 24 * 60 },
] as const;
type Unit = (typeof UNITS)[number]["value"];

type DurationSpec = {
  key: DurationKey;
  label: string;
  /** In minutes, as the API's schema says (protocol/api.ts). */
  max: number;
  hint: string;
  /** Empty means "none" (sent as null). */
  nullable?: boolean;
  /** The unit an empty box starts with. */
  unit: Unit;
};

const DURATIONS: Record<DurationKey, DurationSpec> = {
  pendingTtlMinutes: {
    key: "pendingTtlMinutes",
    label: "Request expires after",
    max: 30 * 24 * 60,
    unit: "hours",
    hint: "A request nobody decides within this time expires.",
  },
  maxSessionMinutes: {
    key: "maxSessionMinutes",
    label: "Longest session",
    max: 7 * 24 * 60,
    unit: "hours",
    hint: "A single session ends after this long, even inside a longer checkout. At most 7 days.",
  },
  maxCheckoutMinutes: {
    key: "maxCheckoutMinutes",
    label: "Longest checkout",
    max: 30 * 24 * 60,
    unit: "hours",
    hint: "The longest window a requester may ask for: at least the longest session, at most 30 days.",
  },
  extensionMinutes: {
    key: "extensionMinutes",
    label: "Extension",
    max: 24 * 60,
    nullable: true,
    unit: "minutes",
    hint: "The most one “More time” request adds to a live session; not longer than a session. Empty: no extensions.",
  },
  idleTimeoutMinutes: {
    key: "idleTimeoutMinutes",
    label: "Idle timeout",
    max: 24 * 60,
    nullable: true,
    unit: "minutes",
    hint: "End a session after this long without input. Empty: never.",
  },
  disconnectGraceMinutes: {
    key: "disconnectGraceMinutes",
    label: "Browser away limit",
    max: 24 * 60,
    nullable: true,
    unit: "minutes",
    hint: "End a session whose browser has been gone this long (lid closed, network lost). Empty: keep it until its deadline.",
  },
};

const COUNTS: Record<CountKey, { key: CountKey; label: string; min: number; max: number; hint: string }> = {
  quorum: {
    key: "quorum",
    label: "Approvals needed",
    min: 1,
    max: 20,
    hint: "How many different people must approve (k of the approver group). 1 = any one.",
  },
  moderatorsRequired: {
    key: "moderatorsRequired",
    label: "Moderators required",
    min: 0,
    max: 5,
    hint: "This many people of the moderator group must watch live before anything typed reaches the server. 0: not moderated.",
  },
  maxExtensions: {
    key: "maxExtensions",
    label: "Extensions per session",
    min: 0,
    max: 20,
    hint: "How many times one session may be extended.",
  },
};

const FLAGS: Record<FlagKey, { label: string; hint: string } | undefined> = {
  approvalRequired: {
    label: "Approval required",
    hint: "Requests wait for approvers; otherwise they are granted at once.",
  },
  exclusive: {
    label: "Exclusive",
    hint: "Only one person holds the credential at a time; overlapping requests are refused.",
  },
  resetOnCheckin: {
    label: "Rotate on check-in",
    hint: "When a checkout ends, the site's connector changes the password or key on the server; the credential is exclusive.",
  },
  recordingEnabled: {
    label: "Record sessions",
    hint: "The connector records each session for replay; if it cannot, the session goes on and an alert is raised. Off: nothing is recorded (the audit log still is).",
  },
  recordingRequired: {
    label: "Recording required",
    hint: "No recording, no session: a session the connector cannot record does not start, or ends. Implies recording.",
  },
  recordKeystrokes: {
    label: "Record keystrokes",
    hint: "Also record what the user types (may capture secrets typed at prompts).",
  },
  liveViewAllowed: { label: "Live view allowed", hint: "Admins may watch sessions as they happen." },
  notifyWatched: {
    label: "Tell users when watched",
    hint: "The user sees a notice while someone watches their session.",
  },
  masterPasswordRequired: {
    label: "Master password at connect",
    hint: "Ask for the user's master password before each connect.",
  },
  mfaRequired: { label: "Second factor at connect", hint: "Ask for MFA (TOTP or security key) before each connect." },
  sessionSharing: {
    label: "Users may share their sessions",
    hint: "The session's user may invite someone entitled to the same credential, or a helper, to type in the session with them. Each keystroke is attributed in the recording.",
  },
  extensionApprovalRequired: {
    label: "Extensions need approval",
    hint: "“More time” requests go to the approver group; otherwise they are granted at once.",
  },
  // Desktop (RDP) controls are set through the API; the form keeps what a policy has.
  rdpRequireNla: undefined,
  rdpRequireSandbox: undefined,
  rdpClipboardCopy: undefined,
  rdpClipboardPaste: undefined,
};

/** The policy's group pickers: the field each sets, its label and what its members do. */
const GROUPS = {
  approverGroupId: {
    label: "Approver group",
    hint: "Its members approve requests. Nobody approves their own request.",
  },
  moderatorGroupId: {
    label: "Moderator group",
    hint: "Its members moderate sessions under this policy. Nobody moderates their own session.",
  },
  helperGroupId: {
    label: "Helper group",
    hint: "With sharing on, its members may also be invited into sessions under this policy, though not entitled to the credential.",
  },
} as const;
type GroupKey = keyof typeof GROUPS;

type Item = { flag: FlagKey } | { duration: DurationKey } | { count: CountKey } | { group: GroupKey };
const SECTIONS: { legend: string; items: Item[] }[] = [
  {
    legend: "Approval",
    items: [
      { flag: "approvalRequired" },
      { group: "approverGroupId" },
      { count: "quorum" },
      { duration: "pendingTtlMinutes" },
    ],
  },
  {
    legend: "Time",
    items: [
      { duration: "maxSessionMinutes" },
      { duration: "maxCheckoutMinutes" },
      { duration: "extensionMinutes" },
      { count: "maxExtensions" },
      { flag: "extensionApprovalRequired" },
      { duration: "idleTimeoutMinutes" },
      { duration: "disconnectGraceMinutes" },
    ],
  },
  {
    legend: "Recording and privacy",
    items: [
      { flag: "recordingEnabled" },
      { flag: "recordingRequired" },
      { flag: "recordKeystrokes" },
      { flag: "liveViewAllowed" },
      { flag: "notifyWatched" },
      { count: "moderatorsRequired" },
      { group: "moderatorGroupId" },
      { flag: "sessionSharing" },
      { group: "helperGroupId" },
    ],
  },
  { legend: "Authentication", items: [{ flag: "mfaRequired" }, { flag: "masterPasswordRequired" }] },
  { legend: "Credential use", items: [{ flag: "exclusive" }, { flag: "resetOnCheckin" }] },
];

/** A new policy starts recorded: recording is what a PSM is for, and turning it off is a choice made on purpose. */
const DEFAULTS: Body = CreatePolicyRequest.parse({ name: "defaults", recordingRequired: true });

/** The largest unit that divides `minutes` exactly: 480 → 8 hours, 90 → 90 minutes, 2880 → 2 days. */
export function durationParts(minutes: number): { amount: number; unit: Unit } {
  const unit = [...UNITS].reverse().find((u) => minutes % u.minutes === 0) ?? UNITS[0];
  return { amount: minutes / unit.minutes, unit: unit.value };
}

/** A field (label, control, the message when it is wrong, help) whose message is wired to the control. */
class FieldBox {
  readonly error: HTMLParagraphElement;
  readonly element: HTMLDivElement;
  private readonly hintId: string;

  constructor(
    readonly control: Control,
    label: HTMLElement,
    hint: string,
    body: HTMLElement = control,
    className = "field",
  ) {
    this.hintId = `${control.id}-hint`;
    this.error = h("p", { id: `${control.id}-error`, class: "field-error", hidden: true });
    control.setAttribute("aria-describedby", this.hintId);
    this.element = h(
      "div",
      { class: className },
      label,
      body,
      this.error,
      h("small", { id: this.hintId, class: "hint" }, hint),
    );
  }

  say(message: string | null): void {
    this.error.textContent = message ?? "";
    this.error.hidden = !message;
    if (message) {
      this.control.setAttribute("aria-invalid", "true");
      this.control.setAttribute("aria-describedby", `${this.error.id} ${this.hintId}`);
    } else {
      this.control.removeAttribute("aria-invalid");
      this.control.setAttribute("aria-describedby", this.hintId);
    }
  }
}

/** A duration: a number and a unit (minutes, hours, days), read back in whole minutes. */
class DurationInput {
  readonly amount: HTMLInputElement;
  readonly unit: HTMLSelectElement;
  readonly box: FieldBox;

  constructor(readonly spec: DurationSpec) {
    const id = `policy-${spec.key}`;
    this.amount = h("input", { id, name: spec.key, type: "number", min: 0, step: "any", inputmode: "decimal" });
    this.unit = h(
      "select",
      { id: `${id}-unit`, name: `${spec.key}-unit`, "aria-label": `${spec.label}: unit` },
      ...UNITS.map((u) => h("option", { value: u.value }, u.value)),
    );
    this.box = new FieldBox(
      this.amount,
      h("label", { for: id }, spec.label),
      spec.hint,
      h("div", { class: "duration" }, this.amount, this.unit),
    );
  }

  set(minutes: number | null): void {
    if (minutes === null) {
      this.amount.value = "";
      this.unit.value = this.spec.unit;
      return;
    }
    const { amount, unit } = durationParts(minutes);
    this.amount.value = String(amount);
    this.unit.value = unit;
  }

  /** Whole minutes, null for an empty nullable box, or what is wrong. */
  read(): { ok: true; minutes: number | null } | { ok: false; message: string } {
    const text = this.amount.value.trim();
    if (text === "" && this.amount.validity.valid) {
      return this.spec.nullable ? { ok: true, minutes: null } : { ok: false, message: "Enter how long." };
    }
    const amount = Number(text);
    if (!this.amount.validity.valid || !Number.isFinite(amount) || amount <= 0)
      return { ok: false, message: `Enter a duration above 0${this.spec.nullable ? ", or leave it empty" : ""}.` };
    const factor = UNITS.find((u) => u.value === this.unit.value)?.minutes ?? 1;
    const minutes = Math.round(amount * factor * 1000) / 1000;
    if (!Number.isInteger(minutes)) return { ok: false, message: "Enter whole minutes (e.g. 1.5 hours, not 1.01)." };
    if (minutes > this.spec.max) return { ok: false, message: `At most ${minutesText(this.spec.max)}.` };
    return { ok: true, minutes };
  }
}

export class PolicyForm {
  readonly name = h("input", { id: "policy-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  readonly groups = new Map(
    (Object.keys(GROUPS) as GroupKey[]).map((key) => [key, h("select", { id: `policy-${key}`, name: key })]),
  );
  get approverGroup(): HTMLSelectElement {
    return this.groups.get("approverGroupId")!;
  }
  private readonly durations = new Map<DurationKey, DurationInput>();
  private readonly counts = new Map<CountKey, HTMLInputElement>();
  private readonly flags = new Map<FlagKey, HTMLInputElement>();
  /** Each control's field, to say what is wrong there. */
  private readonly boxes = new Map<Control, FieldBox>();
  /** The fields the form shows: the name, then one fieldset per section. */
  readonly fields: HTMLElement[];
  /** The policy's command rules (SSH command control). */
  private readonly commandRules = new CommandRulesEditor();
  /** The policy's file transfer (SFTP on SSH sessions). */
  private readonly fileTransfer = new FileTransferEditor();
  /** Values the form has no control for (desktop controls), kept as the policy has them. */
  private kept: Kept;

  constructor(private readonly data: AdminData) {
    const nameBox = this.box(
      new FieldBox(
        this.name,
        h("label", { for: this.name.id }, "Name"),
        "Shown when attaching the policy to a zone or a credential.",
      ),
    );
    const sections = SECTIONS.map(({ legend, items }) =>
      h(
        "fieldset",
        { class: "wide policy-section" },
        h("legend", {}, legend),
        ...items.map((item) => this.itemElement(item)),
      ),
    );
    this.fields = [nameBox.element, ...sections, this.commandRules.element, this.fileTransfer.element];
    this.kept = pickKept(DEFAULTS);
    this.flags.get("approvalRequired")!.addEventListener("change", () => this.syncApproval());
    this.fill(null);
  }

  private itemElement(item: Item): HTMLElement {
    if ("group" in item) {
      const select = this.groups.get(item.group)!;
      const spec = GROUPS[item.group];
      return this.box(new FieldBox(select, h("label", { for: select.id }, spec.label), spec.hint)).element;
    }
    if ("flag" in item) {
      const spec = FLAGS[item.flag]!;
      const input = h("input", { id: `policy-${item.flag}`, name: item.flag, type: "checkbox" });
      this.flags.set(item.flag, input);
      return checkField(input, spec.label, spec.hint);
    }
    if ("count" in item) {
      const spec = COUNTS[item.count];
      const input = h("input", {
        id: `policy-${spec.key}`,
        name: spec.key,
        type: "number",
        min: spec.min,
        max: spec.max,
        step: 1,
        inputmode: "numeric",
      });
      this.counts.set(spec.key, input);
      return this.box(new FieldBox(input, h("label", { for: input.id }, spec.label), spec.hint)).element;
    }
    const duration = new DurationInput(DURATIONS[item.duration]);
    this.durations.set(item.duration, duration);
    return this.box(duration.box).element;
  }

  private box(box: FieldBox): FieldBox {
    this.boxes.set(box.control, box);
    return box;
  }

  /** Refreshes the group picker (after the groups list reloads). */
  refreshGroups(): void {
    for (const select of this.groups.values()) {
      const chosen = select.value;
      fillSelect(
        select,
        this.data.groups.map((g) => ({ id: g.id, label: `${g.name} (${g.members.length})` })),
        { none: "No group" },
      );
      select.value = chosen;
    }
  }

  /** Shows a policy's values, or the defaults for a new one. */
  fill(policy: Policy | null): void {
    const values = policy ?? { ...DEFAULTS, name: "" };
    this.clearErrors();
    this.name.value = values.name;
    this.refreshGroups();
    for (const [key, select] of this.groups) select.value = values[key] ?? "";
    for (const [key, input] of this.durations) input.set(values[key]);
    for (const [key, input] of this.counts) input.value = String(values[key]);
    for (const [key, input] of this.flags) input.checked = values[key];
    this.commandRules.set(values.commandRules ?? []);
    this.fileTransfer.set(values.fileTransfer);
    this.kept = pickKept(values);
    this.syncApproval();
  }

  /** The request body, or the first control to fix (its message is shown at it; others' at theirs). */
  read(): { ok: true; body: Body } | { ok: false; control: Control; message: string } {
    this.clearErrors();
    const wrong: { control: Control; message: string }[] = [];
    const raw: Record<string, unknown> = { ...this.kept };
    for (const [key, select] of this.groups) raw[key] = select.value || null;
    const name = this.name.value.trim();
    if (!name) wrong.push({ control: this.name, message: "Enter a name for the policy." });
    raw.name = name;
    for (const [key, input] of this.durations) {
      const read = input.read();
      if (read.ok) raw[key] = read.minutes;
      else wrong.push({ control: input.amount, message: read.message });
    }
    for (const [key, input] of this.counts) {
      const spec = COUNTS[key];
      const value = Number(input.value);
      if (input.value.trim() !== "" && Number.isInteger(value) && value >= spec.min && value <= spec.max)
        raw[key] = value;
      // Approvals needed means nothing with approval off: an empty or odd box there is not the user's problem.
      else if (input.disabled) raw[key] = DEFAULTS[key];
      else {
        raw[key] = value;
        if (!(key === "quorum" && value === 0))
          wrong.push({ control: input, message: `Enter a whole number from ${spec.min} to ${spec.max}.` });
      }
    }
    for (const [key, input] of this.flags) raw[key] = input.checked;
    const rules = this.commandRules.read();
    if (rules.ok) raw.commandRules = rules.rules;
    else wrong.push({ control: rules.control, message: rules.message });
    const transfer = this.fileTransfer.read();
    if (transfer.ok) raw.fileTransfer = transfer.policy;
    else wrong.push({ control: transfer.control, message: transfer.message });
    if (raw.approvalRequired && !raw.approverGroupId)
      wrong.push({ control: this.approverGroup, message: "Choose the approver group, or untick “Approval required”." });
    // The rules the API applies too, each at its field; only where the field itself was readable.
    const unread = new Set(wrong.map((w) => w.control));
    for (const problem of policyProblems(raw as Partial<PolicyLimits>)) {
      const control = this.controlOf(problem.field);
      if (control && !unread.has(control)) wrong.push({ control, message: problem.message });
    }
    if (wrong.length === 0) {
      const parsed = CreatePolicyRequest.safeParse(raw);
      if (parsed.success) return { ok: true, body: parsed.data };
      const field = String(parsed.error.issues[0]?.path[0] ?? "name");
      wrong.push({
        control: this.controlOf(field) ?? this.name,
        message: parsed.error.issues[0]?.message ?? "Check this field.",
      });
    }
    for (const w of wrong) if (!this.boxes.get(w.control)?.error.textContent) this.boxes.get(w.control)?.say(w.message);
    const first = this.inFormOrder(wrong)[0]!;
    return { ok: false, control: first.control, message: first.message };
  }

  private controlOf(field: string): Control | undefined {
    if (field === "name") return this.name;
    if (field in GROUPS) return this.groups.get(field as GroupKey);
    if (field === "commandRules") return this.commandRules.firstControl;
    if (field === "fileTransfer") return this.fileTransfer.firstControl;
    return (
      this.durations.get(field as DurationKey)?.amount ??
      this.counts.get(field as CountKey) ??
      this.flags.get(field as FlagKey)
    );
  }

  /** The wrong fields in the order they appear on the page (focus goes to the first). */
  private inFormOrder<T extends { control: Control }>(wrong: T[]): T[] {
    return [...wrong].sort((a, b) =>
      a.control === b.control
        ? 0
        : a.control.compareDocumentPosition(b.control) & Node.DOCUMENT_POSITION_FOLLOWING
          ? -1
          : 1,
    );
  }

  private clearErrors(): void {
    for (const box of this.boxes.values()) box.say(null);
  }

  /** Approver group and quorum mean nothing without approval: dim them. */
  private syncApproval(): void {
    const on = this.flags.get("approvalRequired")!.checked;
    this.approverGroup.disabled = !on;
    this.counts.get("quorum")!.disabled = !on;
  }
}

type Kept = Pick<
  Body,
  "rdpRequireNla" | "rdpRequireSandbox" | "rdpClipboardCopy" | "rdpClipboardPaste" | "rdpClipboardMaxBytes"
>;

function pickKept(p: Body | Policy): Kept {
  return {
    rdpRequireNla: p.rdpRequireNla,
    rdpRequireSandbox: p.rdpRequireSandbox,
    rdpClipboardCopy: p.rdpClipboardCopy,
    rdpClipboardPaste: p.rdpClipboardPaste,
    rdpClipboardMaxBytes: p.rdpClipboardMaxBytes,
  };
}
