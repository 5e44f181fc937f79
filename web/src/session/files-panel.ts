// The terminal page's Files panel (docs/governance.md, file transfer over SFTP): browse a folder the policy allows,
// upload a picked or dropped file into it, download a file (its chunks assembled into a Blob and saved), with
// progress, cancel, and the refusal's reason. Bytes move only within the credit window (FILE_WINDOW): an upload
// sends no more than the connector has credited, a download credits each chunk as it is taken.
import {
  encodeFileCredit,
  encodeFileData,
  FILE_WINDOW,
  type ListingEntry,
  MAX_FILE_PAYLOAD,
} from "../../../protocol/index.ts";
import { h, replace } from "../shared/dom.ts";
import "./files.css";
import type { FileAnswer, FileFrame, FileRequest } from "./session-socket.ts";

/** What the panel needs of the session's socket. */
export interface FileChannel {
  sendFile(message: FileRequest): boolean;
  sendFileFrame(frame: Uint8Array): boolean;
}

type Transfer =
  | { id: number; direction: "upload"; name: string; file: File; sent: number; credit: number; ready: boolean }
  | { id: number; direction: "download"; name: string; size: number; got: number; parts: Uint8Array[] };

const join = (folder: string, name: string) => (folder.endsWith("/") ? folder + name : `${folder}/${name}`);
const parent = (folder: string) => folder.replace(/\/[^/]+\/?$/, "") || "/";
const sizeText = (bytes: number) =>
  bytes >= 1024 ** 2
    ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
    : bytes >= 1024
      ? `${Math.ceil(bytes / 1024)} KiB`
      : `${bytes} B`;

export class FilesPanel {
  /** The session bar's button; hidden until the room says a direction is allowed. */
  readonly button = h(
    "button",
    {
      type: "button",
      id: "files-button",
      class: "small-button",
      hidden: true,
      "aria-expanded": "false",
      "aria-controls": "files-panel",
    },
    "Files",
  );
  readonly element: HTMLElement;
  private readonly path = h("input", { id: "files-path", type: "text", spellcheck: false, autocomplete: "off" });
  private readonly list = h("ul", { id: "files-list", class: "files-list", "aria-label": "Folder contents" });
  private readonly picker = h("input", { id: "files-upload", type: "file" });
  private readonly uploadBox: HTMLElement;
  private readonly progress = h("progress", { id: "files-progress", max: 1, value: 0, hidden: true });
  private readonly cancel = h(
    "button",
    { type: "button", id: "files-cancel", class: "small-button", hidden: true },
    "Cancel",
  );
  private readonly status = h("p", { id: "files-status", role: "status", "aria-live": "polite" });
  private folder = "/";
  private nextId = 1;
  private listing: number | null = null;
  /** A folder asked for while a listing was under way (the room lists one at a time): listed next. */
  private queued: string | null = null;
  private transfer: Transfer | null = null;
  private allowed = { upload: false, download: false };

