// A real OpenID Provider for tests: the `oidc-provider` package on loopback, port 0, configured with
// one confidential client (code flow, PKCE required) and accounts whose claims the test gives, including
// a `groups` claim served from userinfo (as many IdPs do). Its dev login form accepts any password.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export type Idp = { issuer: string; clientId: string; clientSecret: string; stop: () => Promise<void> };

export async function startIdp(opts: {
  redirectUri: string;
  /** Claims per login name typed into the IdP's form. */
  accounts: Record<string, { email: string; groups: string[] }>;
}): Promise<Idp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "psm-edge";
  const clientSecret = `secret-${Math.random().toString(36).slice(2)}${Date.now()}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    pkce: { required: () => true },
    scopes: ["openid", "profile", "email", "groups"],
    claims: { openid: ["sub"], profile: ["preferred_username", "name"], email: ["email"], groups: ["groups"] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [`cookie-key-${clientSecret}`] },
    findAccount: (_ctx: unknown, id: string) => {
      const account = opts.accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({ sub: id, preferred_username: id, name: id, email: account.email, groups: account.groups }),
      };
    },
  });
  // Plain http on loopback: the provider would otherwise insist on TLS-terminated requests.
  provider.proxy = false;
  server.on("request", provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
