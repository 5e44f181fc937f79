// Person links in D1: runs decidePersonLink (person-link.ts) for an SSO account, stores a link only if the
// account is still unlinked (one conditional UPDATE in user-store.ts), and audits every link and every ambiguity.
import { record } from "../audit.ts";
import type { Env } from "../env.ts";
import { decidePersonLink, type LinkAccount, type LinkDecision, type PersonSource } from "./person-link.ts";
import { linkPersonIfUnlinked } from "./user-store.ts";

type UserRow = {
  id: string;
  username: string;
  person_id: string | null;
  person_source: PersonSource | null;
  email: string | null;
  email_verified: number;
  oidc_subject: string | null;
};

const COLUMNS = "id, username, person_id, person_source, email, email_verified, oidc_subject";

function toAccount(r: UserRow): LinkAccount {
  return {
    userId: r.id,
    personId: r.person_id ?? r.id,
    personSource: r.person_source,
    email: r.email,
    // A local account's email is set by an admin; an SSO account's counts only if the IdP verified it.
    emailTrusted: r.oidc_subject === null || r.email_verified === 1,
  };
}

const SSO_ACTOR = { id: "oidc", name: "single sign-on" };

/** Decides and stores the person of SSO account `userId`; `personClaim` is the configured claim's value. */
export async function linkAccount(env: Env, userId: string, personClaim: unknown): Promise<LinkDecision> {
  const me = await env.DB.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?`).bind(userId).first<UserRow>();
  if (!me) return { kind: "none" };
  const { results: others } = me.email
    ? await env.DB.prepare(`SELECT ${COLUMNS} FROM users WHERE id != ? AND lower(trim(email)) = lower(trim(?))`)
        .bind(userId, me.email)
        .all<UserRow>()
    : { results: [] as UserRow[] };
  const decision = decidePersonLink({ account: toAccount(me), personClaim, others: others.map(toAccount) });
  const target = { type: "user", id: userId, name: me.username };
  if (decision.kind === "link") {
    // Only an unlinked account is linked: an admin's choice or an earlier link made meanwhile stands.
    if (await linkPersonIfUnlinked(env.DB, userId, decision.personId, decision.by))
      await record(env, {
        actor: SSO_ACTOR,
        action: "admin.change",
        target,
        refs: { userId },
        data: {
          before: { personId: me.person_id ?? me.id, personSource: me.person_source },
          after: { personId: decision.personId, personSource: decision.by },
          via: "oidc",
        },
      });
  } else if (decision.kind === "ambiguous") {
    await record(env, {
      actor: SSO_ACTOR,
      action: "admin.change",
      target,
      refs: { userId },
      data: { personLink: "ambiguous", candidates: decision.personIds, via: "oidc" },
    });
  }
  return decision;
}

/** After an admin sets a local account's email: links the unlinked SSO accounts that share it (verified). */
export async function linkSsoAccountsByEmail(env: Env, email: string): Promise<void> {
  const { results } = await env.DB.prepare(
    `SELECT id FROM users WHERE oidc_subject IS NOT NULL AND email_verified = 1 AND person_source IS NULL
       AND lower(trim(email)) = lower(trim(?))`,
  )
    .bind(email)
    .all<{ id: string }>();
  for (const r of results) await linkAccount(env, r.id, undefined);
}
