// A small client of the edge's admin API, used by `npm start`, the tests and the benchmarks to set
// up an admin, a site, its connector, a server and a sealed credential.
import type { JWK } from "jose";
import type { EnrollmentToken, Site } from "../../protocol/index.ts";
import { sealSecret } from "../../connector/seal.ts";

export class EdgeClient {
  private cookie = "";
  /** Every response body this client received: tests scan them for leaked secrets. */
  readonly responses: string[] = [];
  constructor(readonly url: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { "content-type": "application/json", cookie: this.cookie, origin: this.url },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) this.cookie = setCookie.split(";")[0]!;
    const text = await res.text();
    this.responses.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}`);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get sessionCookie(): string {
    return this.cookie;
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

  createServer(server: { name: string; host: string; port: number; siteId: string; hostKey: string; tags?: string[] }) {
    return this.request<{ id: string }>("POST", "/api/servers", server);
  }

  /** Seals the secret to the site's key here, as the admin's browser does, and uploads only the blob. */
  async createCredential(cred: {
    name: string;
    username: string;
    kind: "password" | "private_key";
    siteId: string;
    secret: string;
    serverIds: string[];
  }) {
    const site = await this.site(cred.siteId);
    if (!site.sealKey) throw new Error("site has no seal key yet: enroll a connector first");
    const sealed = await sealSecret(site.sealKey as JWK, cred.secret);
    const { secret: _secret, ...rest } = cred;
    return this.request<{ id: string }>("POST", "/api/credentials", { ...rest, sealed });
  }

  createSession(serverId: string, credentialId: string, minutes?: number) {
    return this.request<{ id: string; deadline: number }>("POST", "/api/sessions", { serverId, credentialId, minutes });
  }
}
