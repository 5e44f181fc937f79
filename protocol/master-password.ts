// The master password's verifier (issue 17): PBKDF2-SHA256, derived in the user's browser when the password is
// set, stored by the edge like a password hash, and checked by the connector against the password the browser
// sealed to the site key at connect. The edge never holds the password itself. WebCrypto only: the same code
// runs in the browser (derive) and in the connector (check).
import { z } from "zod";

/** OWASP's 2023 figure for PBKDF2-SHA256; the browser pays it once per set, the connector once per connect. */
export const MASTER_PASSWORD_ITERATIONS = 600_000;
/** The connector refuses verifiers outside this range (a cheap one is an offline-guessing gift, a huge one a DoS). */
const MIN_ITERATIONS = 100_000;
const MAX_ITERATIONS = 2_000_000;
export const MASTER_PASSWORD_MIN_LENGTH = 12;

/** `pbkdf2-sha256$<iterations>$<salt, 16 bytes base64>$<hash, 32 bytes base64>`: the format password hashes use. */
export const MasterPasswordVerifier = z
  .string()
  .regex(/^pbkdf2-sha256\$\d{6,7}\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/, "a PBKDF2-SHA256 verifier")
  .refine((v) => {
    const n = Number(v.split("$")[1]);
    return n >= MIN_ITERATIONS && n <= MAX_ITERATIONS;
  }, `between ${MIN_ITERATIONS} and ${MAX_ITERATIONS} iterations`);

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256),
  );
}

/** A new verifier for `password` (random salt). */
export async function masterPasswordVerifier(
  password: string,
  iterations = MASTER_PASSWORD_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(await derive(password, salt, iterations))}`;
}

/** Whether `password` matches `verifier`; false for any verifier outside the accepted format. */
export async function checkMasterPassword(password: string, verifier: string): Promise<boolean> {
  if (!MasterPasswordVerifier.safeParse(verifier).success) return false;
  const [, iter, salt, hash] = verifier.split("$");
  const actual = await derive(password, unb64(salt!), Number(iter));
  const expected = unb64(hash!);
  let diff = actual.length ^ expected.length;
  for (let i = 0; i < actual.length; i++) diff |= actual[i]! ^ (expected[i] ?? 0);
  return diff === 0;
}
