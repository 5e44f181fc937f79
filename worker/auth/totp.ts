// TOTP (RFC 6238, otpauth): 6 digits, 30 s steps, SHA-1 (what every authenticator app supports),
// ±1 step of clock tolerance, and a step already used is refused (replay). Pure: the store is elsewhere.
import { Secret, TOTP } from "otpauth";

export const TOTP_PERIOD_SECONDS = 30;
/** Steps either side of now that still count (clock drift between phone and edge). */
export const TOTP_WINDOW = 1;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label: string): TOTP {
  return new TOTP({
    issuer: "PSM",
    label,
    algorithm: "SHA1",
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

export const totpUri = (secretBase32: string, label: string) => totp(secretBase32, label).toString();

/**
 * The time step the code belongs to, or null when it matches none within ±1 step or belongs to a step
 * at or before `lastStep` (a code seen before, or an older one: replay).
 */
export function acceptTotp(secretBase32: string, code: string, now: number, lastStep: number): number | null {
  const delta = totp(secretBase32, "x").validate({ token: code, timestamp: now, window: TOTP_WINDOW });
  if (delta === null) return null;
  const step = Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
  return step > lastStep ? step : null;
}

/** A code for a given time: tests and the enrolment check use it. */
export const totpAt = (secretBase32: string, now: number) => totp(secretBase32, "x").generate({ timestamp: now });

const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i

/** Ten recovery codes of 10 characters (~49 bits each), shown as xxxxx-xxxxx. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = crypto.getRandomValues(new Uint8Array(10));
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join("");
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[^a-z0-9]/g, "");
