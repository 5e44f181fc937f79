// The connector's settings file (`config.json` in the state dir, beside the keys): allowed target
// ranges, the credential provider and its EmpowerID settings, discovery jobs, the mail and syslog TLS files, the
// metrics port.
// Everything is optional with documented defaults; cloud and EmpowerID secrets stay in this file,
// on the connector host, and are never sent to the edge or logged.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { DEFAULT_ENTERPRISE_NUMBER, DEFAULT_OVERLAP, MAX_OVERLAP } from "./audit-syslog.ts";
import { DiscoveryConfig } from "./discovery/config.ts";
import { EmpowerIdConfig } from "./empowerid-config.ts";
import { DEFAULT_ALLOWED_RANGES, parseCidr } from "./target-policy.ts";
import { parseSecretJson } from "./json-file.ts";

const cidr = z.string().refine((s) => {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}, "not an address range (e.g. 10.0.0.0/8)");

export const ConnectorConfig = z.strictObject({
  /** Address ranges sessions may target. Loopback only if a range inside 127.0.0.0/8 or ::1 is named. */
  allowedTargets: z.array(cidr).min(1).default(DEFAULT_ALLOWED_RANGES),
  /** Where credentials come from: the blob sealed to the site key (default) or EmpowerID. */
  credentialProvider: z.enum(["sealed", "empowerid"]).default("sealed"),
  empowerid: EmpowerIdConfig.optional(),
  /** Discovery jobs (AD/LDAP, EC2, Azure, vCenter, keyscan); none when absent. */
  discovery: DiscoveryConfig.optional(),
  /** CA bundle (PEM) that directory servers' certificates chain to, for rotating directory accounts. */
  directoryCaFile: z.string().optional(),
  /** Mail to the organisation's SMTP relay (connector/mail.ts): a CA bundle (PEM) its certificate may chain to. */
  mail: z.strictObject({ caFile: z.string().optional() }).optional(),
  /**
   * The audit stream's syslog sink (connector/audit-syslog.ts, docs/audit.md): the CA bundle (PEM) the collector's
   * certificate must chain to (absent: the system's roots), a client certificate and key for mutual TLS, the
   * HOSTNAME the messages carry (absent: this host's name), how many messages are written again after a reconnect,
   * and the enterprise number in the SD-ID (`psm@<n>`; 32473 is RFC 5612's documentation number).
   */
  syslog: z
    .strictObject({
      caFile: z.string().optional(),
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      hostname: z
        .string()
        .min(1)
        .max(255)
        .regex(/^[\x21-\x7e]+$/, "printable US-ASCII without spaces")
        .optional(),
      overlap: z.number().int().min(0).max(MAX_OVERLAP).default(DEFAULT_OVERLAP),
      enterpriseNumber: z.number().int().min(1).max(2_147_483_647).default(DEFAULT_ENTERPRISE_NUMBER),
    })
    .refine((s) => Boolean(s.certFile) === Boolean(s.keyFile), "certFile and keyFile go together")
    .optional(),
  /** Prometheus metrics on 127.0.0.1:<port> (0: any free port; absent: 9465). Local only by design. */
  metricsPort: z.number().int().min(0).max(65535).default(9465),
});
export type ConnectorConfig = z.infer<typeof ConnectorConfig>;

export const CONFIG_FILE = "config.json";

export async function loadConfig(stateDir: string): Promise<ConnectorConfig> {
  const text = await readFile(join(stateDir, CONFIG_FILE), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "{}";
    throw err;
  });
  // This file holds the EmpowerID and cloud secrets: a parse error names it, never quotes it.
  const parsed = ConnectorConfig.safeParse(parseSecretJson(text, join(stateDir, CONFIG_FILE)));
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`${join(stateDir, CONFIG_FILE)} is invalid: ${where}`);
  }
  if (parsed.data.credentialProvider === "empowerid" && !parsed.data.empowerid) {
    throw new Error(`${join(stateDir, CONFIG_FILE)}: credentialProvider "empowerid" needs an "empowerid" section`);
  }
  return parsed.data;
}
