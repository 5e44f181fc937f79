// Backing up a site's seal key to an offline recovery key, and restoring it, so a site whose connectors all
// died keeps its vaulted credentials. Both run on-prem, never through the edge: if the edge could name the key
// a backup is sealed to, a compromised edge could have the site key sealed to itself and open every credential.
// The recovery key pair is made by the admin (`psm-connector recovery-key`), its private half kept offline.
import type { JWK } from "jose";
import { sealKid } from "../keys/seal-kid.ts";
import { z } from "zod";
import { generateSealKey, publicJwk } from "./keys.ts";
import { openSealed, sealSecret } from "./seal.ts";

export const SealKeyBackup = z.strictObject({
  v: z.literal(1),
  siteId: z.string(),
  /** The site's public seal key, to check a restore against (and against the edge's Admin › Sites). */
  sealPublicKey: z.record(z.string(), z.unknown()),
  /** Which recovery key opens it: its thumbprint. */
  recoveryKid: z.string(),
  createdAt: z.string(),
  /** The private seal key (JWK as JSON), sealed to the recovery key: JWE ECDH-ES+A256KW/A256GCM. */
  sealed: z.string(),
});
export type SealKeyBackup = z.infer<typeof SealKeyBackup>;

const kidOf = sealKid;

/** A new recovery key pair (P-256): the private half goes offline, the public half to `backup`. */
export async function generateRecoveryKey(): Promise<{ privateKey: JWK; publicKey: JWK }> {
  const privateKey = await generateSealKey();
  return { privateKey, publicKey: { ...publicJwk(privateKey), kid: await kidOf(privateKey) } };
}

export async function backupSealKey(
  state: { siteId: string; sealKey: JWK },
  recoveryPublic: JWK,
  now = new Date(),
): Promise<SealKeyBackup> {
  if ("d" in recoveryPublic) throw new Error("give the recovery key's public half; its private half stays offline");
  return {
    v: 1,
    siteId: state.siteId,
    sealPublicKey: publicJwk(state.sealKey),
    recoveryKid: await kidOf(recoveryPublic),
    createdAt: now.toISOString(),
    sealed: await sealSecret(recoveryPublic as Record<string, unknown>, JSON.stringify(state.sealKey)),
  };
}

/** The site's private seal key from a backup, checked against the public key the backup names. */
export async function restoreSealKey(backup: SealKeyBackup, recoveryPrivate: JWK): Promise<JWK> {
  if ((await kidOf(recoveryPrivate)) !== backup.recoveryKid)
    throw new Error("this backup was sealed to another recovery key");
  const key = JSON.parse((await openSealed(recoveryPrivate, backup.sealed)).toString("utf8")) as JWK;
  const expected = backup.sealPublicKey as JWK;
  if (key.x !== expected.x || key.y !== expected.y || !key.d)
    throw new Error("the backup does not hold the site's key");
  return key;
}
