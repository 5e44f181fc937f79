// The policy form: every policy field with a line of help, read into a CreatePolicyRequest body
// (also valid as an UpdatePolicyRequest) or filled from an existing policy for editing.
import { CreatePolicyRequest, type Policy } from "../../protocol/index.ts";
import { type AdminData, fillSelect } from "./admin-data.ts";
import { checkField } from "./admin-ui.ts";
import { type Control, field, h } from "./dom.ts";

type Body = ReturnType<typeof CreatePolicyRequest.parse>;
type NumberKey =
  | "maxCheckoutMinutes"
  | "maxSessionMinutes"
  | "quorum"
  | "pendingTtlMinutes"
  | "idleTimeoutMinutes"
  | "extensionMinutes"
  | "maxExtensions"
  | "disconnectGraceMinutes";

/** Fields where an empty box means "none" (sent as null). */
const NULLABLE = new Set<NumberKey>(["idleTimeoutMinutes", "extensionMinutes", "disconnectGraceMinutes"]);
type FlagKey = {
  [K in keyof Body]: Body[K] extends boolean ? K : never;
}[keyof Body];

const NUMBERS: { key: NumberKey; label: string; max: number; hint: string; min?: number }[] = [
  {
    key: "maxCheckoutMinutes",
    label: "Longest checkout (minutes)",
    max: 43_200,
    hint: "The longest window a requester may ask for. 480 = 8 h; at most 43200 (30 days).",
  },
  {
    key: "maxSessionMinutes",
    label: "Longest session (minutes)",
    max: 10_080,
    hint: "A single session ends after this long, even inside a longer checkout.",
  },
  {
    key: "quorum",
    label: "Approvals needed",
    max: 20,
    hint: "How many different people must approve (k of the approver group). 1 = any one.",
  },
  {
    key: "pendingTtlMinutes",
    label: "Request expires after (minutes)",
    max: 43_200,
    hint: "A request nobody decides within this time expires. 1440 = one day.",
  },
  {
    key: "idleTimeoutMinutes",
    label: "Idle timeout (minutes)",
    max: 1440,
    hint: "End a session after this long without input. Empty: never.",
  },
  {
    key: "extensionMinutes",
    label: "Extension (minutes)",
    max: 1440,
    hint: "The most one “More time” request adds to a live session. Empty: no extensions.",
  },
  {
    key: "maxExtensions",
    label: "Extensions per session",
    min: 0,
    max: 20,
    hint: "How many times one session may be extended.",
  },
  {
    key: "disconnectGraceMinutes",
    label: "Browser away limit (minutes)",
    max: 1440,
    hint: "End a session whose browser has been gone this long (lid closed, network lost). Empty: keep it until its deadline.",
  },
];

const FLAGS: { key: FlagKey; label: string; hint: string }[] = [
  {
    key: "approvalRequired",
    label: "Approval required",
    hint: "Requests wait for approvers; otherwise they are granted at once.",
  },
  {
    key: "exclusive",
    label: "Exclusive",
    hint: "Only one person holds the credential at a time; overlapping requests are refused.",
  },
  {
    key: "resetOnCheckin",
    label: "Rotate on check-in",
    hint: "When a checkout ends, the site's connector changes the password or key on the server; the credential is exclusive.",
  },
  {
    key: "recordingRequired",
    label: "Recording required",
    hint: "Sessions are recorded for replay; no recording, no session.",
  },
  {
    key: "recordKeystrokes",
    label: "Record keystrokes",
    hint: "Also record what the user types (may capture secrets typed at prompts).",
  },
  { key: "liveViewAllowed", label: "Live view allowed", hint: "Admins may watch sessions as they happen." },
  {
    key: "notifyWatched",
    label: "Tell users when watched",
    hint: "The user sees a notice while someone watches their session.",
  },
  {
    key: "masterPasswordRequired",
    label: "Master password",
    hint: "Ask for the user's master password before each connect.",
  },
  { key: "mfaRequired", label: "Second factor", hint: "Ask for MFA (TOTP or security key) before each connect." },
  {
    key: "extensionApprovalRequired",
    label: "Extensions need approval",
    hint: "“More time” requests go to the approver group; otherwise they are granted at once.",
  },
];

