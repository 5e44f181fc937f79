// The policy form's file transfer (SFTP on SSH sessions, docs/governance.md): each direction on or off, the largest
// file in MiB, and the allowed and denied folders one per line. Checked with the schema the API uses
// (protocol/file-transfer.ts), so a wrong root is named at its box before anything is sent.
import {
  DEFAULT_FILE_TRANSFER_POLICY,
  type FileTransferPolicy,
  FileTransferPolicy as FileTransferPolicySchema,
  MAX_FILE_TRANSFER_BYTES,
} from "../../../protocol/index.ts";
import { checkField } from "./admin-ui.ts";
import { type Control, h } from "../shared/dom.ts";

const MIB = 1024 * 1024;

export class FileTransferEditor {
  readonly element: HTMLFieldSetElement;
  private readonly upload = h("input", { id: "policy-ft-upload", name: "ftUpload", type: "checkbox" });
  private readonly download = h("input", { id: "policy-ft-download", name: "ftDownload", type: "checkbox" });
  private readonly maxMib = h("input", {
    id: "policy-ft-max",
    name: "ftMaxMib",
    type: "number",
    min: 0,
    max: MAX_FILE_TRANSFER_BYTES / MIB,
    step: 1,
    inputmode: "numeric",
  });
  private readonly allow = h("textarea", { id: "policy-ft-allow", name: "ftAllow", rows: 2, spellcheck: false });
  private readonly deny = h("textarea", { id: "policy-ft-deny", name: "ftDeny", rows: 2, spellcheck: false });
  private readonly error = h("p", { id: "policy-ft-error", class: "field-error", hidden: true, role: "alert" });
  /** The first control, for focus when the section is wrong. */
  readonly firstControl: Control = this.upload;

  constructor() {
    const box = (control: HTMLInputElement | HTMLTextAreaElement, label: string, hint: string) => {
      control.setAttribute("aria-describedby", `${control.id}-hint`);
      return h(
        "div",
        { class: "field" },
        h("label", { for: control.id }, label),
        control,
        h("small", { id: `${control.id}-hint`, class: "hint" }, hint),
      );
    };
    this.element = h(
      "fieldset",
      { class: "wide policy-section" },
      h("legend", {}, "File transfer (SSH)"),
      checkField(this.upload, "Upload allowed", "The user may upload files to the server from the terminal page."),
      checkField(this.download, "Download allowed", "The user may download files from the server."),
      box(this.maxMib, "Largest file (MiB)", "Counted on the bytes as they pass, in either direction."),
      box(
        this.allow,
        "Allowed folders",
        "One absolute folder per line (/srv/data); nothing listed allows nothing, / allows all the account can reach.",
      ),
      box(this.deny, "Denied folders", "One per line; refused even inside an allowed folder."),
      this.error,
    );
  }

  set(policy: FileTransferPolicy | undefined): void {
    const p = policy ?? DEFAULT_FILE_TRANSFER_POLICY;
    this.upload.checked = p.upload;
    this.download.checked = p.download;
    this.maxMib.value = String(Math.floor(p.maxBytes / MIB));
    this.allow.value = p.allowPaths.join("\n");
    this.deny.value = p.denyPaths.join("\n");
    this.say(null);
  }

  /** The rules, or the control to fix (its message is shown below the section). */
  read(): { ok: true; policy: FileTransferPolicy } | { ok: false; control: Control; message: string } {
    this.say(null);
    const lines = (box: HTMLTextAreaElement) =>
      box.value
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
    const mib = Number(this.maxMib.value);
    if (this.maxMib.value.trim() === "" || !Number.isInteger(mib) || mib < 0 || mib * MIB > MAX_FILE_TRANSFER_BYTES)
      return this.fail(this.maxMib, `Enter whole MiB from 0 to ${MAX_FILE_TRANSFER_BYTES / MIB}.`);
    const parsed = FileTransferPolicySchema.safeParse({
      upload: this.upload.checked,
      download: this.download.checked,
      maxBytes: mib * MIB,
      allowPaths: lines(this.allow),
      denyPaths: lines(this.deny),
    });
    if (parsed.success) return { ok: true, policy: parsed.data };
    const issue = parsed.error.issues[0];
    const control = issue?.path[0] === "denyPaths" ? this.deny : this.allow;
    const line = typeof issue?.path[1] === "number" ? `Line ${issue.path[1] + 1}: ` : "";
    return this.fail(control, `${line}${issue?.message ?? "Check this field."}`);
  }

  private fail(control: HTMLInputElement | HTMLTextAreaElement, message: string) {
    this.say(message, control);
    return { ok: false as const, control, message };
  }

  private say(message: string | null, control?: HTMLInputElement | HTMLTextAreaElement): void {
    this.error.textContent = message ?? "";
    this.error.hidden = !message;
    for (const c of [this.maxMib, this.allow, this.deny]) c.removeAttribute("aria-invalid");
    if (control) control.setAttribute("aria-invalid", "true");
  }
}
