// Strong authentication as people meet it, in real Chromium against the real edge (wrangler dev),
// a real OpenID Provider (oidc-provider on loopback), the real connector and sshd: single sign-on with
// group mapping, TOTP enrolment from the QR page and sign-in with a code, a security key registered and
// used through Chromium's virtual authenticator (CDP WebAuthn), connect with the master password, and Duo's
// Universal Prompt against the fake Duo on loopback HTTPS (test/fakes/duo-server.ts).
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../scripts/stack/process.ts";
import { totpAt } from "../../worker/auth/totp.ts";
import { type DuoServer, startDuoServer } from "../fakes/duo-server.ts";
import { chromiumMissing, collectBrowserBound, launchChromium, virtualAuthenticator } from "../support/browser.ts";
import { type Idp, startIdp } from "../support/oidc-idp.ts";
import { describeWithPeers } from "../support/peers.ts";
import { allBytes } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

describeWithPeers("strong authentication in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let idp: Idp;
  let duoServer: DuoServer;
  let app: string;
  const contexts: BrowserContext[] = [];
  /** Tina's browser, fully signed in with TOTP: the "phone" that approves a push later. */
  let tinaPhone: Page;

  beforeAll(async () => {
    const port = await freePort();
    // WebAuthn needs a secure context with a domain rp id: http://localhost is one, http://127.0.0.1 is not.
    app = `http://localhost:${port}`;
    idp = await startIdp({
      redirectUri: `${app}/api/oidc/callback`,
      accounts: { olivia: { email: "olivia@example.test", groups: ["psm-operators", "unmapped"] } },
    });
    // The edge (wrangler dev) trusts the fake Duo's test CA for its calls to Duo.
    duoServer = await startDuoServer();
    process.env.NODE_EXTRA_CA_CERTS = duoServer.caCert;
    stack = await startStack({
      port,
      vars: {
        APP_URL: app,
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: idp.clientId,
        OIDC_CLIENT_SECRET: idp.clientSecret,
        OIDC_SCOPES: "openid profile email groups",
        OIDC_GROUP_MAP: JSON.stringify({ "psm-operators": "operators" }),
        OIDC_LABEL: "Test IdP",
        OIDC_ALLOW_HTTP: "true",
      },
    });
    for (const name of ["tina", "kim"])
      await stack.admin.request("POST", "/api/users", {
        username: name,
        password: `${name}-password-1`,
        roles: ["requester"],
      });
  });
  afterAll(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()));
    await Promise.allSettled([stack?.stop(), idp?.stop(), duoServer?.stop()]);
  });

  /** Every byte a page received (responses, socket frames, console), for secret scans. */
  const browserBound: string[] = [];

  async function newPage(): Promise<Page> {
    const context = await launchChromium();
    contexts.push(context);
    const page = await context.newPage();
    collectBrowserBound(page, browserBound);
    return page;
  }

  async function password(page: Page, username: string, pw: string) {
    await page.goto(`${app}/#/login`);
    await page.fill("#login-username", username);
    await page.fill("#login-password", pw);
    await page.click("#login-submit");
  }

  async function signOut(page: Page) {
    await page.click("#logout");
    await page.waitForSelector("#login-username");
  }

  it("signs in with OIDC (code + PKCE) and maps the IdP's groups to ours", async () => {
    const page = await newPage();
    await page.goto(`${app}/#/login`);
    await page.click("#login-sso");
    await page.waitForURL(`${idp.issuer}/**`);
    await page.fill('input[name="login"]', "olivia");
    await page.fill('input[name="password"]', "any password");
    await page.click("button.login-submit");
    // Consent screen, then back to the edge's callback and into the app.
    await page.click("button.login-submit");
    await page.waitForSelector('body[data-route="catalog"]', { timeout: 20_000 }).catch(async (err) => {
      console.log(page.url(), await page.locator("body").textContent(), (await stack.logs()).slice(-3000));
      throw err;
    });
    expect(await page.textContent("#nav-username")).toContain("olivia");
    // Mapped into "operators", which is granted the e2e zone: the server is in her catalog.
    await page.waitForSelector(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`);
    const groups = await stack.admin.request<{ name: string; members: { username: string }[] }[]>("GET", "/api/groups");
    expect(groups.find((g) => g.name === "operators")!.members.map((m) => m.username)).toContain("olivia");
    // PKCE and state were used: the IdP's authorization request carried them (seen in the edge's redirect).
    await signOut(page);
    const start = await fetch(`${app}/api/oidc/start`, { redirect: "manual" });
    const location = new URL(start.headers.get("location")!);
    expect(location.searchParams.get("code_challenge_method")).toBe("S256");
    expect(location.searchParams.get("state")).toBeTruthy();
    expect(location.searchParams.get("nonce")).toBeTruthy();
    // A callback without this browser's flow cookie is refused.
    const forged = await fetch(`${app}/api/oidc/callback?code=x&state=${location.searchParams.get("state")}`, {
      redirect: "manual",
    });
    expect(forged.headers.get("location")).toContain("sso_error");
  });

  it("enrols TOTP from the QR page and signs in with a code", async () => {
    const page = await newPage();
    await password(page, "tina", "tina-password-1");
    await page.waitForSelector('body[data-route="catalog"]');
    await page.goto(`${app}/#/account`);
    await page.click("#totp-enrol");
    await page.waitForSelector('svg[aria-label="QR code for your authenticator app"]');
    const secret = (await page.textContent("#totp-secret"))!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // A typo is "not accepted", and the user stays on the page, signed in (it once signed them out).
    const near = [-30_000, 0, 30_000].map((d) => totpAt(secret, Date.now() + d));
    const typo = ["000000", "111111", "222222", "333333"].find((c) => !near.includes(c))!;
    await page.fill("#totp-confirm-code", typo);
    await page.click("#totp-confirm");
    await page.locator("#account-error", { hasText: "not right" }).waitFor();
    expect(await page.getAttribute("body", "data-route")).toBe("account");
    await page.fill("#totp-confirm-code", totpAt(secret, Date.now()));
    await page.click("#totp-confirm");
    await page.waitForSelector("#recovery-codes");
    expect(await page.locator("#recovery-codes li").count()).toBe(10);
    await page.click("#recovery-saved");
    await page.waitForSelector("#totp-state");
    expect(await page.textContent("#totp-state")).toContain("on");

    await signOut(page);
    await password(page, "tina", "tina-password-1");
    await page.waitForSelector("#second-factor");
    // Catalog is out of reach until the code is given.
    expect(await page.evaluate(async () => (await fetch("/api/catalog")).status)).toBe(401);
    // The enrolment used the current step: the next step's code (±1 tolerance) signs in.
    await page.fill("#mfa-code", totpAt(secret, Date.now() + 30_000));
    await page.click("#mfa-code-submit");
    await page.waitForSelector('body[data-route="catalog"]');
    tinaPhone = page;
  });

  it("approves a waiting sign-in from another signed-in browser by typing the matching number", async () => {
    const laptop = await newPage();
    await password(laptop, "tina", "tina-password-1");
    await laptop.click("#mfa-push");
    await laptop.waitForSelector("#mfa-push-number:not([hidden])");
    const number = (await laptop.textContent("#mfa-push-number"))!.trim();
    await tinaPhone.goto(`${app}/#/account`);
    await tinaPhone.waitForSelector(".push-request");
    // The number is typed: the approving page offers none to pick from.
    expect(await tinaPhone.locator(".push-request button.push-choice").count()).toBe(0);
    await tinaPhone.fill(".push-request input.push-number-input", number);
    await tinaPhone.click(".push-request button.push-approve");
    await tinaPhone.waitForSelector("#account-status:not([hidden])");
    expect(await tinaPhone.textContent("#account-status")).toBe("Sign-in approved.");
    await laptop.waitForSelector('body[data-route="catalog"]', { timeout: 20_000 });
  });

  it("registers a security key with the virtual authenticator and signs in with it", async () => {
    const page = await newPage();
    const { cdp, authenticatorId } = await virtualAuthenticator(page, "platform");
    await password(page, "kim", "kim-password-1");
    await page.waitForSelector('body[data-route="catalog"]');
    await page.goto(`${app}/#/account`);
    await page.fill("#key-name", "Laptop key");
    await page.click("#key-add");
    // The first factor comes with recovery codes, shown once.
    await page.waitForSelector("#recovery-codes");
    await page.click("#recovery-saved");
    await page.waitForSelector('#key-list li[data-key="Laptop key"]');
    const before = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(before.credentials).toHaveLength(1);

    await signOut(page);
    await password(page, "kim", "kim-password-1");
    await page.waitForSelector("#mfa-key");
    await page.click("#mfa-key");
    await page.waitForSelector('body[data-route="catalog"]');
    const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(after.credentials[0]!.signCount).toBeGreaterThan(before.credentials[0]!.signCount);
  });

  it("connects with the master password: set on first use, wrong one refused, right one connects", async () => {
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "master password at connect",
      masterPasswordRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const page = await newPage();
    await password(page, "alice", "alice-password-1");
    await page.waitForSelector('body[data-route="catalog"]');
    await page.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await page.fill("textarea.cart-justification", "master password test");
    await page.click("#cart-submit");
    await page.waitForSelector('body[data-route="requests"]');
    const row = page.locator('tr[data-server-name="target"][data-status="active"]').first();
    const connect = async () => {
      await row.locator("button.connect").click({ timeout: 20_000 });
      await page.waitForSelector("#step-up[open]");
      expect(await page.textContent("#step-up-reasons")).toContain(
        "This server's policy asks for your master password",
      );
    };
    const master = `Master-${Date.now()}-pw`;
    await connect();
    await page.fill("#step-up-master", master);
    await page.fill("#step-up-master-confirm", master);
    await page.click("#step-up-connect");
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 30_000 });

    await page.goto(`${app}/#/requests`);
    await connect();
    await page.fill("#step-up-master", "not-the-master-password");
    await page.click("#step-up-connect");
    // Checked by the connector, not the edge: the dialog waits for its verdict and stays open.
    await page.waitForSelector('#step-up-error:has-text("Wrong master password.")', { timeout: 30_000 });
    await page.fill("#step-up-master", master);
    await page.click("#step-up-connect");
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 30_000 });
    // The connector found the wrong one wrong: the edge counted and audited it.
    const failures = await stack.admin.request<{ action: string; data: { method?: string } }[]>(
      "GET",
      "/api/audit?action=auth.mfa_failed&limit=50",
    );
    expect(failures.some((e) => e.data.method === "master_password")).toBe(true);
    const ended = await stack.admin.request<{ action: string; data: { reason?: string } }[]>(
      "GET",
      "/api/audit?action=session.ended&limit=50",
    );
    expect(ended.some((e) => e.data.reason === "master_password_wrong")).toBe(true);
    // The plaintext reached no edge log, no byte of the edge's state (D1, Durable Object storage), no connector
    // log line and no byte sent to a browser; neither did the wrong one.
    const [logs, edgeState] = [await stack.logs(), allBytes(join(stack.dir, "edge"))];
    for (const secret of [master, "not-the-master-password"]) {
      expect(logs.includes(secret), "master password in a log").toBe(false);
      expect(edgeState.includes(secret), "master password in the edge's state").toBe(false);
      expect(browserBound.join("\n").includes(secret), "master password sent to a browser").toBe(false);
    }
  });

  it("steps up at connect to a high-sensitivity zone: the reasons in words, then the security key", async () => {
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { sensitivity: "high" });
    const lee = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "lee",
      password: "lee-password-1",
      roles: ["requester"],
    });
    const users = await stack.admin.request<{ id: string; username: string }[]>("GET", "/api/users");
    const alice = users.find((u) => u.username === "alice")!;
    await stack.admin.request("PUT", `/api/groups/${stack.operatorsGroupId}/members`, { userIds: [alice.id, lee.id] });
    const page = await newPage();
    await virtualAuthenticator(page);
    // Lee registers a key, so the sign-in's last proof was the password: this zone wants the key itself.
    await password(page, "lee", "lee-password-1");
    await page.waitForSelector('body[data-route="catalog"]');
    await page.goto(`${app}/#/account`);
    await page.fill("#key-name", "USB key");
    await page.click("#key-add");
    await page.waitForSelector("#recovery-codes");
    await page.click("#recovery-saved");
    await page.goto(`${app}/#/catalog`);
    await page.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await page.fill("textarea.cart-justification", "step-up test");
    await page.click("#cart-submit");
    await page.waitForSelector('body[data-route="requests"]');
    await page
      .locator('tr[data-server-name="target"][data-status="active"] button.connect')
      .first()
      .click({ timeout: 20_000 });
    await page.waitForSelector("#step-up[open]");
    const reasons = await page.locator("#step-up-reasons li").allTextContents();
    expect(reasons).toContain("e2e servers is a high-sensitivity zone: use your security key");
    expect(reasons).toContain("This server's policy asks for your master password");
    // Only the key is offered: a code would not do for this zone.
    expect(await page.locator("#step-up #mfa-code").count()).toBe(0);
    await page.click("#step-up #mfa-key");
    await page.waitForSelector("#step-up-mfa .note");
    const master = `Kim-master-${Date.now()}`;
    await page.fill("#step-up-master", master);
    await page.fill("#step-up-master-confirm", master);
    await page.click("#step-up-connect");
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 30_000 });
    const audit = await stack.admin.request<{ action: string; data: { reasons?: { code: string }[] } }[]>(
      "GET",
      "/api/audit?action=auth.step_up&limit=50",
    );
    expect(audit.some((e) => e.data.reasons?.some((r) => r.code === "sensitive_zone"))).toBe(true);
  });

  // Last in the file: while Duo is on, every sign-in asks for it.
  it("signs in with Duo's Universal Prompt (fake Duo): allowed, then a denied push refused", async () => {
    const duo = duoServer.duo;
    duo.redirectUris.add(`${app}/api/mfa/duo/callback`);
    await stack.admin.request("POST", "/api/users", {
      username: "dana",
      password: "dana-password-1",
      roles: ["requester"],
    });
    const saved = await stack.admin.request<{ health: string }>("PUT", "/api/admin/duo", {
      enabled: true,
      apiHost: duo.apiHost,
      clientId: duo.clientId,
      clientSecret: duo.clientSecret,
      failMode: "closed",
    });
    // The edge reached the fake over TLS and Duo's health check passed.
    expect(saved.health).toBe("ok");
    try {
      const page = await newPage();
      // Duo's prompt in the browser: the fake answers (the user approves or denies at once) and sends it back.
      await page.route(`${duo.base}/**`, async (route) => {
        const answer = await duo.handle(new Request(route.request().url()));
        await route.fulfill({
          status: answer.status,
          headers: Object.fromEntries(answer.headers),
          body: await answer.text(),
        });
      });
      await password(page, "dana", "dana-password-1");
      await page.click("#mfa-duo");
      await page.waitForSelector('body[data-route="catalog"]', { timeout: 20_000 });
      expect(await page.textContent("#nav-username")).toContain("dana");
      expect(duo.seen.authorize).toBe(1);
      expect(duo.seen.token).toBe(1);

      await signOut(page);
      duo.outcome = "deny";
      await password(page, "dana", "dana-password-1");
      await page.click("#mfa-duo");
      await page.waitForSelector("#duo-error");
      expect(await page.textContent("#duo-error")).toContain("Duo did not confirm");
      expect(await page.locator("#nav-username").count()).toBe(0);
      // The client secret never reached a browser.
      expect(browserBound.join("\n")).not.toContain(duo.clientSecret);
    } finally {
      duo.outcome = "allow";
      await stack.admin.request("PUT", "/api/admin/duo", {
        enabled: false,
        apiHost: duo.apiHost,
        clientId: duo.clientId,
        failMode: "closed",
      });
    }
  });
});