/** A new policy starts recorded: recording is what a PSM is for, and turning it off is a choice made on purpose. */
const DEFAULTS: Body = CreatePolicyRequest.parse({ name: "defaults", recordingRequired: true });

export class PolicyForm {
  readonly name = h("input", { id: "policy-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  readonly approverGroup = h("select", { id: "policy-approverGroupId", name: "approverGroupId" });
  private readonly numbers = new Map<NumberKey, HTMLInputElement>();
  private readonly flags = new Map<FlagKey, HTMLInputElement>();
  readonly fields: HTMLElement[];

  constructor(private readonly data: AdminData) {
    const numberFields = NUMBERS.map(({ key, label, max, hint, min = 1 }) => {
      const input = h("input", { id: `policy-${key}`, name: key, type: "number", min, max, inputmode: "numeric" });
      this.numbers.set(key, input);
      return field(label, input, hint);
    });
    const flagFields = FLAGS.map(({ key, label, hint }) => {
      const input = h("input", { id: `policy-${key}`, name: key, type: "checkbox" });
      this.flags.set(key, input);
      return checkField(input, label, hint);
    });
    this.fields = [
      field("Name", this.name, "Shown when attaching the policy to a zone or a credential."),
      ...numberFields.slice(0, 2),
      flagFields[0]!,
      field("Approver group", this.approverGroup, "Its members approve requests. Nobody approves their own request."),
      ...numberFields.slice(2),
      ...flagFields.slice(1),
    ];
    this.flags.get("approvalRequired")!.addEventListener("change", () => this.syncApproval());
    this.fill(null);
  }

  /** Refreshes the group picker (after the groups list reloads). */
  refreshGroups(): void {
    fillSelect(
      this.approverGroup,
      this.data.groups.map((g) => ({ id: g.id, label: `${g.name} (${g.members.length})` })),
      { none: "No group" },
    );
  }

  /** Shows a policy's values, or the defaults for a new one. */
  fill(policy: Policy | null): void {
    const values = policy ?? { ...DEFAULTS, name: "" };
    this.name.value = values.name;
    this.refreshGroups();
    this.approverGroup.value = values.approverGroupId ?? "";
    for (const [key, input] of this.numbers) input.value = values[key] === null ? "" : String(values[key]);
    for (const [key, input] of this.flags) input.checked = values[key];
    this.syncApproval();
  }

  /** The request body, or the control to fix and what to say. */
  read(): { ok: true; body: Body } | { ok: false; control: Control; message: string } {
    for (const control of this.controls()) control.removeAttribute("aria-invalid");
    const raw: Record<string, unknown> = { name: this.name.value, approverGroupId: this.approverGroup.value || null };
    for (const [key, input] of this.numbers) {
      raw[key] = input.value === "" ? (NULLABLE.has(key) ? null : undefined) : Number(input.value);
    }
    for (const [key, input] of this.flags) raw[key] = input.checked;
    if (raw.approvalRequired && !raw.approverGroupId) {
      return {
        ok: false,
        control: this.approverGroup,
        message: "Choose the approver group, or untick “Approval required”.",
      };
    }
    const parsed = CreatePolicyRequest.safeParse(raw);
    if (parsed.success) return { ok: true, body: parsed.data };
    const key = String(parsed.error.issues[0]?.path[0] ?? "name") as NumberKey | "name";
    const control = key === "name" ? this.name : (this.numbers.get(key) ?? this.name);
    control.setAttribute("aria-invalid", "true");
    const spec = NUMBERS.find((n) => n.key === key);
    const message = spec
      ? `${spec.label}: enter a whole number from ${spec.min ?? 1} to ${spec.max}.`
      : "Name: enter up to 128 characters.";
    return { ok: false, control, message };
  }

  private controls(): Control[] {
    return [this.name, this.approverGroup, ...this.numbers.values(), ...this.flags.values()];
  }

  /** Approver group and quorum mean nothing without approval: dim them. */
  private syncApproval(): void {
    const on = this.flags.get("approvalRequired")!.checked;
    this.approverGroup.disabled = !on;
    this.numbers.get("quorum")!.disabled = !on;
  }
}
