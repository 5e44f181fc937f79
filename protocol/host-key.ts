// What an admin pastes as a host key: the bare fingerprint, or what `ssh-keyscan -p PORT HOST | ssh-keygen -lf -`
// prints (one line per key type: "256 SHA256:… host (ED25519)"). The form keeps the fingerprint; several
// different ones (a scan of every key type) are refused rather than guessed between.
import { HostKeyFingerprint } from "./tokens.ts";

export type HostKeyInput =
  | { ok: true; fingerprint: string }
  | { ok: false; problem: "none" | "several"; found: string[] };

export function parseHostKeyInput(text: string): HostKeyInput {
  const found = [...new Set(text.match(/SHA256:[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/=])/g) ?? [])].filter(
    (f) => HostKeyFingerprint.safeParse(f).success,
  );
  if (found.length === 1) return { ok: true, fingerprint: found[0]! };
  return { ok: false, problem: found.length === 0 ? "none" : "several", found };
}

export const HOST_KEY_INPUT_TEXT: Record<"none" | "several", string> = {
  none: "Host key: paste the SHA256 fingerprint, or a line of `ssh-keyscan -p PORT HOST | ssh-keygen -lf -`.",
  several:
    "Host key: that holds several keys. Paste the one line of the key type the server uses (usually ED25519), or scan with `ssh-keyscan -t ed25519 -p PORT HOST`.",
};