  constructor(private readonly channel: FileChannel) {
    const open = h("button", { type: "button", class: "small-button", id: "files-open" }, "Open");
    const up = h("button", { type: "button", class: "small-button", id: "files-up" }, "Up");
    const form = h("form", { class: "files-path" }, h("label", { for: this.path.id }, "Folder"), this.path, open, up);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.browse(this.path.value.trim());
    });
    open.addEventListener("click", () => this.browse(this.path.value.trim()));
    up.addEventListener("click", () => this.browse(parent(this.folder)));
    this.uploadBox = h(
      "div",
      { class: "files-upload" },
      h("label", { for: this.picker.id }, "Upload a file to this folder (or drop it here)"),
      this.picker,
    );
    this.picker.addEventListener("change", () => {
      const file = this.picker.files?.[0];
      if (file) this.upload(file);
      this.picker.value = "";
    });
    this.cancel.addEventListener("click", () => {
      if (this.transfer) this.channel.sendFile({ type: "ft_cancel", id: this.transfer.id });
    });
    this.element = h(
      "section",
      { id: "files-panel", class: "session-strip files-panel", "aria-label": "Files", hidden: true },
      h("h2", {}, "Files"),
      form,
      this.list,
      this.uploadBox,
      h("div", { class: "files-progress" }, this.progress, this.cancel),
      this.status,
    );
    this.element.addEventListener("dragover", (event) => {
      if (!this.allowed.upload) return;
      event.preventDefault();
      this.element.classList.add("files-drop");
    });
    this.element.addEventListener("dragleave", () => this.element.classList.remove("files-drop"));
    this.element.addEventListener("drop", (event) => {
      event.preventDefault();
      this.element.classList.remove("files-drop");
      const file = event.dataTransfer?.files[0];
      if (file && this.allowed.upload) this.upload(file);
    });
    this.button.addEventListener("click", () => this.toggle());
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.toggle(false);
    });
  }

  /** Shows or hides the panel; opening it lists the current folder. */
  toggle(open = this.element.hidden): void {
    this.element.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) {
      this.browse(this.folder);
      this.path.focus();
    } else this.button.focus();
  }

  /** A file-transfer message from the room. */
  message(msg: FileAnswer): void {
    switch (msg.type) {
      case "ft_allowed":
        this.allowed = { upload: msg.upload, download: msg.download };
        this.button.hidden = !(msg.upload || msg.download);
        this.uploadBox.hidden = !msg.upload;
        if (this.folder === "/" && msg.roots[0]) this.folder = msg.roots[0];
        this.path.value = this.folder;
        return;
      case "ft_listing":
        if (msg.id !== this.listing) return;
        this.listing = null;
        if (this.listNext()) return;
        this.folder = msg.path;
        this.path.value = msg.path;
        this.show(msg.entries, msg.truncated);
        return;
      case "ft_ready": {
        const t = this.transfer;
        if (t?.id !== msg.id) return;
        if (t.direction === "upload") {
          t.ready = true;
          void this.pump(t);
        } else if (msg.size !== undefined) t.size = msg.size;
        return;
      }
      case "ft_done": {
        const t = this.transfer;
        if (t?.id !== msg.id) return;
        this.finish(`${t.direction === "upload" ? "Uploaded" : "Downloaded"} ${t.name} (${sizeText(msg.size)}).`);
        if (t.direction === "download") this.save(t, msg.path);
        else this.browse(this.folder);
        return;
      }
      case "ft_refused":
        if (msg.id === this.listing) {
          this.listing = null;
          if (!this.listNext()) this.say(`Cannot open ${msg.path}: ${msg.message}`);
        } else if (this.transfer?.id === msg.id)
          this.finish(`${msg.direction === "upload" ? "Upload" : "Download"} refused: ${msg.message}`);
        return;
    }
  }

  /** A FILE frame from the room: a download's bytes, or credit for an upload. */
  frame(frame: FileFrame): void {
    const t = this.transfer;
    if (!t || t.id !== frame.id) return;
    if (frame.kind === "file_credit" && t.direction === "upload") {
      t.credit += frame.bytes;
      void this.pump(t);
    } else if (frame.kind === "file_data" && t.direction === "download") {
      // Copied: the frame is a view into the socket's message.
      t.parts.push(frame.payload.slice());
      t.got += frame.payload.byteLength;
      this.channel.sendFileFrame(encodeFileCredit(t.id, frame.payload.byteLength));
      this.showProgress(t.got, t.size);
    }
  }

  /** The socket dropped: the room cancelled whatever ran over it. */
  dropped(): void {
    if (this.transfer) this.finish("The transfer stopped: the connection to the session dropped.");
    this.listing = null;
    this.queued = null;
  }

  private browse(folder: string): void {
    if (!folder.startsWith("/")) {
      this.say("Enter an absolute folder, such as /srv/data.");
      return;
    }
    if (this.listing !== null) {
      this.queued = folder;
      return;
    }
    const id = this.nextId++;
    if (!this.channel.sendFile({ type: "ft_list", id, path: folder })) {
      this.say("Not connected.");
      return;
    }
    this.listing = id;
  }

  /** Lists the folder asked for while the last listing ran; false when none was. */
  private listNext(): boolean {
    const folder = this.queued;
    this.queued = null;
    if (folder === null) return false;
    this.browse(folder);
    return true;
  }

  private show(entries: ListingEntry[], truncated: boolean): void {
    const items = entries.map((entry) => {
      if (entry.kind === "dir") {
        const open = h("button", { type: "button", class: "button-quiet small-button" }, `${entry.name}/`);
        open.addEventListener("click", () => this.browse(join(this.folder, entry.name)));
        return h("li", { class: "files-dir" }, open);
      }
      const label = `${entry.name} (${sizeText(entry.size)})`;
      if (entry.kind !== "file" || !this.allowed.download) return h("li", {}, label);
      const get = h(
        "button",
        { type: "button", class: "button-quiet small-button", "aria-label": `Download: ${entry.name}` },
        "Download",
      );
      get.addEventListener("click", () => this.download(entry.name));
      return h("li", { class: "files-file", "data-name": entry.name }, `${label} `, get);
    });
    replace(this.list, ...(items.length ? items : [h("li", {}, "This folder is empty.")]));
    if (truncated) this.list.append(h("li", {}, `Only the first ${entries.length} entries are shown.`));
  }

  private upload(file: File): void {
    if (this.transfer) {
      this.say("Another transfer is under way.");
      return;
    }
    const id = this.nextId++;
    const path = join(this.folder, file.name);
    if (!this.channel.sendFile({ type: "ft_upload", id, path, size: file.size })) {
      this.say("Not connected.");
      return;
    }
    this.transfer = { id, direction: "upload", name: file.name, file, sent: 0, credit: FILE_WINDOW, ready: false };
    this.started(`Uploading ${file.name}…`);
  }

  private download(name: string): void {
    if (this.transfer) {
      this.say("Another transfer is under way.");
      return;
    }
    const id = this.nextId++;
    if (!this.channel.sendFile({ type: "ft_download", id, path: join(this.folder, name) })) {
      this.say("Not connected.");
      return;
    }
    this.transfer = { id, direction: "download", name, size: 0, got: 0, parts: [] };
    this.started(`Downloading ${name}…`);
  }

  /** Sends an upload's next pieces while credit lasts; one pump at a time. */
  private pumping = false;
  private async pump(t: Extract<Transfer, { direction: "upload" }>): Promise<void> {
    if (this.pumping || !t.ready) return;
    this.pumping = true;
    try {
      while (this.transfer === t && t.sent < t.file.size) {
        const length = Math.min(MAX_FILE_PAYLOAD, t.file.size - t.sent);
        if (length > t.credit) return;
        const piece = new Uint8Array(await t.file.slice(t.sent, t.sent + length).arrayBuffer());
        if (this.transfer !== t) return;
        if (!this.channel.sendFileFrame(encodeFileData(t.id, piece))) return;
        t.credit -= length;
        t.sent += length;
        this.showProgress(t.sent, t.file.size);
      }
    } finally {
      this.pumping = false;
    }
  }

  private save(t: Extract<Transfer, { direction: "download" }>, path: string): void {
    const url = URL.createObjectURL(new Blob(t.parts as BlobPart[]));
    const link = h("a", { href: url, download: path.split("/").pop() || t.name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  private started(text: string): void {
    this.say(text);
    this.progress.hidden = false;
    this.progress.value = 0;
    this.cancel.hidden = false;
    this.element.dataset.transfer = "running";
  }

  private finish(text: string): void {
    this.transfer = null;
    this.progress.hidden = true;
    this.cancel.hidden = true;
    this.element.dataset.transfer = "idle";
    this.say(text);
  }

  private showProgress(done: number, total: number): void {
    this.progress.value = total > 0 ? Math.min(1, done / total) : 0;
  }

  private say(text: string): void {
    this.status.textContent = text;
  }
}
