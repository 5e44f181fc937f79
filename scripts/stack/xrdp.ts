// A private xrdp + xrdp-sesman on loopback for tests and the dev stack: own config folder, own ports,
// own self-signed certificate, and a session that paints a known background colour and starts xterm.
// xrdp reads sesman's port from /etc/xrdp/sesman.ini (compiled in), so both run in a private mount
// namespace where our folder is bind-mounted over /etc/xrdp; nothing outside our folder changes.
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { chmod, cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, type Proc, startProcess, waitForPort } from "./process.ts";

export const XRDP = "/usr/sbin/xrdp";
export const XRDP_SESMAN = "/usr/sbin/xrdp-sesman";

/** The X root window colour of every test session (RGB), so a test can recognise the first frame. */
export const DESKTOP_BACKGROUND = { r: 0x1f, g: 0x6f, b: 0x8b } as const;
const BACKGROUND_HEX = "#1f6f8b";

export function xrdpMissing(): string | undefined {
  if (!existsSync(XRDP) || !existsSync(XRDP_SESMAN)) return "xrdp is not installed (apt-get install xrdp xorgxrdp)";
  if (!existsSync("/usr/lib/xorg/modules/drivers/xrdpdev_drv.so")) return "xorgxrdp is not installed";
  if (!existsSync("/usr/bin/xterm") || !existsSync("/usr/bin/xsetroot") || !existsSync("/usr/bin/xclip"))
    return "the test desktop needs xterm, x11-xserver-utils and xclip";
  if (process.getuid?.() !== 0) return "a private xrdp needs root (mount namespace, session users)";
  return undefined;
}

export type Xrdp = {
  port: number;
  /** `SHA256:<base64>` of the DER certificate xrdp presents: what a server entry pins. */
  certFingerprint: string;
  dir: string;
  log: () => Promise<string>;
  proc: Proc;
  stop: () => Promise<void>;
};

/** SHA-256 of a certificate's DER bytes in the pin format (`SHA256:` + unpadded base64). */
export function certificateFingerprint(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
}

/**
 * `slowPathInput`: take input only as slow-path PDUs (`use_fastpath=output`). xrdp (to 0.10.1) drops the E1
 * prefix of fast-path key events, which the Pause key needs (docs/rdp.md); slow path keeps it.
 */
export async function startXrdp(opts: { dir: string; slowPathInput?: boolean }): Promise<Xrdp> {
  const etc = join(opts.dir, "etc");
  const run = join(opts.dir, "run");
  mkdirSync(run, { recursive: true, mode: 0o755 });
  if (!existsSync(etc)) await cp("/etc/xrdp", etc, { recursive: true, dereference: true });
  const cert = join(etc, "psm-cert.pem");
  const key = join(etc, "psm-key.pem");
  if (!existsSync(cert))
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=psm-test-xrdp",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
  const [port, sesmanPort] = [await freePort(), await freePort()];
  // Displays start high and at random so parallel stacks do not race for the same X display.
  const displayOffset = 200 + Math.floor(Math.random() * 600);
  await writeFile(
    join(etc, "xrdp.ini"),
    [
      "[Globals]",
      "ini_version=1",
      "fork=true",
      `port=tcp://127.0.0.1:${port}`,
      "tcp_nodelay=true",
      "security_layer=negotiate",
      "crypt_level=high",
      `certificate=${cert}`,
      `key_file=${key}`,
      "ssl_protocols=TLSv1.2, TLSv1.3",
      "allow_channels=true",
      "max_bpp=32",
      "new_cursors=true",
      `use_fastpath=${opts.slowPathInput ? "output" : "both"}`,
      "autorun=Xorg",
      "[Logging]",
      `LogFile=${join(opts.dir, "xrdp.log")}`,
      "LogLevel=INFO",
      "EnableSyslog=false",
      "[Channels]",
      "rdpdr=false",
      "rdpsnd=false",
      "drdynvc=true",
      "cliprdr=true",
      "rail=false",
      "xrdpvr=false",
      "[Xorg]",
      "name=Xorg",
      "lib=libxup.so",
      "username=ask",
      "password=ask",
      "ip=127.0.0.1",
      "port=-1",
      "code=20",
      "",
    ].join("\n"),
  );
  const sesman = (await readFile(join(etc, "sesman.ini"), "utf8"))
    .replace(/^ListenPort=.*$/m, `ListenPort=${sesmanPort}`)
    .replace(/^ListenAddress=.*$/m, "ListenAddress=127.0.0.1")
    .replace(/^KillDisconnected=.*$/m, "KillDisconnected=true")
    .replace(/^DisconnectedTimeLimit=.*$/m, "DisconnectedTimeLimit=60")
    .replace(/^X11DisplayOffset=.*$/m, `X11DisplayOffset=${displayOffset}`)
    .replace(/^AllowRootLogin=.*$/m, "AllowRootLogin=false")
    .replace(/^EnableUserWindowManager=.*$/m, "EnableUserWindowManager=false")
    .replace(/^LogFile=xrdp-sesman\.log$/m, `LogFile=${join(opts.dir, "sesman.log")}`)
    .replace(/^EnableSyslog=.*$/gm, "EnableSyslog=false");
  await writeFile(join(etc, "sesman.ini"), sesman);
  // The desktop: a known background and an xterm at the top left (no window manager, so keys go
  // to the window under the pointer). The session ends when the xterm does.
  await writeFile(
    join(etc, "startwm.sh"),
    [
      "#!/bin/sh",
      `xsetroot -solid '${BACKGROUND_HEX}'`,
      // allowWindowOps lets the benchmark move the window from its shell (CSI 3 ; x ; y t).
      "exec xterm -geometry 80x24+0+0 -bg black -fg white -xrm 'XTerm*allowWindowOps: true'",
      "",
    ].join("\n"),
  );
  await chmod(join(etc, "startwm.sh"), 0o755);
  const launcher = join(opts.dir, "launch.sh");
  await writeFile(
    launcher,
    [
      "#!/bin/sh",
      "set -e",
      `mount --bind '${etc}' /etc/xrdp`,
      `mount --bind '${run}' /run/xrdp`,
      `${XRDP_SESMAN} --nodaemon --config '${join(etc, "sesman.ini")}' &`,
      `exec ${XRDP} --nodaemon --config '${join(etc, "xrdp.ini")}'`,
      "",
    ].join("\n"),
  );
  await chmod(launcher, 0o755);
  mkdirSync("/run/xrdp", { recursive: true });
  const proc = startProcess("unshare", ["--mount", "--propagation", "private", launcher], { name: "xrdp" });
  await waitForPort("xrdp", proc, port);
  const log = async () =>
    [
      proc.output(),
      await readFile(join(opts.dir, "xrdp.log"), "utf8").catch(() => ""),
      await readFile(join(opts.dir, "sesman.log"), "utf8").catch(() => ""),
    ].join("\n");
  return {
    port,
    certFingerprint: certificateFingerprint(await readFile(cert, "utf8")),
    dir: opts.dir,
    log,
    proc,
    stop: () => proc.stop(),
  };
}
