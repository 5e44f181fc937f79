// A private rsyslogd from Debian as the on-prem syslog collector for tests: run in the foreground as our child
// (`rsyslogd -n`), never as the system service, with its config, work directory, pid file and output inside a temp
// dir. It listens on loopback with imtcp over TLS (RFC 5425, the OpenSSL stream driver), with a certificate from a
// test CA, and writes every message it receives, raw, one per line, to `received.log`. It can be stopped and
// started again on the same port (a collector that goes down and comes back).
import { existsSync, mkdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, type Proc, startProcess, waitForPort } from "../../scripts/stack/process.ts";
import { type Issued, testCa } from "./pki.ts";

export const RSYSLOGD = "/usr/sbin/rsyslogd";
/** The OpenSSL network stream driver (package rsyslog-openssl), in the multiarch directory. */
const osslDriver = () =>
  ["x86_64-linux-gnu", "aarch64-linux-gnu"].some((arch) => existsSync(`/usr/lib/${arch}/rsyslog/lmnsd_ossl.so`));

export const missingRsyslog = () =>
  !existsSync(RSYSLOGD)
    ? "rsyslog is not installed (apt-get install rsyslog rsyslog-openssl)"
    : !osslDriver()
      ? "rsyslog's OpenSSL stream driver is not installed (apt-get install rsyslog-openssl)"
      : undefined;

export type Rsyslog = {
  port: number;
  /** The CA that issued the collector's certificate (PEM file): the connector trusts it through `syslog.caFile`. */
  caFile: string;
  /** A client certificate from that CA, for a collector that requires mutual TLS. */
  client: Issued;
  /** Where every received message lands, one per line, exactly as it came (rsyslog's `%rawmsg%`). */
  file: string;
  /** The received messages so far (the lines of `file`). */
  lines: () => Promise<string[]>;
  /** Stops rsyslogd (SIGTERM; it closes its connections). */
  stop: () => Promise<void>;
  /** Starts it again on the same port, appending to the same file. */
  start: () => Promise<void>;
  output: () => string;
};

export async function startRsyslog(opts: {
  dir: string;
  /** `anon` (default): any client; `x509/certvalid`: the client must show a certificate from the test CA. */
  authMode?: "anon" | "x509/certvalid";
}): Promise<Rsyslog> {
  const dir = opts.dir;
  const work = join(dir, "rsyslog-work");
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const pki = testCa(dir, "rsyslog");
  const server = pki.server();
  const client = pki.client("psm-connector");
  const port = await freePort();
  const file = join(dir, "received.log");
  const conf = join(dir, "rsyslog.conf");
  await writeFile(
    conf,
    [
      // Messages carry an audit entry as JSON; the default 8 KiB would cut the larger ones.
      `global(workDirectory="${work}" maxMessageSize="64k"`,
      `  defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="${pki.cert}"`,
      `  defaultNetstreamDriverCertFile="${server.cert}" defaultNetstreamDriverKeyFile="${server.key}")`,
      // No imuxsock/imklog: this rsyslogd hears only its TLS port.
      `module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="${opts.authMode ?? "anon"}")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      'ruleset(name="audit") {',
      `  action(type="omfile" file="${file}" template="raw")`,
      "}",
      `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit")`,
      "",
    ].join("\n"),
  );
  let proc: Proc | undefined;
  const start = async () => {
    proc = startProcess(RSYSLOGD, ["-n", "-f", conf, "-i", join(dir, "rsyslogd.pid")], { name: "rsyslogd" });
    await waitForPort("rsyslogd", proc, port);
  };
  await start();
  return {
    port,
    caFile: pki.cert,
    client,
    file,
    lines: async () => {
      const text = await readFile(file, "utf8").catch(() => "");
      return text.split("\n").filter((l) => l.length > 0);
    },
    stop: async () => {
      await proc?.stop();
    },
    start,
    output: () => proc?.output() ?? "",
  };
}
