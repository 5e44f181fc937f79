// The RDP certificate probe against an in-process server: X.224 negotiation answered, then TLS with a known
// certificate; and the refusals (standard RDP security only, not RDP at all, nothing listening).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { certificateFingerprint } from "../../scripts/stack/xrdp.ts";
import { negotiated, rdpCertScan } from "./rdp-cert.ts";

/** X.224 Connection Confirm with an RDP_NEG_RSP selecting `protocol` (or RDP_NEG_FAILURE when `failure`). */
const confirm = (protocol: number, failure = false) => {
  const b = Buffer.from("030000130ed000001234000200080000000000", "hex");
  if (failure) b[11] = 3;
  b.writeUInt32LE(protocol, 15);
  return b;
};

describe("the X.224 answer", () => {
  it("gives the protocol the server chose, or why there is no TLS", () => {
    expect(negotiated(confirm(1))).toEqual({ ok: true, protocol: 1 });
    expect(negotiated(confirm(2))).toEqual({ ok: true, protocol: 2 });
    expect(negotiated(confirm(0))).toMatchObject({ ok: false });
    expect(negotiated(confirm(5, true))).toEqual({ ok: false, why: "negotiation failure 5" });
    expect(negotiated(Buffer.from("SSH-2.0-OpenSSH_9.2\r\n"))).toEqual({ ok: false, why: "not a TPKT" });
  });
});

describe("rdpCertScan", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());
  const listen = async (onSocket: Parameters<typeof createServer>[1]) => {
    server = createServer(onSocket!);
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    return (server.address() as { port: number }).port;
  };

  it("reads the certificate after the negotiation and sends nothing more", async () => {
    const dir = mkdtempSync(join(tmpdir(), "psm-rdpcert-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=psm-rdp-probe",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    let request: Buffer | undefined;
    const port = await listen((socket) => {
      socket.once("data", (data) => {
        request = data;
        socket.write(confirm(1));
        new TLSSocket(socket, { isServer: true, cert, key: readFileSync(join(dir, "key.pem")) });
      });
    });
    expect(await rdpCertScan("127.0.0.1", port)).toEqual({ fingerprint: certificateFingerprint(cert) });
    // TPKT, X.224 CR, RDP_NEG_REQ asking for TLS or CredSSP: no cookie, no user name.
    expect(request?.toString("hex")).toBe("030000130ee000000000000100080003000000");
  });

  it("refuses a server without TLS, a server that is not RDP, and a closed port", async () => {
    const plain = await listen((socket) => socket.once("data", () => socket.write(confirm(0))));
    await expect(rdpCertScan("127.0.0.1", plain)).rejects.toThrow(/standard RDP security/);
    server?.close();
    const ssh = await listen((socket) => socket.write("SSH-2.0-OpenSSH_9.2\r\n"));
    await expect(rdpCertScan("127.0.0.1", ssh, 2_000)).rejects.toThrow(/not a TPKT/);
    server?.close();
    await expect(rdpCertScan("127.0.0.1", 9)).rejects.toThrow();
  });
});
