// Audit entries as sentences people read ("alice checked out root on web-1 for 60 min", "bob killed alice's
// session on web-1: reason …"), pure: a list of text and links the page turns into DOM. Names link to the
// log filtered by them, a session to its replay, a checkout (for admins) to its revoke in Admin › Checkouts.
import type { AuditAction, AuditListEntry } from "../../../protocol/index.ts";

export type SentenceLink = { text: string; href: string; kind: "user" | "server" | "replay" | "checkout" };
export type SentencePart = string | SentenceLink;

export type SentenceOptions = {
  /** Admins get the checkout's revoke link. */
  isAdmin: boolean;
};

/** The sentence as plain text (for tests, titles and screen readers). */
export const sentenceText = (parts: SentencePart[]): string =>
  parts.map((p) => (typeof p === "string" ? p : p.text)).join("");

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const quoted = (text: string | undefined): string => (text ? `: “${text}”` : "");
const words = (code: string): string => code.replaceAll("_", " ");

function minutesText(ms: number | undefined): string {
  if (ms === undefined || ms <= 0) return "";
  const min = Math.round(ms / 60_000);
  if (min < 120 || min % 60 !== 0) return ` for ${min} min`;
  const h = min / 60;
  return h < 48 || h % 24 !== 0 ? ` for ${h} h` : ` for ${h / 24} days`;
}

/** Everything one entry's sentence is made of. */
class Sentence {
  readonly parts: SentencePart[] = [];
  constructor(
    private readonly e: AuditListEntry,
    private readonly options: SentenceOptions,
  ) {}

  add(...parts: (SentencePart | null | undefined | false)[]): this {
    for (const p of parts) if (p) this.parts.push(p);
    return this;
  }

  private userLink(name: string): SentenceLink {
    return { text: name, href: `#/audit?user=${encodeURIComponent(name)}`, kind: "user" };
  }

  /** Who did it: the actor, or "The system" when nobody did. */
  actor(): SentencePart {
    return this.e.actor ? this.userLink(this.e.actor.name) : "The system";
  }

  /** The person the entry is about (its user ref), by name. */
  get subjectName(): string | undefined {
    return this.e.context.user ?? (this.e.target.type === "user" ? this.targetName : undefined);
  }

  /** "alice's" (or "their" when the actor is that person). */
  subjectPossessive(): SentencePart[] {
    const name = this.subjectName;
    if (!name) return ["a"];
    if (this.e.actor && this.e.refs.userId && this.e.actor.id === this.e.refs.userId) return ["their"];
    return [this.userLink(name), "’s"];
  }

  subject(): SentencePart {
    const name = this.subjectName;
    return name ? this.userLink(name) : "someone";
  }

  get targetName(): string {
    // A target that no longer has a name (deleted since) by the start of its id.
    return this.e.target.name ?? this.e.context.target ?? this.e.target.id.slice(0, 8);
  }

  /** The server, linked to its entries; "" when the entry names none. */
  server(prefix = " on "): SentencePart[] {
    const name = this.e.context.server;
    if (!name) return [];
    return [prefix, { text: name, href: `#/audit?server=${encodeURIComponent(name)}`, kind: "server" }];
  }

  /** "session" (a link to its replay when it was recorded). */
  session(word = "session"): SentencePart {
    const id = this.e.context.recordingId;
    return id ? { text: word, href: `#/recordings/${encodeURIComponent(id)}`, kind: "replay" } : word;
  }

  /** The checkout's name ("root on web-1"), a link to its revoke for admins. */
  checkout(): SentencePart {
    const id = this.e.refs.checkoutId ?? (this.e.target.type === "checkout" ? this.e.target.id : undefined);
    const text = this.e.target.type === "checkout" ? this.targetName : "a checkout";
    return this.options.isAdmin && id
      ? { text, href: `#/admin/checkouts/${encodeURIComponent(id)}`, kind: "checkout" }
      : text;
  }

  /** "alice's session on web-1". */
  theSession(): SentencePart[] {
    return [...this.subjectPossessive(), " ", this.session(), ...this.server()];
  }
}

type Build = (s: Sentence, data: Record<string, unknown>, e: AuditListEntry) => void;

function admin(s: Sentence, data: Record<string, unknown>, e: AuditListEntry): void {
  const before = data.before as Record<string, unknown> | undefined;
  const after = data.after as Record<string, unknown> | undefined;
  const verb = before && !after ? "deleted" : after && !before ? "created" : "changed";
  const fields = Object.keys({ ...(before ?? {}), ...(after ?? {}) });
  const target = e.target.type === "user" ? s.subject() : s.targetName;
  s.add(s.actor(), ` ${verb} ${words(e.target.type)} `, target);
  if (verb === "changed" && fields.length)
    s.add(` (${fields.slice(0, 4).join(", ")}${fields.length > 4 ? ", …" : ""})`);
  s.add(str(data.why) ? quoted(str(data.why)) : "");
}

