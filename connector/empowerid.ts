// The `empowerid` credential provider: the connector, on-prem, asks EmpowerID to authorise this
// user's checkout of this credential and release it, then reports the session's stages (connected,
// polling / last reported, ended) the way EmpowerID's secure access gateway APIs do. Paths and
// field names come from EmpowerIdConfig (docs/empowerid.md: known vs assumed).
import { readFileSync } from "node:fs";
import type { JWK } from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import { z } from "zod";
import type { EndReason } from "../protocol/index.ts";
import {
  type CredentialProvider,
  CredentialRefused,
  CredentialUnavailable,
  type Release,
  type ReleaseRequest,
} from "./credentials.ts";
import type { EmpowerIdConfig } from "./empowerid-config.ts";
import { faultFields } from "./fault.ts";
import type { Log } from "./log.ts";
import { ClientCredentials, readCapped } from "./oauth-client.ts";
import { openSealed } from "./seal.ts";

/** Largest answer read from EmpowerID: 64 KiB (a private key is ~3 KiB). */
const MAX_ANSWER_BYTES = 64 * 1024;

type Answer = { status: number; body: unknown };

export class EmpowerIdProvider implements CredentialProvider {
  readonly name = "empowerid";
  private readonly oauth: ClientCredentials;
  /** Every call's fetch: bound to the client certificate when mutual TLS is configured. */
  private readonly fetch: typeof fetch;

  constructor(
    private readonly config: EmpowerIdConfig,
    /** The site key held now (it changes when the site's key rotates). */
    private readonly sealKey: () => JWK,
    private readonly log: Log,
  ) {
    this.fetch = empowerIdFetch(config);
    this.oauth = new ClientCredentials({
      tokenUrl: new URL(config.tokenPath, config.baseUrl).href,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      clientAuth: config.clientAuth,
      scope: config.scope,
      timeoutMs: config.timeoutMs,
      headers: this.apiKeyHeaders(),
      fetch: this.fetch,
    });
  }

  async release({ sessionId, grant, terminate }: ReleaseRequest): Promise<Release> {
    const f = this.config.fields;
    let masterPassword: Buffer | undefined;
    try {
      masterPassword = grant.cred.mp ? await openSealed(this.sealKey(), grant.cred.mp) : undefined;
    } catch (err) {
      throw new CredentialUnavailable(`master password does not open: ${(err as Error).name}`);
    }
    const request: Record<string, string> = {
      [f.sessionId]: sessionId,
      [f.user]: grant.usr.name,
      [f.credential]: grant.cred.ref ?? grant.cred.id,
      [f.target]: grant.tgt.host,
    };
    if (masterPassword) request[f.masterPassword] = masterPassword.toString("utf8");
    let answer: Answer;
    try {
      answer = await this.call(this.config.checkoutPath, request);
    } finally {
      masterPassword?.fill(0);
    }
    const body = answer.body as Record<string, unknown> | undefined;
    const checkoutId = typeof body?.[f.checkoutId] === "string" ? (body[f.checkoutId] as string) : undefined;
    if (answer.status === 403 || (answer.status < 300 && body?.[f.approved] === false)) {
      throw new CredentialRefused(`EmpowerID refused the checkout (HTTP ${answer.status})`);
    }
    if (answer.status >= 300) throw new CredentialUnavailable(`EmpowerID checkout answered HTTP ${answer.status}`);
    const shape = z.object({
      [f.checkoutId]: z.string().min(1).max(256),
      [f.approved]: z.literal(true),
      [f.secret]: z.string().min(1).max(MAX_ANSWER_BYTES),
    });
    const parsed = shape.safeParse(body);
    if (!parsed.success) {
      // Nothing may stay half-open: a checkout EmpowerID opened but we cannot use is ended at once.
      if (checkoutId)
        this.report(this.config.sessionPath, sessionId, checkoutId, {
          [f.status]: "Ended",
          [f.reason]: "protocol_error",
        });
      const missing = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
      throw new CredentialUnavailable(`EmpowerID checkout answer is malformed (${missing || "not an object"})`);
    }
    const lease = parsed.data[f.checkoutId] as string;
    const secret = Buffer.from(parsed.data[f.secret] as string, "utf8");
    let polling: NodeJS.Timeout | undefined;
    let over = false;
    return {
      secret,
      connected: () => {
        if (over) return;
        this.report(this.config.sessionPath, sessionId, lease, { [f.status]: "Connected" });
        polling = setInterval(() => {
          // poll() never rejects; ending the session could throw, and must not become an unhandled rejection.
          this.poll(sessionId, lease)
            .then((end) => {
              if (end && !over) terminate("checkout_revoked");
            })
            .catch((err: unknown) => this.log("empowerid.poll_failed", { session: sessionId, ...faultFields(err) }));
        }, this.config.pollingIntervalMs);
        polling.unref();
      },
      ended: (reason: EndReason) => {
        if (over) return;
        over = true;
        clearInterval(polling);
        this.report(this.config.sessionPath, sessionId, lease, { [f.status]: "Ended", [f.reason]: reason });
      },
    };
  }

