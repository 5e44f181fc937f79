// What a TargetSession asks of the rest of the connector, so the session core stays about the
// relay: the target address policy, the credential provider, and stage changes for status/metrics.
import type { EndReason } from "../protocol/index.ts";
import {
  type CredentialProvider,
  CredentialInvalid,
  CredentialRefused,
  CredentialUnavailable,
  MasterPasswordRefused,
} from "./credentials.ts";
import { faultFields } from "./fault.ts";
import { TargetRefused } from "./target-connect.ts";

export type SessionHooks = {
  /** Resolves and checks the target against the site's allowed ranges; returns the address to dial. */
  resolveTarget?: (host: string) => Promise<string>;
  /** Where the credential comes from; the sealed blob in the grant when absent. */
  credentials?: CredentialProvider;
  /** The session reached the target, or ended (for status and metrics). */
  onStage?: (stage: "connected" | "ended", reason?: EndReason) => void;
};

/** The reason a session ends with when getting its target or credential failed. */
export function setupFailureReason(err: unknown): EndReason {
  if (err instanceof TargetRefused) return "target_refused";
  if (err instanceof CredentialRefused) return "credential_refused";
  if (err instanceof MasterPasswordRefused) return "master_password_wrong";
  if (err instanceof CredentialInvalid) return "credential_invalid";
  return "credential_unavailable";
}

/** What the log says about a setup failure: our own errors' messages (written to be safe), else class and place. */
export function setupFailureFields(err: unknown): Record<string, string | undefined> {
  if (err instanceof CredentialInvalid) return { problem: err.problem };
  const ours =
    err instanceof TargetRefused ||
    err instanceof CredentialRefused ||
    err instanceof CredentialUnavailable ||
    err instanceof MasterPasswordRefused;
  return ours ? { error: err.message } : faultFields(err);
}
