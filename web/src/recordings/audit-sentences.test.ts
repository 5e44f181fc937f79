// The audit log's sentences: one per action the edge writes (found by reading worker/ and durable/, so a new
// action without a sentence fails here), with the names linked where the page links them.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AuditAction, type AuditListEntry } from "../../../protocol/index.ts";
import { auditSentence, type SentenceLink, sentenceText } from "./audit-sentences.ts";

const ALICE = { id: "u-alice", name: "alice" };
const BOB = { id: "u-bob", name: "bob" };
const SESSION = { type: "session", id: "s-1", name: "root@web-1" };
const CHECKOUT = { type: "checkout", id: "c-1", name: "root on web-1" };
const ALICE_REFS = { userId: ALICE.id, serverId: "srv-1" };
const CONTEXT = { user: "alice", server: "web-1", zone: "prod" };

function entry(action: AuditAction, fields: Partial<AuditListEntry>): AuditListEntry {
  return {
    idx: 7,
    ts: 1_700_000_000_000,
    prev: "0".repeat(64),
    hash: "1".repeat(64),
    actor: null,
    action,
    target: { type: "user", id: ALICE.id, name: "alice" },
    refs: {},
    data: {},
    context: {},
    ...fields,
  };
}

const session = (action: AuditAction, actor: typeof ALICE | null, data: Record<string, unknown>) =>
  entry(action, {
    actor,
    target: { type: "session", id: "s-1" },
    refs: { ...ALICE_REFS, sessionId: "s-1" },
    data,
    context: { ...CONTEXT, recordingId: "rec-1" },
  });
const checkout = (action: AuditAction, actor: typeof ALICE | null, data: Record<string, unknown> = {}) =>
  entry(action, { actor, target: CHECKOUT, refs: { ...ALICE_REFS, checkoutId: "c-1" }, data, context: CONTEXT });
const signIn = (action: AuditAction, data: Record<string, unknown>) =>
  entry(action, { actor: ALICE, refs: { userId: ALICE.id }, data, context: { user: "alice" } });
const credential = (action: AuditAction, actor: typeof BOB | null, data: Record<string, unknown>) =>
  entry(action, { actor, target: { type: "credential", id: "cr-1", name: "root pw" }, data });
const site = (action: AuditAction, actor: typeof BOB | null, data: Record<string, unknown>) =>
  entry(action, { actor, target: { type: "site", id: "site-1" }, data, context: { target: "Berlin DC" } });

const host = (action: AuditAction, data: Record<string, unknown>) =>
  entry(action, {
    actor: null,
    target: { type: "discovered_server", id: "d-1", name: "web01" },
    refs: { serverId: "srv-1" },
    data,
    context: { server: "web01-ssh" },
  });

