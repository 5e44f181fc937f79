// A private OpenLDAP slapd standing in for Active Directory: a small AD-like schema (computer,
// dNSHostName, operatingSystem, sAMAccountName with AD's OIDs), an mdb database in a folder of
// ours filled by slapadd, a CA and server certificate for LDAPS and StartTLS, on loopback ports.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, type Proc, startProcess, waitForPort } from "../../scripts/stack/process.ts";
import { testCa } from "./pki.ts";

export const SLAPD = "/usr/sbin/slapd";
export const missingSlapd = () =>
  existsSync(SLAPD) && existsSync("/usr/sbin/slapadd")
    ? undefined
    : "OpenLDAP slapd is not installed (apt-get install slapd ldap-utils)";

const AD_SCHEMA = `
attributetype ( 1.2.840.113556.1.4.619 NAME 'dNSHostName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.363 NAME 'operatingSystem'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.365 NAME 'operatingSystemVersion'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.3.30 NAME 'computer' SUP top STRUCTURAL
  MUST cn MAY ( dNSHostName $ operatingSystem $ operatingSystemVersion $ sAMAccountName $ description ) )
`;

export type Slapd = {
  ldapUrl: string;
  ldapsUrl: string;
  caFile: string;
  baseDN: string;
  bindDN: string;
  bindPassword: string;
  proc: Proc;
  stop: () => Promise<void>;
};

/** Starts slapd with `computers` computer objects under OU=Servers plus a few non-computers. */
export async function startSlapd(opts: {
  dir: string;
  bindPassword: string;
  computers: { cn: string; dNSHostName?: string; os?: string }[];
  /** People under OU=People who bind with their password and may change it themselves (RFC 3062). */
  people?: { cn: string; password: string }[];
}): Promise<Slapd> {
  const dir = opts.dir;
  mkdirSync(join(dir, "db"), { recursive: true, mode: 0o700 });
  const baseDN = "dc=corp,dc=example";
  const bindDN = `cn=admin,${baseDN}`;
  // A CA and a server certificate for 127.0.0.1 (LDAPS and StartTLS verify against the CA).
  const pki = testCa(dir, "slapd");
  const ca = pki.cert;
  const { cert: crt, key } = pki.server();
  await writeFile(join(dir, "ad.schema"), AD_SCHEMA);
  const conf = join(dir, "slapd.conf");
  const hash = execFileSync("slappasswd", ["-s", opts.bindPassword], { encoding: "utf8" }).trim();
  await writeFile(
    conf,
    [
      "include /etc/ldap/schema/core.schema",
      `include ${join(dir, "ad.schema")}`,
      `pidfile ${join(dir, "slapd.pid")}`,
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      `TLSCACertificateFile ${ca}`,
      `TLSCertificateFile ${crt}`,
      `TLSCertificateKeyFile ${key}`,
      "sizelimit unlimited",
      "database mdb",
      `suffix "${baseDN}"`,
      `rootdn "${bindDN}"`,
      `rootpw ${hash}`,
      `directory ${join(dir, "db")}`,
      "maxsize 104857600",
      `access to attrs=userPassword by self write by anonymous auth by dn.exact="${bindDN}" write by * none`,
      `access to * by dn.exact="${bindDN}" read by self read by * none`,
      "",
    ].join("\n"),
  );
  const entries = [
    `dn: ${baseDN}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: corp\ndc: corp`,
    `dn: ou=Servers,${baseDN}\nobjectClass: organizationalUnit\nou: Servers`,
    `dn: ou=People,${baseDN}\nobjectClass: organizationalUnit\nou: People`,
    `dn: cn=Not A Computer,ou=People,${baseDN}\nobjectClass: person\ncn: Not A Computer\nsn: Person`,
    ...(opts.people ?? []).map((p) =>
      [
        `dn: cn=${p.cn},ou=People,${baseDN}`,
        "objectClass: person",
        `cn: ${p.cn}`,
        "sn: Account",
        `userPassword: ${execFileSync("slappasswd", ["-s", p.password], { encoding: "utf8" }).trim()}`,
      ].join("\n"),
    ),
    ...opts.computers.map((c) =>
      [
        `dn: cn=${c.cn},ou=Servers,${baseDN}`,
        "objectClass: computer",
        `cn: ${c.cn}`,
        `sAMAccountName: ${c.cn}$`,
        ...(c.dNSHostName ? [`dNSHostName: ${c.dNSHostName}`] : []),
        ...(c.os ? [`operatingSystem: ${c.os}`] : []),
      ].join("\n"),
    ),
  ];
  const ldif = join(dir, "seed.ldif");
  await writeFile(ldif, `${entries.join("\n\n")}\n`);
  execFileSync("slapadd", ["-f", conf, "-l", ldif], { stdio: ["ignore", "ignore", "pipe"] });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const proc = startProcess(
    SLAPD,
    ["-d", "0", "-f", conf, "-h", `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`],
    { name: "slapd" },
  );
  for (const p of [port, tlsPort]) {
    await waitForPort("slapd", proc, p);
  }
  return {
    ldapUrl: `ldap://127.0.0.1:${port}`,
    ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
    caFile: ca,
    baseDN,
    bindDN,
    bindPassword: opts.bindPassword,
    proc,
    stop: () => proc.stop(),
  };
}
