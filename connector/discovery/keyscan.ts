// SSH host-key discovery: a key exchange with ssh2 that records the server's host key and stops
// before authenticating (the verifier refuses every key). The result is a proposal an admin pins
// or not; nothing here trusts it.
import { Client } from "ssh2";
import { hostKeyFingerprint } from "../host-key.ts";

export type ScannedKey = { fingerprint: string; type: string };

/** The key type named at the start of an SSH public key blob (RFC 4253 §6.6: string, then data). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return len > 0 && len <= 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString("latin1") : "unknown";
}

export function keyscan(host: string, port: number, timeoutMs = 10_000): Promise<ScannedKey> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: ScannedKey | undefined;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      client.end();
      if (seen) resolve(seen);
      else reject(err ?? new Error("connection closed before the key exchange"));
    };
    client.on("error", finish);
    client.on("close", () => finish());
    client.on("ready", () => finish()); // cannot happen: the verifier refuses
    client.connect({
      host,
      port,
      username: "psm-keyscan",
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        seen = { fingerprint: hostKeyFingerprint(key), type: keyType(key) };
        return false;
      },
    });
  });
}
