// Adversarial suite, browser hardening, with real peers (wrangler dev serving web/dist, OpenSSH, the
// connector) and Chromium: a page on another port frames the signed-in app, the headers on every page,
// asset and API answer, the cookies' prefix and count, every page under the CSP with zero violations,
// and an OSC 8 hyperlink printed by a hostile target into the user's own terminal.
import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEVICE_COOKIE, type RecordingSummary, SESSION_COOKIE } from "../../protocol/index.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

const DIST_ASSETS = join(import.meta.dirname, "../../web/dist/assets");

/** The hostile neighbour: another local port that frames the app and collects whatever reaches it. */
async function startNeighbour(edgeUrl: string): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    res.setHeader("content-type", "text/html");
    res.end(
      req.url === "/frame"
        ? `<!doctype html><title>neighbour</title><iframe id="victim" src="${edgeUrl}/#/requests" width="1000" height="700"></iframe>`
        : "<!doctype html><title>phished</title>",
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

/** Collects every CSP violation a page reports, as events in the page and as console errors. */
async function watchCsp(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(`console: ${msg.text()}`);
  });
  await page.exposeFunction("__cspViolation", (text: string) => violations.push(`event: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const report = (window as unknown as { __cspViolation: (t: string) => void }).__cspViolation;
      void report(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return violations;
}

function expectHardened(path: string, res: Response, { page }: { page: boolean }): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  const where = `${path} (${res.status})`;
  expect(csp, where).toContain("frame-ancestors 'none'");
  expect(res.headers.get("x-frame-options"), where).toBe("DENY");
  expect(res.headers.get("x-content-type-options"), where).toBe("nosniff");
  expect(res.headers.get("referrer-policy"), where).toBe("no-referrer");
  const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(csp)?.[1] ?? /(?:^|;)\s*default-src ([^;]*)/.exec(csp)?.[1];
  expect(scriptSrc, where).toBeDefined();
  expect(scriptSrc, where).not.toContain("'unsafe-inline'");
  expect(scriptSrc, where).not.toContain("'unsafe-eval'");
  if (page) expect(csp, where).toContain("object-src 'none'");
}

describeWithPeers("adversarial: browser hardening", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;
  let adminBrowser: BrowserContext;
  let neighbour: Awaited<ReturnType<typeof startNeighbour>>;

  beforeAll(async () => {
    [stack, browser, adminBrowser] = await Promise.all([startStack(), launchChromium(), launchChromium()]);
    neighbour = await startNeighbour(stack.edge.url);
  });
  afterAll(async () => {
    await Promise.allSettled([browser?.close(), adminBrowser?.close()]);
    neighbour?.server.close();
    await stack?.stop();
  });

  /** Signs in through the login form, unless this browser is signed in already. */
  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${stack.edge.url}/#/login`);
    await page.waitForSelector('#login-username, body[data-route="catalog"]');
    if ((await page.getAttribute("body", "data-route")) === "catalog") return;
    await signInPage(page, stack.edge.url, username, password);
  }

  /** An active checkout and a session on it, made by the signed-in page itself (same origin, its cookie). */
  async function sessionFromPage(page: Page): Promise<string> {
    return page.evaluate(
      async ({ serverId, credentialId }) => {
        const post = async (path: string, body: unknown) => {
          const res = await fetch(path, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          if (!res.ok) throw new Error(`${path}: ${res.status}`);
          // biome-ignore lint/suspicious/noExplicitAny: runs in the page, shapes checked by the calls below
          return (await res.json()) as any;
        };
        const cart = await post("/api/checkouts", {
          items: [{ serverId, credentialId, minutes: 30, justification: "browser hardening test" }],
        });
        return (await post("/api/sessions", { checkoutId: cart.results[0].checkout.id })).id as string;
      },
      { serverId: stack.serverId, credentialId: stack.credentialId },
    );
  }

  it("attack: a page on another local port frames the signed-in app — guarantee: the browser refuses to render it (frame-ancestors 'none', X-Frame-Options DENY)", async () => {
    const page = await browser.newPage();
    await signInPage(page, stack.edge.url, "alice", "alice-password-1");
    await page.goto(`${neighbour.url}/frame`);
    await page.waitForSelector("#victim");
    const frame = await (await page.$("#victim"))!.contentFrame();
    // Signed in (the neighbour is same-site: ports do not count), the app would render its pages here.
    const rendered = await frame!
      .waitForSelector("body[data-route]", { timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
    expect(rendered).toBe(false);
    expect(await frame!.evaluate(() => document.querySelector("#app")).catch(() => null)).toBeNull();
    await page.close();
  });

  it("attack: load pages and assets where no header protects them — guarantee: every page, asset and API answer carries CSP (frame-ancestors 'none', no inline script), X-Frame-Options, nosniff and Referrer-Policy", async () => {
    const base = stack.edge.url;
    const pages = ["/", "/index.html", "/some/deep/link"];
    for (const path of pages) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toContain('<div id="app">');
      expectHardened(path, res, { page: true });
    }
    const assets = readdirSync(DIST_ASSETS).map((name) => `/assets/${name}`);
    expect(assets.length).toBeGreaterThan(5);
    for (const path of assets) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
      expectHardened(path, res, { page: true });
    }
    const api: [string, RequestInit?][] = [
      ["/api/me"],
      ["/api/openapi.json"],
      ["/api/nowhere"],
      ["/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }],
      ["/connector/inventory", { method: "POST", body: "{}" }],
      ["/connector/control"],
    ];
    for (const [path, init] of api) {
      const res = await fetch(`${base}${path}`, init);
      await res.arrayBuffer();
      expectHardened(path, res, { page: false });
    }
  });

  it("attack: plant or shadow a session cookie from a sibling host or path — guarantee: every cookie is __Host- (Secure, Path=/, no Domain) and login sets the device cookie once", async () => {
    const res = await fetch(`${stack.edge.url}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: stack.edge.url },
      body: JSON.stringify({ username: "alice", password: "alice-password-1" }),
    });
    expect(res.status).toBe(200);
    const lines = res.headers.getSetCookie();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      expect(pair, line).toMatch(/^__Host-/);
      expect(attrs, line).toContain("Secure");
      expect(attrs, line).toContain("Path=/");
      expect(attrs, line).toContain("HttpOnly");
      expect(
        attrs.some((a) => /^domain=/i.test(a)),
        line,
      ).toBe(false);
    }
    const names = lines.map((l) => l.split("=")[0]);
    expect(names.filter((n) => n === DEVICE_COOKIE)).toHaveLength(1);
    expect(names.filter((n) => n === SESSION_COOKIE)).toHaveLength(1);

    // Chromium keeps them on http://127.0.0.1 (loopback is a secure context).
    const context = await launchChromium();
    try {
      const page = await context.newPage();
      await signInPage(page, stack.edge.url, "alice", "alice-password-1");
      const cookies = await context.cookies(stack.edge.url);
      expect(cookies.map((c) => c.name).sort()).toEqual([DEVICE_COOKIE, SESSION_COOKIE].sort());
      for (const c of cookies) expect(c).toMatchObject({ secure: true, path: "/", httpOnly: true });
    } finally {
      await context.close();
    }
  });

  it("attack: a hostile target prints an OSC 8 hyperlink into the user's own terminal — guarantee: clicking it opens nothing (no prompt, no window, no request to the link)", async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept(); // the worst case: a user who says yes to whatever is asked
    });
    const popups: string[] = [];
    page.on("popup", (p) => popups.push(p.url()));
    await signIn(page, "alice", "alice-password-1");
    const id = await sessionFromPage(page);
    await page.goto(`${stack.edge.url}/#/sessions/${id}`);
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await page.click("#terminal");
    // The link text is computed by the shell so that only the output line (not the echoed command) has it.
    await page.keyboard.type(
      `printf '\\033]8;;${neighbour.url}/phish\\033\\\\%s\\033]8;;\\033\\\\\\n' "osc8-$((6*7))"\n`,
    );
    const row = page.locator("#terminal .xterm-rows > div", { hasText: /^osc8-42/ });
    await row.waitFor({ timeout: 10_000 });
    const hitsBefore = neighbour.hits.length;
    // Over the link's first cells: xterm finds links on mouse move, then a click activates one.
    const box = (await row.boundingBox())!;
    const at = { x: box.x + 12, y: box.y + box.height / 2 };
    await page.mouse.move(at.x, at.y);
    await page.waitForTimeout(300);
    await page.mouse.move(at.x + 4, at.y);
    await page.waitForTimeout(300);
    await page.mouse.click(at.x + 4, at.y);
    await page.waitForTimeout(1_500);
    expect(dialogs).toEqual([]);
    expect(popups).toEqual([]);
    expect(neighbour.hits.slice(hitsBefore)).toEqual([]);
    await page.keyboard.type("exit\n");
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 10_000 });
    await page.close();
  });

  it("attack: a CSP too strict or too loose for the app — guarantee: every page works under it with zero CSP violations in Chromium (login, catalog, requests, approvals, account, admin sections, audit, recordings, terminal, live view, replay), and injected inline script does not run", async () => {
    const admin = await adminBrowser.newPage();
    const adminViolations = await watchCsp(admin);
    await admin.goto(`${stack.edge.url}/#/login`);
    await admin.waitForSelector("#login-username");
    await signInPage(admin, stack.edge.url, "admin", "admin-password-1");
    for (const route of ["catalog", "requests", "approvals", "account", "audit", "recordings"]) {
      await admin.goto(`${stack.edge.url}/#/${route}`);
      await admin.waitForSelector(`body[data-route="${route}"]`);
      await admin.waitForLoadState("networkidle");
    }
    for (const section of [
      "sites",
      "zones",
      "policies",
      "groups",
      "users",
      "grants",
      "servers",
      "credentials",
      "live",
    ]) {
      await admin.goto(`${stack.edge.url}/#/admin/${section}`);
      await admin.waitForSelector(`a[data-admin-section="${section}"][aria-current="page"]`);
      await admin.waitForLoadState("networkidle");
    }

    // The user's terminal and the admin's live view of it.
    const user = await browser.newPage();
    const userViolations = await watchCsp(user);
    await signIn(user, "alice", "alice-password-1");
    const id = await sessionFromPage(user);
    await user.goto(`${stack.edge.url}/#/sessions/${id}`);
    await user.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await user.click("#terminal");
    await user.keyboard.type("echo csp-$((6*7))\n");
    await user.waitForFunction(() => (document.querySelector("#terminal")?.textContent ?? "").includes("csp-42"));
    await admin.goto(`${stack.edge.url}/#/watch/${id}`);
    await admin.waitForSelector('body[data-session-state="connected"]');
    await admin.waitForFunction(() =>
      (document.querySelector("#watch-terminal")?.textContent ?? "").includes("csp-42"),
    );
    // xterm draws rows with the sizes its runtime <style> sets: a blocked style would leave rows unsized.
    const rowHeight = await user.evaluate(
      () => document.querySelector<HTMLElement>("#terminal .xterm-rows > div")?.getBoundingClientRect().height ?? 0,
    );
    expect(rowHeight).toBeGreaterThan(5);
    await user.keyboard.type("exit\n");
    await user.waitForSelector('body[data-session-state="ended"]', { timeout: 10_000 });

    // The recording's replay (asciinema-player compiles WebAssembly).
    let recording: RecordingSummary | undefined;
    for (let i = 0; i < 200 && recording?.status !== "stored"; i++) {
      recording = (await stack.admin.request<RecordingSummary[]>("GET", "/api/recordings")).find(
        (r) => r.sessionId === id,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(recording?.status).toBe("stored");
    await admin.goto(`${stack.edge.url}/#/recordings/${recording!.id}`);
    await admin.waitForSelector('body[data-replay="ready"]');
    await admin.waitForLoadState("networkidle");

    expect(userViolations).toEqual([]);
    expect(adminViolations).toEqual([]);

    // And the policy is really there: markup injected into the page cannot run inline script or handlers.
    const ran = await admin.evaluate(async () => {
      const w = window as unknown as { __injected?: string[] };
      w.__injected = [];
      const script = document.createElement("script");
      script.textContent = "window.__injected.push('script')";
      document.body.appendChild(script);
      const img = document.createElement("img");
      img.setAttribute("onerror", "window.__injected.push('handler')");
      img.src = "data:,not-an-image";
      document.body.appendChild(img);
      await new Promise((r) => setTimeout(r, 300));
      return w.__injected;
    });
    expect(ran).toEqual([]);
    expect(adminViolations.some((v) => v.includes("script-src"))).toBe(true);
    await Promise.all([user.close(), admin.close()]);
  });
});
