// The connector's mail relaying against a real SMTP server on loopback (smtp-server, STARTTLS with a test CA, AUTH):
// accepted once, refused 4xx then accepted (one message), 5xx permanent, a job id accepted before never sent again.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailJob } from "../protocol/index.ts";
import { type SmtpRelay, startSmtpRelay } from "../test/support/smtp-relay.ts";
import { generateSealKey, publicJwk } from "./keys.ts";
import { MailRelayer } from "./mail.ts";
import { sealSecret } from "./seal.ts";

const PASSWORD = `relay-Canary-${Math.random().toString(36).slice(2)}`;
let dir: string;
let relay: SmtpRelay;
let siteKey: Awaited<ReturnType<typeof generateSealKey>>;
let sealedPassword: string;
const lines: string[] = [];
const log = (event: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ event, ...fields }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "psm-mail-"));
  relay = await startSmtpRelay(dir, { user: "psm-relay", password: PASSWORD });
  siteKey = await generateSealKey();
  sealedPassword = await sealSecret(publicJwk(siteKey), PASSWORD);
});
afterAll(async () => {
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function job(over: Partial<MailJob["relay"]> = {}): MailJob {
  const id = `job-${++n}`;
  return {
    type: "mail",
    jobId: id,
    relay: {
      host: "127.0.0.1",
      port: relay.port,
      tls: "required",
      user: relay.user,
      password: sealedPassword,
      ...over,
    },
    from: "psm@example.com",
    to: "alice@example.com",
    raw: `From: psm@example.com\r\nTo: alice@example.com\r\nSubject: ${id}\r\n\r\nhello ${id}\r\n`,
  };
}

const relayer = (state = join(dir, "state"), caFile: string | null = relay.caFile) =>
  new MailRelayer({ stateDir: state, sealKey: () => siteKey, ...(caFile ? { caFile } : {}), log });

describe("mail through the connector", () => {
  it("relays over STARTTLS with AUTH; the relay's 2xx and queue id come back", async () => {
    const before = relay.delivered.length;
    const answer = await relayer().handle(job());
    expect(answer.result).toMatchObject({ outcome: "accepted" });
    expect(answer.result.outcome === "accepted" && answer.result.response).toMatch(/^250 .*queued as Q\d+/);
    expect(relay.delivered.length).toBe(before + 1);
    expect(relay.delivered.at(-1)).toMatchObject({ from: "psm@example.com", to: ["alice@example.com"] });
    expect(relay.allSecured()).toBe(true);
  });

  it("a 4xx is retryable; the retry is accepted and exactly one message arrives", async () => {
    const r = relayer();
    const j = job();
    relay.script([{ code: 451, text: "4.3.0 try again later" }]);
    const before = relay.delivered.length;
    const first = await r.handle(j);
    expect(first.result).toEqual({ outcome: "failed", retryable: true, error: expect.stringMatching(/^smtp 451/) });
    const second = await r.handle(j);
    expect(second.result.outcome).toBe("accepted");
    expect(relay.delivered.length).toBe(before + 1);
  });

  it("a job id the relay accepted is answered `accepted` again without sending, also after a restart", async () => {
    const j = job();
    expect((await relayer().handle(j)).result.outcome).toBe("accepted");
    const attempts = relay.dataAttempts();
    const delivered = relay.delivered.length;
    // The same process, and a new one on the same state dir (the edge's answer was lost and it asks again).
    const again = await relayer().handle(j);
    const fresh = await new MailRelayer({ stateDir: join(dir, "state"), sealKey: () => siteKey, log }).handle(j);
    for (const a of [again, fresh]) expect(a.result.outcome).toBe("accepted");
    expect(relay.dataAttempts()).toBe(attempts);
    expect(relay.delivered.length).toBe(delivered);
  });

  it("two copies of one job at once send one message", async () => {
    const r = relayer();
    const j = job();
    const delivered = relay.delivered.length;
    const [a, b] = await Promise.all([r.handle(j), r.handle(j)]);
    expect([a.result.outcome, b.result.outcome]).toEqual(["accepted", "accepted"]);
    expect(relay.delivered.length).toBe(delivered + 1);
  });

  it("a 5xx is permanent (not retryable)", async () => {
    relay.script([{ code: 550, text: "5.7.1 relaying denied" }]);
    const answer = await relayer().handle(job());
    expect(answer.result).toEqual({ outcome: "failed", retryable: false, error: expect.stringMatching(/^smtp 550/) });
  });

  it("a wrong password is the relay's 535: permanent, and the password is in no answer or log line", async () => {
    const wrong = await sealSecret(publicJwk(siteKey), `${PASSWORD}-wrong`);
    const answer = await relayer().handle(job({ password: wrong }));
    expect(answer.result).toMatchObject({ outcome: "failed", retryable: false });
    expect(JSON.stringify(answer)).not.toContain(PASSWORD);
    expect(lines.join("\n")).not.toContain(PASSWORD);
  });

  it("a relay whose certificate the connector does not trust is not sent to (retryable)", async () => {
    const delivered = relay.delivered.length;
    const answer = await relayer(join(dir, "state-2"), null).handle(job());
    expect(answer.result).toMatchObject({ outcome: "failed", retryable: true });
    expect(relay.delivered.length).toBe(delivered);
  });

  it("attack: STARTTLS stripped from an opportunistic relay: the password is never sent in the clear", async () => {
    await mkdir(join(dir, "stripped"));
    const stripped = await startSmtpRelay(
      join(dir, "stripped"),
      { user: "psm-relay", password: PASSWORD },
      { stripped: true },
    );
    try {
      const answer = await relayer(join(dir, "state-stripped")).handle(
        job({ tls: "opportunistic", port: stripped.port }),
      );
      expect(answer.result.outcome).toBe("failed");
      expect(stripped.clearAuths()).toBe(0);
      expect(stripped.delivered).toHaveLength(0);
      expect(JSON.stringify(answer)).not.toContain(PASSWORD);
    } finally {
      await stripped.stop();
    }
  });

  it("a password sealed to another site's key is refused before any connection", async () => {
    const other = await sealSecret(publicJwk(await generateSealKey()), PASSWORD);
    const attempts = relay.dataAttempts();
    const answer = await relayer().handle(job({ password: other }));
    expect(answer.result).toMatchObject({ outcome: "failed", retryable: false });
    expect(relay.dataAttempts()).toBe(attempts);
  });
});
