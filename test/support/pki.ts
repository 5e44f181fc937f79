// A throwaway PKI for TLS tests (openssl): a CA, a server certificate for 127.0.0.1, and client certificates.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });

export type Issued = { cert: string; key: string };

/** A CA in `dir` that issues certificates: `server()` for 127.0.0.1, `client(cn)` for mutual TLS. */
export function testCa(dir: string, name: string) {
  const ca = { cert: join(dir, `${name}-ca.pem`), key: join(dir, `${name}-ca.key`) };
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    ca.key,
    "-out",
    ca.cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name} test CA`,
  ]);
  const issue = (file: string, cn: string, ext: string): Issued => {
    const out = { cert: join(dir, `${file}.pem`), key: join(dir, `${file}.key`) };
    const csr = join(dir, `${file}.csr`);
    const extFile = join(dir, `${file}.ext`);
    writeFileSync(extFile, `${ext}\n`);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", out.key, "-out", csr, "-subj", `/CN=${cn}`]);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-out",
      out.cert,
      "-days",
      "2",
      "-extfile",
      extFile,
    ]);
    return out;
  };
  return {
    cert: ca.cert,
    server: () => issue(`${name}-server`, "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
    client: (cn: string) => issue(`${name}-client-${cn}`, cn, "extendedKeyUsage=clientAuth"),
  };
}

export const read = (file: string) => readFileSync(file);
