// A real SMTP relay on loopback for tests (smtp-server): STARTTLS with a test CA's certificate, AUTH PLAIN/LOGIN
// against one user, and scripted answers to DATA (refuse with 4xx or 5xx, then accept) to exercise retries.
import { SMTPServer } from "smtp-server";
import { freePort } from "../../scripts/stack/process.ts";
import { read, testCa } from "./pki.ts";

export type Delivered = { from: string; to: string[]; raw: string; queueId: string };
/** What the relay answers to the next DATA: accept, or refuse with this reply code and text. */
export type DataAnswer = "accept" | { code: number; text: string };

export type SmtpRelay = {
  port: number;
  /** The CA that issued the relay's certificate (PEM file): the connector trusts it through `mail.caFile`. */
  caFile: string;
  user: string;
  password: string;
  delivered: Delivered[];
  /** DATA commands seen (accepted or refused). */
  dataAttempts: () => number;
  /** Answers for the next DATA commands, in order; after them, every DATA is accepted. */
  script: (answers: DataAnswer[]) => void;
  /** Whether every session so far upgraded with STARTTLS before MAIL FROM. */
  allSecured: () => boolean;
  /** AUTH commands seen on a connection that was not encrypted (the password crossed in the clear). */
  clearAuths: () => number;
  stop: () => Promise<void>;
};

export async function startSmtpRelay(
  dir: string,
  creds: { user: string; password: string },
  /** `stripped`: offers no STARTTLS and takes AUTH in the clear, as a relay behind a STARTTLS-stripping attacker. */
  opts: { stripped?: boolean } = {},
): Promise<SmtpRelay> {
  const ca = testCa(dir, "smtp");
  const leaf = ca.server();
  const delivered: Delivered[] = [];
  let answers: DataAnswer[] = [];
  let attempts = 0;
  let insecure = 0;
  let clearAuths = 0;
  let queue = 0;
  const server = new SMTPServer({
    secure: false,
    key: read(leaf.key),
    cert: read(leaf.cert),
    authMethods: ["PLAIN", "LOGIN"],
    // AUTH only after STARTTLS (smtp-server's default for a plain port is to refuse it before).
    allowInsecureAuth: opts.stripped === true,
    hideSTARTTLS: opts.stripped === true,
    logger: false,
    onAuth(auth, session, callback) {
      if (!session.secure) clearAuths++;
      if (auth.username === creds.user && auth.password === creds.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Authentication credentials invalid"), { responseCode: 535 }));
    },
    onMailFrom(_address, session, callback) {
      if (!session.secure) insecure++;
      if (!session.user) return callback(Object.assign(new Error("Authentication required"), { responseCode: 530 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        attempts++;
        const answer = answers.shift() ?? "accept";
        if (answer !== "accept") {
          callback(Object.assign(new Error(answer.text), { responseCode: answer.code }));
          return;
        }
        const queueId = `Q${++queue}`;
        delivered.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
          queueId,
        });
        callback(null, `queued as ${queueId}`);
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port,
    caFile: ca.cert,
    ...creds,
    delivered,
    dataAttempts: () => attempts,
    script: (next) => {
      answers = [...next];
    },
    allSecured: () => insecure === 0,
    clearAuths: () => clearAuths,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