/** Every action: an entry as the edge writes it, and the sentence an auditor reads. */
const CASES: Record<AuditAction, [AuditListEntry, string]> = {
  "auth.login": [signIn("auth.login", { amr: ["pwd", "otp"] }), "alice signed in (pwd, otp)"],
  "auth.login_failed": [
    entry("auth.login_failed", {
      refs: { userId: ALICE.id },
      data: { aggregated: true, via: "password", count: 3 },
      context: { user: "alice" },
    }),
    "Sign-in failed for alice (3 times, password)",
  ],
  "auth.logout": [signIn("auth.logout", {}), "alice signed out"],
  "auth.mfa": [
    signIn("auth.mfa", { amr: ["pwd", "hwk"], stepUp: true }),
    "alice confirmed a second factor again (hwk)",
  ],
  "auth.mfa_failed": [
    signIn("auth.mfa_failed", { method: "otp", signInEnded: true }),
    "alice gave a wrong second factor (otp); the sign-in was ended",
  ],
  "auth.locked_out": [
    signIn("auth.locked_out", { method: "master_password", locked: true }),
    "alice was locked out (master password)",
  ],
  "auth.step_up": [
    entry("auth.step_up", {
      actor: ALICE,
      target: { type: "checkout", id: "c-1" },
      refs: { ...ALICE_REFS, checkoutId: "c-1" },
      data: { phase: "connect", decision: "step_up", mfa: "any", masterPassword: true },
      context: { ...CONTEXT, target: "root on web-1" },
    }),
    "alice connected to root on web-1 after giving a second factor and the master password",
  ],
  "auth.credentials_changed": [
    signIn("auth.credentials_changed", { what: "password" }),
    "alice changed their password",
  ],
  "checkout.requested": [
    checkout("checkout.requested", ALICE, {
      startsAt: 0,
      endsAt: 3_600_000,
      justification: "patch openssl",
      status: "active",
    }),
    "alice checked out root on web-1 for 60 min: “patch openssl”",
  ],
  "checkout.approved": [
    checkout("checkout.approved", BOB, { to: "active" }),
    "bob approved alice’s checkout of root on web-1",
  ],
  "checkout.denied": [checkout("checkout.denied", BOB), "bob denied alice’s checkout of root on web-1"],
  "checkout.withdrawn": [checkout("checkout.withdrawn", ALICE), "alice withdrew the request for root on web-1"],
  "checkout.expired": [checkout("checkout.expired", null), "alice’s checkout of root on web-1 expired"],
  "checkout.checked_in": [checkout("checkout.checked_in", ALICE), "alice checked in root on web-1"],
  "checkout.revoked": [checkout("checkout.revoked", BOB), "bob revoked alice’s checkout of root on web-1"],
  "session.started": [
    entry("session.started", {
      actor: ALICE,
      target: SESSION,
      refs: { ...ALICE_REFS, sessionId: "s-1", checkoutId: "c-1" },
      context: { ...CONTEXT, recordingId: "rec-1" },
    }),
    "alice started a session as root@web-1",
  ],
  "session.ended": [
    session("session.ended", null, { reason: "time_limit" }),
    "alice’s session on web-1 ended: time limit",
  ],
  "session.killed": [
    session("session.killed", BOB, { reason: "killed", note: "ran rm in /etc" }),
    "bob killed alice’s session on web-1: reason “ran rm in /etc”",
  ],
  "session.extension_requested": [
    session("session.extension_requested", ALICE, { minutes: 30, reason: "still patching" }),
    "alice asked for 30 more min on their session on web-1: “still patching”",
  ],
  "session.extended": [
    session("session.extended", BOB, { minutes: 30, comment: "fine", approval: "approver" }),
    "bob extended alice’s session on web-1 by 30 min: “fine”",
  ],
  "session.extension_denied": [
    session("session.extension_denied", BOB, { minutes: 30, comment: "wrap up" }),
    "bob denied 30 more min on alice’s session on web-1: “wrap up”",
  ],
  "session.moderator_joined": [
    session("session.moderator_joined", BOB, {}),
    "bob started moderating alice’s session on web-1",
  ],
  "session.moderator_left": [
    session("session.moderator_left", BOB, {}),
    "bob stopped moderating alice’s session on web-1",
  ],
  "session.invited": [
    session("session.invited", ALICE, { invitee: "bob", basis: "entitled", expiresAt: 1 }),
    "alice invited bob to type in their session on web-1",
  ],
  "session.invitation_revoked": [
    session("session.invitation_revoked", ALICE, { invitee: "bob" }),
    "alice took back bob’s invitation to their session on web-1",
  ],
  "session.invitation_accepted": [
    session("session.invitation_accepted", BOB, {}),
    "bob accepted the invitation to type in alice’s session on web-1",
  ],
  "session.participant_joined": [
    session("session.participant_joined", BOB, {}),
    "bob joined alice’s session on web-1 with input",
  ],
  "session.participant_left": [session("session.participant_left", BOB, {}), "bob left alice’s session on web-1"],
  "session.input_locked": [
    session("session.input_locked", BOB, { locked: true, until: 1 }),
    "bob locked input on alice’s session on web-1",
  ],
  "session.command": [
    session("session.command", ALICE, { line: "systemctl status nginx", rule: null, at: 10 }),
    "alice ran “systemctl status nginx” on their session on web-1",
  ],
  "session.command_alert": [
    session("session.command_alert", ALICE, { line: "systemctl stop nginx", rule: 1, at: 20 }),
    "alice ran “systemctl stop nginx” on their session on web-1 (alert: rule 1)",
  ],
  "session.file_transfer": [
    session("session.file_transfer", ALICE, {
      direction: "upload",
      path: "/srv/a.bin",
      size: 42,
      sha256: "ab".repeat(32),
    }),
    "alice uploaded “/srv/a.bin” to their session on web-1 (42 bytes, SHA-256 abababababab…)",
  ],
  "session.file_transfer_refused": [
    session("session.file_transfer_refused", ALICE, {
      direction: "download",
      path: "/etc/shadow",
      reason: "path_denied",
    }),
    "alice was refused the download of “/etc/shadow” on their session on web-1 (path_denied)",
  ],
  "session.command_denied": [
    session("session.command_denied", ALICE, { line: "rm -rf /", rule: 0, at: 30 }),
    "alice was refused “rm -rf /” on their session on web-1 (rule 0)",
  ],
  "session.command_review": [
    session("session.command_review", ALICE, { line: "systemctl stop nginx", rule: 2, at: 40 }),
    "alice asked for review of “systemctl stop nginx” on their session on web-1 (rule 2)",
  ],
  "session.command_approved": [
    session("session.command_approved", BOB, { line: "systemctl stop nginx", rule: 2, decision: "approved" }),
    "bob allowed “systemctl stop nginx” on alice’s session on web-1",
  ],
  "session.command_refused": [
    session("session.command_refused", BOB, { line: "systemctl stop nginx", rule: 2, decision: "refused" }),
    "bob refused “systemctl stop nginx” on alice’s session on web-1",
  ],
  "session.protocol_violation": [
    session("session.protocol_violation", ALICE, { role: "user", detail: "resume past the end" }),
    "A user socket of their session on web-1 sent what the session never produced (resume past the end); it was closed",
  ],
  "access.revoked": [
    entry("access.revoked", {
      actor: BOB,
      target: { type: "user", id: ALICE.id },
      refs: { userId: ALICE.id },
      data: { cause: "account disabled", checkouts: ["c-1"], sessions: ["s-1"], viewers: 0 },
      context: { user: "alice" },
    }),
    "bob removed access (account disabled) of alice: 1 checkout, 1 session and 0 live views ended",
  ],
  "admin.change": [
    entry("admin.change", {
      actor: BOB,
      target: { type: "user", id: ALICE.id, name: "alice" },
      refs: { userId: ALICE.id },
      data: { before: { disabled: false }, after: { disabled: true }, why: "session killed: leak" },
      context: { user: "alice" },
    }),
    "bob changed user alice (disabled): “session killed: leak”",
  ],
  "recording.alert": [
    session("recording.alert", null, { detail: "store unavailable" }),
    "The recording of alice’s session on web-1 could not be stored: store unavailable",
  ],
  "recording.deleted": [
    entry("recording.deleted", {
      target: { type: "recording", id: "rec-1" },
      refs: { ...ALICE_REFS, sessionId: "s-1" },
      data: { why: "retention" },
      context: CONTEXT,
    }),
    "The retention sweep deleted the recording of alice’s session on web-1",
  ],
  "recording.chunk_refused": [
    entry("recording.chunk_refused", {
      target: { type: "recording", id: "rec-1" },
      refs: { ...ALICE_REFS, sessionId: "s-1" },
      data: { seq: 3, why: "a different chunk under a used number" },
      context: CONTEXT,
    }),
    "A chunk of the recording of alice’s session on web-1 was refused: a different chunk under a used number",
  ],
  "recording.sealed": [
    entry("recording.sealed", {
      target: { type: "recording", id: "rec-1" },
      refs: { ...ALICE_REFS, sessionId: "s-1" },
      data: { complete: false },
      context: CONTEXT,
    }),
    "The recording of alice’s session on web-1 was sealed incomplete",
  ],
  "credential.rotation_requested": [
    credential("credential.rotation_requested", BOB, { op: "rotate", cause: "checkin" }),
    "bob asked to rotate credential root pw (checkin)",
  ],
  "credential.rotated": [credential("credential.rotated", null, {}), "The connector rotated credential root pw"],
  "credential.rotation_failed": [
    credential("credential.rotation_failed", null, { error: "auth_failed" }),
    "Rotating credential root pw failed: auth failed",
  ],
  "credential.verified": [
    credential("credential.verified", null, { outcome: "out_of_sync" }),
    "The connector checked credential root pw: out of sync",
  ],
  "site.seal_key_rotation_requested": [
    site("site.seal_key_rotation_requested", BOB, {}),
    "bob asked to rotate the seal key of site Berlin DC",
  ],
  "site.seal_key_rotated": [
    site("site.seal_key_rotated", null, { resealed: 12 }),
    "The seal key of site Berlin DC was rotated (12 secrets re-sealed)",
  ],
  "site.seal_key_rotation_failed": [
    site("site.seal_key_rotation_failed", null, { error: "changed" }),
    "Rotating the seal key of site Berlin DC failed: changed",
  ],
  "connector.seal_key_adopted": [
    entry("connector.seal_key_adopted", { target: { type: "connector", id: "cn-1" }, context: { target: "edge-a" } }),
    "Connector edge-a took up the new site seal key",
  ],
  "discovery.address_changed": [
    host("discovery.address_changed", {
      before: { host: "10.0.0.5", port: 22, rdpPort: null },
      after: { host: "10.0.0.9", port: 22, rdpPort: null },
      serverFollowed: true,
    }),
    "Discovery found host web01 at 10.0.0.9:22 (was 10.0.0.5:22); server web01-ssh follows",
  ],
  "discovery.stale": [host("discovery.stale", { days: 7 }), "Discovery has not seen host web01 for 7 days: stale"],
  "discovery.retired": [
    host("discovery.retired", { days: 30 }),
    "Discovery has not seen host web01 for 30 days: retired; no checkouts of web01-ssh",
  ],
  "discovery.returned": [
    host("discovery.returned", { from: "retired" }),
    "Discovery sees host web01 again (it was retired)",
  ],
};

