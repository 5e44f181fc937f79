// Where a session's credential comes from. One interface, two providers: `sealed` (the default:
// the blob in the grant, sealed to the site key) and `empowerid` (EmpowerID authorises this
// user's checkout and releases the secret). Either way the secret exists only in the connector's
// memory, for the SSH handshake, and the provider hears the session's lifecycle.
import type { EndReason, GrantClaims } from "../protocol/index.ts";
import type { PrivateKeyProblem } from "../protocol/private-key.ts";
import type { JWK } from "jose";
import { checkMasterPassword } from "../protocol/master-password.ts";
import { openSealed } from "./seal.ts";

/** The authority refused this user this credential: the session ends with `credential_refused`. */
export class CredentialRefused extends Error {
  override name = "CredentialRefused";
}
/** The credential could not be obtained (unreachable, timeout, malformed): `credential_unavailable`. */
export class CredentialUnavailable extends Error {
  override name = "CredentialUnavailable";
}

/** The user's master password did not match its verifier: `master_password_wrong`, before any target connection. */
export class MasterPasswordRefused extends Error {
  override name = "MasterPasswordRefused";
}

/**
 * The credential opened but cannot be used: not a private key ssh2 loads (`problem` says what is wrong,
 * `unloadable` when ssh2 refused one the shared check passed): `credential_invalid`.
 */
export class CredentialInvalid extends Error {
  override name = "CredentialInvalid";
  constructor(readonly problem: PrivateKeyProblem | "unloadable") {
    super(`the private key cannot be loaded: ${problem}`);
  }
}

/** A released credential and the session's lifecycle reports to its authority. */
export type Release = {
  /** The secret; the session zeroes it once the SSH handshake no longer needs it. */
  secret: Buffer;
  /** The session reached the target. */
  connected(): void;
  /** The session is over; nothing is reported after this. */
  ended(reason: EndReason): void;
};

export type ReleaseRequest = {
  sessionId: string;
  grant: GrantClaims;
  /** Called when the authority asks for the session to end now (e.g. EmpowerID revoked it). */
  terminate: (reason: EndReason) => void;
};

export interface CredentialProvider {
  readonly name: "sealed" | "empowerid";
  release(request: ReleaseRequest): Promise<Release>;
}

/** The default: opens the grant's blob with the site's seal key. Lifecycle is the edge's own. */
export class SealedProvider implements CredentialProvider {
  readonly name = "sealed";
  /** `sealKey` reads the site key held now: it changes when the site's key rotates. */
  constructor(private readonly sealKey: () => JWK) {}

  async release({ grant }: ReleaseRequest): Promise<Release> {
    if (!grant.cred.sealed) throw new CredentialUnavailable("grant carries no sealed credential (an EmpowerID one?)");
    if (grant.cred.mpv) await this.checkMasterPassword(grant.cred.mp, grant.cred.mpv);
    let secret: Buffer;
    try {
      secret = await openSealed(this.sealKey(), grant.cred.sealed);
    } catch (err) {
      throw new CredentialUnavailable(`sealed credential does not open: ${(err as Error).name}`);
    }
    return { secret, connected: () => {}, ended: () => {} };
  }

  /** The master password the browser sealed, against the verifier the edge sealed: both opened in memory only. */
  private async checkMasterPassword(sealed: string | undefined, sealedVerifier: string): Promise<void> {
    if (!sealed) throw new MasterPasswordRefused("the grant asks for a master password and carries none");
    let given: Buffer;
    let verifier: Buffer;
    try {
      [given, verifier] = await Promise.all([
        openSealed(this.sealKey(), sealed),
        openSealed(this.sealKey(), sealedVerifier),
      ]);
    } catch (err) {
      throw new CredentialUnavailable(`master password does not open: ${(err as Error).name}`);
    }
    const ok = await checkMasterPassword(given.toString("utf8"), verifier.toString("utf8"));
    given.fill(0);
    if (!ok) throw new MasterPasswordRefused("the master password does not match its verifier");
  }
}