function failedSignIn(s: Sentence, data: Record<string, unknown>, what: string): void {
  const count = num(data.count);
  s.add(what, " for ", s.subject(), count && count > 1 ? ` (${count} times` : "");
  if (count && count > 1) s.add(str(data.via) ? `, ${words(str(data.via)!)})` : ")");
}

/** One builder per action: a new AuditAction without one fails tsc. */
const SENTENCES: Record<AuditAction, Build> = {
  "auth.login": (s, d) => {
    const amr = Array.isArray(d.amr) ? d.amr.filter((m): m is string => typeof m === "string") : [];
    s.add(s.actor(), " signed in", amr.length ? ` (${amr.join(", ")})` : "");
  },
  "auth.login_failed": (s, d) => failedSignIn(s, d, "Sign-in failed"),
  "auth.logout": (s) => s.add(s.actor(), " signed out"),
  "auth.mfa": (s, d) => {
    const amr = Array.isArray(d.amr) ? d.amr.filter((m): m is string => typeof m === "string") : [];
    s.add(s.actor(), d.stepUp ? " confirmed a second factor again" : " passed a second factor");
    s.add(amr.length ? ` (${amr.at(-1)})` : "");
  },
  "auth.mfa_failed": (s, d) => {
    const method = str(d.method);
    s.add(s.actor(), method === "master_password" ? " entered a wrong master password" : " gave a wrong second factor");
    s.add(method && method !== "master_password" ? ` (${method})` : "", d.signInEnded ? "; the sign-in was ended" : "");
  },
  "auth.locked_out": (s, d) => {
    if (d.aggregated) return failedSignIn(s, d, "Sign-in refused (locked out or slowed down)");
    s.add(s.subject(), " was locked out", str(d.method) ? ` (${words(str(d.method)!)})` : "");
  },
  "auth.step_up": (s, d) => {
    const needs = [d.mfa ? "a second factor" : "", d.masterPassword ? "the master password" : ""].filter(Boolean);
    s.add(s.actor(), d.phase === "asked" ? " was told what connecting to " : " connected to ", s.checkout());
    s.add(
      d.decision === "allow"
        ? d.phase === "asked"
          ? " needs: nothing more"
          : " with nothing more asked"
        : needs.length
          ? `${d.phase === "asked" ? " needs: " : " after giving "}${needs.join(" and ")}`
          : `: ${words(str(d.decision) ?? "refused")}`,
    );
  },
  "auth.credentials_changed": (s, d) => s.add(s.actor(), " changed their ", str(d.what) ?? "sign-in factors"),
  "checkout.requested": (s, d, e) => {
    const pending = d.status === "pending_approval";
    s.add(s.actor(), pending ? " asked to check out " : " checked out ", s.checkout());
    s.add(minutesText((num(d.endsAt) ?? 0) - (num(d.startsAt) ?? 0)), quoted(str(d.justification)));
    if (!pending && e.actor === null) s.add(" (by the system)");
  },
  "checkout.approved": (s, d) => {
    if (d.auto) return void s.add(s.checkout(), " for ", s.subject(), " was approved by policy");
    s.add(s.actor(), " approved ", ...s.subjectPossessive(), " checkout of ", s.checkout());
    if (d.to === "pending_approval") s.add(` (${num(d.approvals) ?? 1} approval so far; more are needed)`);
  },
  "checkout.denied": (s) => s.add(s.actor(), " denied ", ...s.subjectPossessive(), " checkout of ", s.checkout()),
  "checkout.withdrawn": (s) => s.add(s.actor(), " withdrew the request for ", s.checkout()),
  "checkout.expired": (s) => s.add(...s.subjectPossessive(), " checkout of ", s.checkout(), " expired"),
  "checkout.checked_in": (s) => s.add(s.actor(), " checked in ", s.checkout()),
  "checkout.revoked": (s) => s.add(s.actor(), " revoked ", ...s.subjectPossessive(), " checkout of ", s.checkout()),
  "session.started": (s, _d, e) => {
    s.add(s.actor(), " started a ", s.session(), ...(e.target.name ? [` as ${e.target.name}`] : s.server()));
  },
  "session.ended": (s, d) => s.add(...s.theSession(), " ended", str(d.reason) ? `: ${words(str(d.reason)!)}` : ""),
  "session.killed": (s, d, e) => {
    if (e.actor) s.add(s.actor(), " killed ", ...s.theSession());
    else s.add(...s.theSession(), " was ended when its checkout was revoked");
    s.add(str(d.note) ? `: reason “${str(d.note)}”` : "");
  },
  "session.extension_requested": (s, d) =>
    s.add(s.actor(), ` asked for ${num(d.minutes) ?? "?"} more min on `, ...s.theSession(), quoted(str(d.reason))),
  "session.extended": (s, d) =>
    s.add(s.actor(), " extended ", ...s.theSession(), ` by ${num(d.minutes) ?? "?"} min`, quoted(str(d.comment))),
  "session.extension_denied": (s, d) =>
    s.add(s.actor(), ` denied ${num(d.minutes) ?? "?"} more min on `, ...s.theSession(), quoted(str(d.comment))),
  "session.moderator_joined": (s) => s.add(s.actor(), " started moderating ", ...s.theSession()),
  "session.moderator_left": (s) => s.add(s.actor(), " stopped moderating ", ...s.theSession()),
  "session.invited": (s, d) =>
    s.add(s.actor(), ` invited ${str(d.invitee) ?? "someone"} to type in `, ...s.theSession()),
  "session.invitation_revoked": (s, d) =>
    s.add(s.actor(), ` took back ${str(d.invitee) ?? "someone"}’s invitation to `, ...s.theSession()),
  "session.invitation_accepted": (s) => s.add(s.actor(), " accepted the invitation to type in ", ...s.theSession()),
  "session.participant_joined": (s) => s.add(s.actor(), " joined ", ...s.theSession(), " with input"),
  "session.participant_left": (s) => s.add(s.actor(), " left ", ...s.theSession()),
  "session.input_locked": (s, d) =>
    s.add(s.actor(), d.locked === false ? " unlocked input on " : " locked input on ", ...s.theSession()),
  "session.command": (s, d) => s.add(s.actor(), ` ran “${str(d.line) ?? ""}” on `, ...s.theSession()),
  "session.command_alert": (s, d) =>
    s.add(s.actor(), ` ran “${str(d.line) ?? ""}” on `, ...s.theSession(), ` (alert: rule ${num(d.rule) ?? "?"})`),
  "session.file_transfer": (s, d) =>
    s.add(
      s.actor(),
      d.direction === "upload" ? ` uploaded “${str(d.path) ?? ""}” to ` : ` downloaded “${str(d.path) ?? ""}” from `,
      ...s.theSession(),
      ` (${num(d.size) ?? "?"} bytes, SHA-256 ${(str(d.sha256) ?? "?").slice(0, 12)}…)`,
    ),
  "session.file_transfer_refused": (s, d) =>
    s.add(
      s.actor(),
      ` was refused the ${d.direction === "upload" ? "upload" : "download"} of “${str(d.path) ?? ""}” on `,
      ...s.theSession(),
      ` (${str(d.reason) ?? "?"})`,
    ),
  "session.command_denied": (s, d) =>
    s.add(s.actor(), ` was refused “${str(d.line) ?? ""}” on `, ...s.theSession(), ` (rule ${num(d.rule) ?? "?"})`),
  "session.command_review": (s, d) =>
    s.add(
      s.actor(),
      ` asked for review of “${str(d.line) ?? ""}” on `,
      ...s.theSession(),
      ` (rule ${num(d.rule) ?? "?"})`,
    ),
  "session.command_approved": (s, d) => s.add(s.actor(), ` allowed “${str(d.line) ?? ""}” on `, ...s.theSession()),
  "session.command_refused": (s, d) => {
    const line = `“${str(d.line) ?? ""}”`;
    if (d.decision === "timed_out")
      return s.add(`Nobody answered the review of ${line} on `, ...s.theSession(), " in time: it did not run");
    if (d.decision === "withdrawn") return s.add(s.actor(), ` withdrew ${line} from review on `, ...s.theSession());
    return s.add(s.actor(), ` refused ${line} on `, ...s.theSession());
  },
  "session.protocol_violation": (s, d) =>
    s.add(
      "A ",
      str(d.role) ?? "peer",
      " socket of ",
      ...s.theSession(),
      " sent what the session never produced",
      str(d.detail) ? ` (${str(d.detail)})` : "",
      "; it was closed",
    ),
  "access.revoked": (s, d, e) => {
    const count = (v: unknown) => (Array.isArray(v) ? v.length : (num(v) ?? 0));
    const [checkouts, sessions, viewers] = [count(d.checkouts), count(d.sessions), count(d.viewers)];
    s.add(s.actor(), " removed access (", str(d.cause) ?? words(e.target.type), ")");
    if (e.target.type === "user") s.add(" of ", s.subject());
    else s.add(` on ${words(e.target.type)} `, s.targetName);
    s.add(`: ${checkouts} checkout${checkouts === 1 ? "" : "s"}, ${sessions} session${sessions === 1 ? "" : "s"}`);
    s.add(` and ${viewers} live view${viewers === 1 ? "" : "s"} ended`);
  },
  "admin.change": admin,
  "recording.alert": (s, d, e) =>
    e.target.type === "connector"
      ? s.add("Connector ", s.targetName, ": ", str(d.detail) ?? "recording spool filling")
      : s.add(
          "The recording of ",
          ...s.theSession(),
          " could not be stored",
          str(d.detail) ? `: ${str(d.detail)}` : "",
        ),
  "recording.deleted": (s, d) =>
    s.add(d.why === "retention" ? "The retention sweep" : s.actor(), " deleted the recording of ", ...s.theSession()),
  "recording.chunk_refused": (s, d) =>
    s.add("A chunk of the recording of ", ...s.theSession(), " was refused", str(d.why) ? `: ${str(d.why)}` : ""),
  "recording.sealed": (s, d) =>
    s.add("The recording of ", ...s.theSession(), d.complete === false ? " was sealed incomplete" : " was sealed"),
  "credential.rotation_requested": (s, d) =>
    s.add(
      s.actor(),
      d.op === "verify" ? " asked to verify credential " : " asked to rotate credential ",
      s.targetName,
      str(d.cause) ? ` (${words(str(d.cause)!)})` : "",
    ),
  "credential.rotated": (s) => s.add("The connector rotated credential ", s.targetName),
  "credential.rotation_failed": (s, d) =>
    s.add("Rotating credential ", s.targetName, " failed", str(d.error) ? `: ${words(str(d.error)!)}` : ""),
  "credential.verified": (s, d) =>
    s.add(
      "The connector checked credential ",
      s.targetName,
      d.outcome === "in_sync" ? ": the vault holds the right secret" : `: ${words(str(d.outcome) ?? "checked")}`,
    ),
  "site.seal_key_rotation_requested": (s) => s.add(s.actor(), " asked to rotate the seal key of site ", s.targetName),
  "site.seal_key_rotated": (s, d) =>
    s.add(
      "The seal key of site ",
      s.targetName,
      " was rotated",
      num(d.resealed) !== undefined ? ` (${num(d.resealed)} secrets re-sealed)` : "",
    ),
  "site.seal_key_rotation_failed": (s, d) =>
    s.add("Rotating the seal key of site ", s.targetName, " failed", str(d.error) ? `: ${words(str(d.error)!)}` : ""),
  "connector.seal_key_adopted": (s) => s.add("Connector ", s.targetName, " took up the new site seal key"),
  "discovery.address_changed": (s, d) =>
    s.add(
      "Discovery found host ",
      s.targetName,
      ` at ${address(d.after)} (was ${address(d.before)})`,
      ...(d.serverFollowed === true ? ["; server", ...s.server(" "), " follows"] : []),
    ),
  "discovery.stale": (s, d) =>
    s.add(
      "Discovery has not seen host ",
      s.targetName,
      num(d.days) !== undefined ? ` for ${num(d.days)} days` : "",
      ": stale",
    ),
  "discovery.retired": (s, d) =>
    s.add(
      "Discovery has not seen host ",
      s.targetName,
      num(d.days) !== undefined ? ` for ${num(d.days)} days` : "",
      ": retired",
      ...s.server("; no checkouts of "),
    ),
  "discovery.returned": (s, d) =>
    s.add("Discovery sees host ", s.targetName, ` again (it was ${str(d.from) ?? "away"})`),
};

/** `host:port` of a discovered address as the ledger holds it. */
function address(a: unknown): string {
  const r = (a ?? {}) as { host?: unknown; port?: unknown };
  return typeof r.host === "string" ? `${r.host}:${typeof r.port === "number" ? r.port : "?"}` : "an unknown address";
}

/** The sentence for one entry. */
export function auditSentence(entry: AuditListEntry, options: SentenceOptions): SentencePart[] {
  const s = new Sentence(entry, options);
  const build = SENTENCES[entry.action];
  if (build) build(s, entry.data ?? {}, entry);
  else s.add(s.actor(), ` ${entry.action} `, s.targetName);
  return s.parts;
}
