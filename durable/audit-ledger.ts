// AuditLedger: the single writer of the hash-chained audit log. (Being written: see audit-chain.ts.)
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../worker/env.ts";

export class AuditLedger extends DurableObject<Env> {}
