// Writes to the audit ledger: one AuditLedger Durable Object for the whole deployment is the
// single writer of the hash chain.
import type { AuditLedger } from "../durable/audit-ledger.ts";
import type { AuditEntryInput } from "../protocol/index.ts";
import type { Context } from "hono";
import type { AppContext, AuthUser, Env } from "./env.ts";

/** The ledger's RPC surface. Named explicitly: inferring it through the stub type is too deep for tsc. */
type LedgerRpc = Pick<AuditLedger, "append" | "appendMany" | "query" | "page" | "verify">;

export function ledger(env: Env): LedgerRpc {
  return env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global")) as unknown as LedgerRpc;
}

export async function record(env: Env, entry: AuditEntryInput): Promise<void> {
  await ledger(env).append(entry);
}

export const actorOf = (user: AuthUser | null | undefined) => (user ? { id: user.id, name: user.username } : null);

/** An admin change by the signed-in user; `data` carries `before` and/or `after`. */
export function adminChange(c: Context<AppContext>, entry: Omit<AuditEntryInput, "actor" | "action">): Promise<void> {
  return record(c.env, { actor: actorOf(c.get("user")), action: "admin.change", ...entry });
}
