// A second real RDP server for tests, one that does NLA: FreeRDP's shadow server (freerdp-shadow-cli 2.11,
// Debian's freerdp2-shadow-x11) sharing an Xvfb display painted a known colour. It offers NLA only
// (`/sec:nla`; CredSSP with NTLM checked against its own SAM file), listens on a free loopback port and
// presents a certificate made here, so a server entry can pin it. Everything it writes stays in `dir`.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { certificateFingerprint } from "../../scripts/stack/xrdp.ts";
import { freePort, type Proc, startProcess, waitFor, waitForPort } from "../../scripts/stack/process.ts";

export const SHADOW_CLI = "/usr/bin/freerdp-shadow-cli";
export const XVFB = "/usr/bin/Xvfb";
const XSETROOT = "/usr/bin/xsetroot";

/** The shadowed display's root window colour (RGB), so a test can recognise the desktop in a frame. */
export const SHADOW_BACKGROUND = { r: 0x8b, g: 0x3a, b: 0x1f } as const;
const BACKGROUND_HEX = "#8b3a1f";
/** The shadowed display's size, in pixels: the desktop size the server announces whatever the client asks. */
export const SHADOW_SCREEN = { width: 1024, height: 768 } as const;

export function shadowMissing(): string | undefined {
  if (!existsSync(SHADOW_CLI) || !existsSync(XVFB))
    return "FreeRDP's shadow server and Xvfb are not installed (apt-get install freerdp2-shadow-x11 xvfb)";
  if (!existsSync(XSETROOT)) return "the shadowed desktop is painted with xsetroot (apt-get install x11-xserver-utils)";
  return undefined;
}

/** An account the server's SAM file accepts over NLA (NTLM). */
export type ShadowAccount = { username: string; domain: string; password: string };

export type ShadowRdp = {
  port: number;
  /** `SHA256:<base64>` of the DER certificate the server presents: what a server entry pins. */
  certFingerprint: string;
  /** What the shadow server logged (FreeRDP's log at WARN and up). */
  log: () => string;
  /** CredSSP handshakes the server has begun: each is an NTLM message from a client, i.e. NLA reached it. */
  nlaHandshakes: () => number;
  stop: () => Promise<void>;
};

/** A self-signed RSA certificate (FreeRDP 2 servers take RSA keys) and its pin. */
export function makeCertificate(cert: string, key: string, name: string): string {
  const subject = `/CN=${name}`;
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject, "-keyout", key, "-out", cert],
    {
      stdio: "ignore",
    },
  );
  return certificateFingerprint(execFileSync("openssl", ["x509", "-in", cert], { encoding: "utf8" }));
}

/**
 * The NT hash (MD4 of the UTF-16LE password) as the SAM file holds it. OpenSSL 3 keeps MD4 in its legacy
 * provider (Node's crypto refuses it); the password goes over stdin, never on a command line.
 */
function ntHash(password: string): string {
  const out = execFileSync("openssl", ["dgst", "-md4", "-provider", "legacy", "-provider", "default", "-r"], {
    input: Buffer.from(password, "utf16le"),
    encoding: "utf8",
  });
  const hash = /^([0-9a-f]{32})\b/.exec(out)?.[1];
  if (!hash) throw new Error("openssl gave no MD4 digest (is its legacy provider installed?)");
  return hash;
}

/** One SAM line per account, as winpr-hash writes them: `user:domain:LM hash:NT hash:::` (no LM hash). */
export function samEntry(account: ShadowAccount): string {
  return `${account.username}:${account.domain}::${ntHash(account.password)}:::`;
}

/** Lines FreeRDP's server logs (WARN) for the first NTLM message of each CredSSP handshake. */
const HANDSHAKE_LINE = /AcceptSecurityContext status SEC_I_CONTINUE_NEEDED/g;

export async function startShadowRdp(opts: { dir: string; accounts: ShadowAccount[] }): Promise<ShadowRdp> {
  // The server reads its certificate from $XDG_CONFIG_HOME/freerdp/shadow/shadow.{crt,key} and makes one
  // there only when none exists: ours goes there first.
  const certDir = join(opts.dir, "config", "freerdp", "shadow");
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  const certFingerprint = makeCertificate(join(certDir, "shadow.crt"), join(certDir, "shadow.key"), "psm-test-shadow");
  const sam = join(opts.dir, "sam");
  await writeFile(sam, `${opts.accounts.map(samEntry).join("\n")}\n`, { mode: 0o600 });

  // Xvfb picks a free display itself and writes its number to stdout (-displayfd 1).
  const { width, height } = SHADOW_SCREEN;
  const xvfb = startProcess(
    XVFB,
    ["-displayfd", "1", "-noreset", "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp"],
    {
      name: "xvfb",
    },
  );
  let shadow: Proc | undefined;
  const stop = async () => {
    await shadow?.stop();
    await xvfb.stop();
  };
  try {
    const display = await waitFor("Xvfb's display number", async () => {
      if (xvfb.child.exitCode !== null) throw new Error(`Xvfb exited: ${xvfb.output()}`);
      return /^(\d+)\n/m.exec(xvfb.output())?.[1];
    });
    const env = {
      PATH: "/usr/bin:/bin",
      DISPLAY: `:${display}`,
      HOME: opts.dir,
      XDG_CONFIG_HOME: join(opts.dir, "config"),
    };
    execFileSync(XSETROOT, ["-solid", BACKGROUND_HEX], { env, stdio: "ignore" });
    const port = await freePort();
    shadow = startProcess(
      SHADOW_CLI,
      [`/bind-address:127.0.0.1`, `/port:${port}`, "/sec:nla", `/sam-file:${sam}`],
      // FreeRDP logs at WARN by default; pinned, since nlaHandshakes reads WARN lines.
      { name: "freerdp-shadow", env: { ...env, WLOG_LEVEL: "WARN" } },
    );
    await waitForPort("freerdp-shadow-cli", shadow, port);
    const server = shadow;
    return {
      port,
      certFingerprint,
      log: () => server.output(),
      nlaHandshakes: () => server.output().match(HANDSHAKE_LINE)?.length ?? 0,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