/** Every AuditAction string in the edge's own source (worker/, durable/; tests left out). */
function actionsTheEdgeWrites(): Set<string> {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const known = new Set<string>(AuditAction.options);
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts"))
        for (const [, s] of readFileSync(path, "utf8").matchAll(/"([a-z_]+\.[a-z_]+)"/g))
          if (known.has(s!)) found.add(s!);
    }
  };
  walk(join(root, "worker"));
  walk(join(root, "durable"));
  return found;
}

describe("audit sentences", () => {
  it("has a sentence for every action the edge writes", () => {
    const written = actionsTheEdgeWrites();
    expect(written.size).toBeGreaterThan(30);
    expect([...written].filter((a) => !(a in CASES))).toEqual([]);
  });

  for (const [action, [e, text]] of Object.entries(CASES)) {
    it(action, () => {
      const sentence = sentenceText(auditSentence(e, { isAdmin: true }));
      expect(sentence).toBe(text);
      expect(sentence).not.toContain("undefined");
      expect(sentence).not.toContain(action); // never the raw code
    });
  }

  it("links names to the log filtered by them, a session to its replay, a checkout to its revoke for admins", () => {
    const links = (e: AuditListEntry, isAdmin = true) =>
      auditSentence(e, { isAdmin }).filter((p): p is SentenceLink => typeof p !== "string");
    expect(links(CASES["session.killed"][0])).toEqual([
      { text: "bob", href: "#/audit?user=bob", kind: "user" },
      { text: "alice", href: "#/audit?user=alice", kind: "user" },
      { text: "session", href: "#/recordings/rec-1", kind: "replay" },
      { text: "web-1", href: "#/audit?server=web-1", kind: "server" },
    ]);
    expect(links(CASES["checkout.requested"][0])).toContainEqual({
      text: "root on web-1",
      href: "#/admin/checkouts/c-1",
      kind: "checkout",
    });
    // An auditor reads the same sentence; the revoke link is an admin's.
    expect(links(CASES["checkout.requested"][0], false).map((l) => l.kind)).toEqual(["user"]);
    // No recording (none was kept, or it was deleted): the word stays, unlinked.
    const unrecorded = { ...CASES["session.started"][0], context: CONTEXT };
    expect(links(unrecorded).map((l) => l.kind)).toEqual(["user"]);
    const odd = entry("auth.logout", { actor: { id: "u-x", name: "a b&c" } });
    expect(links(odd)[0]!.href).toBe("#/audit?user=a%20b%26c");
  });

  it("says who did it, or that nobody did, and names a target that has no name left by its id", () => {
    expect(sentenceText(auditSentence(checkout("checkout.revoked", null), { isAdmin: false }))).toBe(
      "The system revoked alice’s checkout of root on web-1",
    );
    const nameless = entry("credential.rotated", { target: { type: "credential", id: "0123456789abcdef" } });
    expect(sentenceText(auditSentence(nameless, { isAdmin: false }))).toBe("The connector rotated credential 01234567");
    expect(sentenceText(auditSentence(checkout("checkout.approved", null, { auto: true }), { isAdmin: false }))).toBe(
      "root on web-1 for alice was approved by policy",
    );
    // A connector's spool alert names the connector, not a session.
    const spool = entry("recording.alert", {
      target: { type: "connector", id: "c-1", name: "dc1-connector" },
      data: { detail: "recording spool 85% full (3 chunks waiting; uploads failing)" },
    });
    expect(sentenceText(auditSentence(spool, { isAdmin: true }))).toBe(
      "Connector dc1-connector: recording spool 85% full (3 chunks waiting; uploads failing)",
    );
  });
});
