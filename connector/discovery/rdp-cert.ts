// RDP certificate discovery, the way keyscan reads SSH host keys: an X.224 connection request asking for TLS
// (MS-RDPBCGR 2.2.1.1), the TLS handshake on the same socket, the server's certificate read, and the socket
// closed before any credential is sent. The fingerprint is a proposal an admin pins or not; nothing here trusts it.
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export type ScannedCert = { fingerprint: string };

/**
 * TPKT (RFC 1006) + X.224 Connection Request + RDP_NEG_REQ asking for TLS or CredSSP, 19 bytes:
 *   03 00 00 13          TPKT: version 3, reserved, length 19
 *   0e e0 00 00 00 00 00 X.224 CR: length indicator 14, CR code, dst-ref 0, src-ref 0, class 0
 *   01 00 08 00          RDP_NEG_REQ: type 1, flags 0, length 8
 *   03 00 00 00          requestedProtocols: PROTOCOL_SSL | PROTOCOL_HYBRID (little endian)
 */
const CONNECTION_REQUEST = Buffer.from("03000013" + "0ee00000000000" + "01000800" + "03000000", "hex");

/** The longest X.224 Connection Confirm we read: 64 bytes (the real one is 19). */
const MAX_CONFIRM = 64;

/** The selected protocol out of an X.224 Connection Confirm, or why the server will not do TLS. */
export function negotiated(confirm: Buffer): { ok: true; protocol: number } | { ok: false; why: string } {
  if (confirm.length < 11 || confirm[0] !== 3) return { ok: false, why: "not a TPKT" };
  if (((confirm[5] ?? 0) & 0xf0) !== 0xd0) return { ok: false, why: "not an X.224 connection confirm" };
  if (confirm.length < 19) return { ok: false, why: "no negotiation (standard RDP security only)" };
  const type = confirm[11];
  if (type === 3) return { ok: false, why: `negotiation failure ${confirm.readUInt32LE(15)}` };
  if (type !== 2) return { ok: false, why: "unknown negotiation response" };
  const protocol = confirm.readUInt32LE(15);
  return protocol === 0 ? { ok: false, why: "standard RDP security only" } : { ok: true, protocol };
}

/** `SHA256:` + unpadded base64 of the DER's SHA-256: what the bridge compares and a server entry pins. */
export function certFingerprint(der: Buffer): string {
  return `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
}

export function rdpCertScan(host: string, port: number, timeoutMs = 10_000): Promise<ScannedCert> {
  return new Promise((resolve, reject) => {
    let done = false;
    let tcp: Socket | undefined;
    const timer = setTimeout(() => finish(new Error("timed out")), timeoutMs);
    const finish = (err: Error | null, cert?: ScannedCert) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      tcp?.destroy();
      if (cert) resolve(cert);
      else reject(err ?? new Error("closed"));
    };
    tcp = connect({ host, port });
    tcp.on("error", (err) => finish(err));
    tcp.on("close", () => finish(new Error("closed before the certificate")));
    tcp.once("connect", () => tcp!.write(CONNECTION_REQUEST));
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got[0] !== 3) return finish(new Error("not a TPKT"));
      if (got.length < 4) return;
      const length = got.readUInt16BE(2);
      if (length > MAX_CONFIRM) return finish(new Error("connection confirm too long"));
      if (got.length < length) return;
      tcp!.off("data", onData);
      const answer = negotiated(got.subarray(0, length));
      if (!answer.ok) return finish(new Error(answer.why));
      // TLS on the same socket; the certificate is what we came for, so it is not verified here.
      const tls = tlsConnect({ socket: tcp!, rejectUnauthorized: false });
      tls.on("error", (err) => finish(err));
      tls.once("secureConnect", () => {
        const der = tls.getPeerCertificate().raw;
        tls.destroy();
        if (!der?.length) return finish(new Error("no certificate"));
        finish(null, { fingerprint: certFingerprint(der) });
      });
    };
    tcp.on("data", onData);
  });
}
