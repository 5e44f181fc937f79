// A fake EmpowerID for tests: the OAuth token endpoint (client credentials, Basic auth, form body,
// `{access_token, token_type, expires_in}` as RFC 6749 §5.1 shapes it) and the secure access
// gateway calls with the paths and field names of connector/empowerid-config.ts's defaults.
// EmpowerID cannot run here; this follows its published shapes and our documented assumptions.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";

export type CheckoutMode = "approve" | "refuse" | "hang" | "malformed" | "not_json";

export type FakeCheckout = {
  id: string;
  sessionId: string;
  user: string;
  credential: string;
  status: "Open" | "Connected" | "Ended";
  reason?: string;
  polls: number;
};

export class FakeEmpowerId {
  readonly clientId = "psm-connector";
  readonly clientSecret = `secret-${randomBytes(8).toString("hex")}`;
  readonly apiKey = `key-${randomBytes(8).toString("hex")}`;
  /** What the next checkouts do. */
  mode: CheckoutMode = "approve";
  /** The secret released for every approved checkout. */
  secret = "released-password";
  /** When set, a checkout is refused unless it carries this master password. */
  masterPassword?: string;
  /** Answer for polling: ask the connector to end the session. */
  terminate = false;
  tokenLifetimeSeconds = 3600;
  /**
   * A hostile or misconfigured EmpowerID (or a proxy in front of it): every answer to `path` is a 307 to `to`,
   * which asks a client that follows it to send the same request, body and headers, there.
   */
  redirect?: { path: string; to: string };
  /** A hostile EmpowerID: every answer to `path` is 200 and a body of `bytes` that it streams as fast as it is read. */
  flood?: { path: string; bytes: number };
  /** Bytes of `flood` bodies written so far (what the client let in before it stopped reading). */
  floodSent = 0;
  readonly checkouts = new Map<string, FakeCheckout>();
  readonly masterPasswordsSeen: string[] = [];
  tokensIssued = 0;
  private readonly validTokens = new Set<string>();
  private readonly hanging: ServerResponse[] = [];
  private server?: Server;
  url = "";

  /** With mutual TLS: the subject CN of the client certificate bound to the service account. */
  private certificateBound?: string;

  async start(tls?: { cert: Buffer; key: Buffer; ca: Buffer; clientCN: string }): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    // Mutual TLS as EmpowerID's certificate-bound service accounts use it: no client certificate from the
    // trusted CA, no connection at all.
    this.server = tls
      ? createHttpsServer(
          { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true },
          handler,
        )
      : createServer(handler);
    this.certificateBound = tls?.clientCN;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `${tls ? "https" : "http"}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** EmpowerID revokes every token it issued (as when a token's lifetime ends early). */
  expireTokens(): void {
    this.validTokens.clear();
  }

  /** Checkouts EmpowerID still holds open: a session that ended badly would leave one here. */
  open(): FakeCheckout[] {
    return [...this.checkouts.values()].filter((c) => c.status !== "Ended");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST") return json(405, { error: "method" });
    if (this.redirect && req.url === this.redirect.path) {
      res.writeHead(307, { location: this.redirect.to });
      res.end();
      return;
    }
    if (this.flood && req.url === this.flood.path) return this.streamFlood(res, this.flood.bytes);
    if (req.url === "/oauth/v2/token") {
      const basic = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
      const form = new URLSearchParams(raw);
      // RFC 8705 tls_client_auth: the client id in the body, proven by the certificate the TLS layer checked.
      const peer = this.certificateBound ? (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN : undefined;
      const byCertificate =
        this.certificateBound !== undefined &&
        peer === this.certificateBound &&
        form.get("client_id") === this.clientId;
      const bySecret = basic === `${this.clientId}:${this.clientSecret}`;
      if (!(byCertificate || bySecret) || form.get("grant_type") !== "client_credentials") {
        return json(401, { error: "invalid_client" });
      }
      const token = randomBytes(16).toString("hex");
      this.validTokens.add(token);
      this.tokensIssued++;
      return json(200, { access_token: token, token_type: "Bearer", expires_in: this.tokenLifetimeSeconds });
    }
    const bearer = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!this.validTokens.has(bearer)) return json(401, { error: "invalid_token" });
    if (req.headers["x-empowerid-api-key"] !== this.apiKey) return json(403, { Message: "bad API key" });
    let body: Record<string, string>;
    try {
      body = JSON.parse(raw);
    } catch {
      return json(400, { Message: "not JSON" });
    }
    switch (req.url) {
      case "/api/services/v1/secureaccessgateway/checkout":
        this.checkout(body, res, json);
        return;
      case "/api/services/v1/secureaccessgateway/session": {
        const c = this.checkouts.get(body.CheckoutId ?? "");
        if (!c || c.sessionId !== body.SessionId) return json(404, { Message: "no such checkout" });
        if (body.Status !== "Connected" && body.Status !== "Ended") return json(400, { Message: "bad Status" });
        c.status = body.Status;
        if (body.Reason) c.reason = body.Reason;
        return json(200, { Success: true });
      }
      case "/api/services/v1/secureaccessgateway/polling": {
        const c = this.checkouts.get(body.CheckoutId ?? "");
        if (!c || c.status === "Ended" || Number.isNaN(Date.parse(body.LastReported ?? ""))) {
          return json(404, { Message: "no such live checkout" });
        }
        c.polls++;
        return json(200, { Success: true, Terminate: this.terminate });
      }
      default:
        return json(404, { Message: "no such endpoint" });
    }
  }

  /** A JSON string that never ends in time: written while the client reads, until `bytes` or the socket closes. */
  private streamFlood(res: ServerResponse, bytes: number): void {
    const chunk = Buffer.alloc(64 * 1024, "a");
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"Password":"');
    const more = () => {
      while (this.floodSent < bytes && !res.destroyed) {
        this.floodSent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      if (!res.destroyed) res.end('"}');
    };
    res.on("close", () => res.removeAllListeners("drain"));
    more();
  }

  private checkout(body: Record<string, string>, res: ServerResponse, json: (s: number, b: unknown) => void): unknown {
    if (body.MasterPassword !== undefined) this.masterPasswordsSeen.push(body.MasterPassword);
    if (this.mode === "hang") {
      this.hanging.push(res);
      return;
    }
    if (!body.SessionId || !body.UserName || !body.CredentialId) return json(400, { Message: "missing field" });
    if (this.mode === "refuse" || (this.masterPassword !== undefined && body.MasterPassword !== this.masterPassword)) {
      return json(403, { Approved: false, Message: "not authorised" });
    }
    // A proxy error page: nothing was opened.
    if (this.mode === "not_json") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>maintenance</html>");
      return;
    }
    const id = `co-${randomBytes(6).toString("hex")}`;
    this.checkouts.set(id, {
      id,
      sessionId: body.SessionId,
      user: body.UserName,
      credential: body.CredentialId,
      status: "Open",
      polls: 0,
    });
    // Malformed: approved, a checkout opened, but no secret in the answer.
    if (this.mode === "malformed") return json(200, { Approved: true, CheckoutId: id, Pasword: 42 });
    return json(200, { Approved: true, CheckoutId: id, Password: this.secret });
  }
}
