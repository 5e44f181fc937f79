// The Worker's audit helpers: who acted, and admin changes. Writing goes through edge-shared/audit.ts, which
// the Durable Objects use too.
import type { Context } from "hono";
import { record } from "../edge-shared/audit.ts";
import type { AuditEntryInput } from "../protocol/index.ts";
import type { AppContext, AuthUser } from "./env.ts";

export { ledger, record } from "../edge-shared/audit.ts";

export const actorOf = (user: AuthUser | null | undefined) => (user ? { id: user.id, name: user.username } : null);

/** An admin change by the signed-in user; `data` carries `before` and/or `after`. */
export function adminChange(c: Context<AppContext>, entry: Omit<AuditEntryInput, "actor" | "action">): Promise<void> {
  return record(c.env, { actor: actorOf(c.get("user")), action: "admin.change", ...entry });
}
