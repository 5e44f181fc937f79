// A small client of the edge's admin API, used by `npm start`, the tests and the benchmarks to set
// up an admin, a site, its connector, a server and a sealed credential.
import type { JWK } from "jose";
import { type CartResult, type EnrollmentToken, SESSION_COOKIE, type Site, type Zone } from "../../protocol/index.ts";
import { sealSecret } from "../../connector/seal.ts";

export class EdgeClient {
  /** Cookie jar: name -> value (the session cookie and the device cookie). */
  private readonly cookies = new Map<string, string>();
  /** Every response body this client received: tests scan them for leaked secrets. */
  readonly responses: string[] = [];
  constructor(readonly url: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { "content-type": "application/json", cookie: this.cookieHeader(), origin: this.url },
      body: body === undefined ? undefined : JSON.stringify(body),
      // An edge that accepts and never answers fails the caller with the request named, not a hung test hook.
      signal: AbortSignal.timeout(60_000),
    }).catch((err: Error) => {
      throw new Error(`${method} ${path}: ${err.name === "TimeoutError" ? "no answer in 60 s" : err.message}`);
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const value = pair!.slice(eq + 1);
      if (value && !/max-age=0/i.test(line)) this.cookies.set(pair!.slice(0, eq), value);
      else this.cookies.delete(pair!.slice(0, eq));
    }
    const text = await res.text();
    this.responses.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}`);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  /** The `__Host-psm_session=...` pair (empty when signed out). */
  get sessionCookie(): string {
    const value = this.cookies.get(SESSION_COOKIE);
    return value ? `${SESSION_COOKIE}=${value}` : "";
  }

  bootstrap(token: string, username: string, password: string) {
    return this.request("POST", "/api/bootstrap", { token, username, password });
  }

  login(username: string, password: string) {
    return this.request("POST", "/api/login", { username, password });
  }

  createSite(name: string) {
    return this.request<Site>("POST", "/api/sites", { name });
  }

  async site(id: string): Promise<Site> {
    const site = (await this.request<Site[]>("GET", "/api/sites")).find((s) => s.id === id);
    if (!site) throw new Error(`no site ${id}`);
    return site;
  }

  enrollmentToken(siteId: string) {
    return this.request<EnrollmentToken>("POST", `/api/sites/${siteId}/enrollment-tokens`);
  }

  createZone(name: string, siteId: string, policyId: string | null = null) {
    return this.request<Zone>("POST", "/api/zones", { name, siteId, policyId });
  }

  createGroup(name: string, userIds: string[]) {
    return this.request<{ id: string }>("POST", "/api/groups", { name }).then(async (g) => {
      await this.request("PUT", `/api/groups/${g.id}/members`, { userIds });
      return g;
    });
  }

  grant(groupId: string, zoneId: string) {
    return this.request<{ id: string }>("POST", "/api/grants", { groupId, zoneId });
  }

  createServer(server: {
    name: string;
    host: string;
    port: number;
    zoneId: string;
    hostKey: string;
    tags?: string[];
    protocol?: "ssh" | "rdp";
  }) {
    return this.request<{ id: string }>("POST", "/api/servers", server);
  }

  /** Seals the secret to the zone's site key here, as the admin's browser does, and uploads only the blob. */
  async createCredential(cred: {
    name: string;
    username: string;
    kind: "password" | "private_key";
    zoneId: string;
    secret: string;
    serverIds: string[];
    domain?: string;
  }) {
    const zone = (await this.request<Zone[]>("GET", "/api/zones")).find((z) => z.id === cred.zoneId);
    if (!zone) throw new Error(`no zone ${cred.zoneId}`);
    const site = await this.site(zone.siteId);
    if (!site.sealKey) throw new Error("site has no seal key yet: enroll a connector first");
    const sealed = await sealSecret(site.sealKey as JWK, cred.secret);
    const { secret: _secret, ...rest } = cred;
    return this.request<{ id: string }>("POST", "/api/credentials", { ...rest, sealed });
  }

  submitCart(
    items: {
      serverId: string;
      credentialId: string;
      minutes?: number;
      startsAt?: number;
      endsAt?: number;
      justification: string;
    }[],
  ) {
    return this.request<CartResult>("POST", "/api/checkouts", { items });
  }

  createSession(checkoutId: string) {
    return this.request<{ id: string; deadline: number }>("POST", "/api/sessions", { checkoutId });
  }

  /** Checks out one credential (auto-approved policies only) and opens a session on it. */
  async openSession(serverId: string, credentialId: string, minutes = 30) {
    const cart = await this.submitCart([{ serverId, credentialId, minutes, justification: "automated session" }]);
    const result = cart.results[0];
    if (!result?.ok) throw new Error(`checkout refused: ${result && !result.ok ? result.error : "none"}`);
    if (result.checkout.status !== "active") throw new Error(`checkout is ${result.checkout.status}`);
    return this.createSession(result.checkout.id);
  }
}
