// Password hashing with PBKDF2-SHA256 via WebCrypto.
// 100,000 iterations: the most workerd allows (it refuses higher counts to bound CPU per
// request); OWASP's 2023 figure for PBKDF2-SHA256 is 600,000, so the hash format records the
// count and verify() accepts any, letting a later runtime raise it and rehash on login.
const ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}

/** Returns `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, ITERATIONS);
  return `pbkdf2-sha256$${ITERATIONS}$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || !iter || !salt || !hash) return false;
  const iterations = Number(iter);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > ITERATIONS) return false;
  const expected = unb64(hash);
  const actual = await derive(password, unb64(salt), iterations);
  return timingSafeEqual(actual, expected);
}

/** A hash to compare against when the user does not exist, so timing does not reveal it. */
export const DUMMY_HASH = `pbkdf2-sha256$${ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`;

/** A stored value verifyPassword would run PBKDF2 on (an SSO-only account holds "!"). */
export function isPasswordHash(stored: string): boolean {
  const [scheme, iter, salt, hash, extra] = stored.split("$");
  const n = Number(iter);
  return scheme === "pbkdf2-sha256" && Number.isInteger(n) && n >= 1 && n <= ITERATIONS && !!salt && !!hash && !extra;
}

/** Why a sign-in by password failed, for the log and the audit only: the client always sees one answer. */
export type PasswordOutcome = "ok" | "unknown_user" | "wrong_password" | "sso_only" | "disabled";

/**
 * Equal-cost login: every kind of account costs exactly one PBKDF2 verification at the full count,
 * against the real hash where there is a usable one and against DUMMY_HASH otherwise (unknown user,
 * SSO-only "!", anything malformed), and the verdict is made only after it. A disabled account is
 * verified too, and refused whatever the password.
 */
export async function checkSignInPassword(
  account: { password_hash: string; disabled: number } | null,
  password: string,
  verify: (password: string, stored: string) => Promise<boolean> = verifyPassword,
): Promise<PasswordOutcome> {
  const usable = !!account && isPasswordHash(account.password_hash);
  const matched = await verify(password, usable ? account.password_hash : DUMMY_HASH);
  if (!account) return "unknown_user";
  if (!usable) return "sso_only";
  if (account.disabled) return "disabled";
  return matched ? "ok" : "wrong_password";
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
