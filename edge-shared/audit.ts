// Writes to the audit ledger, for the Worker and the Durable Objects alike: one AuditLedger Durable Object
// for the whole deployment is the single writer of the hash chain.
import type { AuditLedger } from "../durable/audit-ledger.ts";
import type { AuditEntryInput } from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";

/** The ledger's RPC surface. Named explicitly: inferring it through the stub type is too deep for tsc. */
type LedgerRpc = Pick<
  AuditLedger,
  "append" | "appendMany" | "query" | "commands" | "page" | "verify" | "count" | "streamChanged"
>;

export function ledger(env: Pick<Env, "AUDIT_LEDGER">): LedgerRpc {
  return env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global")) as unknown as LedgerRpc;
}

export async function record(env: Pick<Env, "AUDIT_LEDGER">, entry: AuditEntryInput): Promise<void> {
  await ledger(env).append(entry);
}