  /** One polling report; true when EmpowerID says the session must end. */
  async poll(sessionId: string, checkoutId: string): Promise<boolean> {
    const f = this.config.fields;
    try {
      const answer = await this.call(this.config.pollingPath, {
        [f.sessionId]: sessionId,
        [f.checkoutId]: checkoutId,
        [f.lastReported]: new Date().toISOString(),
      });
      if (answer.status >= 300) {
        this.log("empowerid.poll_failed", { session: sessionId, status: answer.status });
        return answer.status === 404 || answer.status === 410; // EmpowerID no longer knows the checkout
      }
      return (answer.body as Record<string, unknown> | undefined)?.[f.terminate] === true;
    } catch (err) {
      this.log("empowerid.poll_failed", { session: sessionId, error: (err as Error).message });
      return false;
    }
  }

  /** A lifecycle report: best effort, logged when it fails, never blocks the session. */
  private report(path: string, sessionId: string, checkoutId: string, fields: Record<string, string>): void {
    const f = this.config.fields;
    this.call(path, { [f.sessionId]: sessionId, [f.checkoutId]: checkoutId, ...fields })
      .then((a) => {
        if (a.status >= 300) this.log("empowerid.report_failed", { session: sessionId, status: a.status });
      })
      .catch((err: Error) => this.log("empowerid.report_failed", { session: sessionId, error: err.message }));
  }

  /** A JSON POST with the access token; a 401 gets one retry with a fresh token. */
  private async call(path: string, body: Record<string, string>): Promise<Answer> {
    const url = new URL(path, this.config.baseUrl).href;
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = await this.oauth.accessToken();
      } catch (err) {
        throw new CredentialUnavailable(`EmpowerID OAuth: ${(err as Error).message}`);
      }
      let res: Response;
      try {
        res = await this.fetch(url, {
          method: "POST",
          headers: {
            ...this.apiKeyHeaders(),
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/json",
          },
          body: JSON.stringify(body),
          // A redirect is an answer (HTTP 3xx), never followed: a 307 would resend the body (the master password)
          // and the API key header to wherever it points, and whatever answered there would be trusted.
          redirect: "manual",
          signal: AbortSignal.timeout(this.config.timeoutMs),
        });
      } catch (err) {
        const name = (err as Error).name;
        throw new CredentialUnavailable(
          name === "TimeoutError"
            ? `EmpowerID did not answer within ${this.config.timeoutMs} ms`
            : `EmpowerID unreachable: ${name}`,
        );
      }
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        this.oauth.invalidate();
        continue;
      }
      let text: string | undefined;
      try {
        text = await readCapped(res, MAX_ANSWER_BYTES);
      } catch (err) {
        throw new CredentialUnavailable(`EmpowerID answer cut short: ${(err as Error).name}`);
      }
      if (text === undefined) return { status: res.status, body: undefined };
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed };
    }
  }

  private apiKeyHeaders(): Record<string, string> {
    return this.config.apiKey ? { [this.config.apiKeyHeader]: this.config.apiKey } : {};
  }
}

/**
 * The fetch EmpowerID calls use: Node's own, or, with `clientCertFile`, undici's bound to an agent that
 * presents the connector's client certificate (and trusts `caFile`) on every connection: a certificate-bound
 * service account. The key is read once, at start, from the connector host's disk.
 */
export function empowerIdFetch(config: EmpowerIdConfig): typeof fetch {
  if (!config.clientCertFile && !config.caFile) return fetch;
  const agent = new Agent({
    connect: {
      ...(config.clientCertFile ? { cert: readFileSync(config.clientCertFile) } : {}),
      ...(config.clientKeyFile ? { key: readFileSync(config.clientKeyFile) } : {}),
      ...(config.caFile ? { ca: readFileSync(config.caFile) } : {}),
    },
  });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
}
