// SSH host key fingerprints in OpenSSH's format (`SHA256:` + unpadded base64 of the key blob's digest).
import { createHash } from "node:crypto";

export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}
