// Debian's Chromium driven by playwright-core (never a downloaded browser).
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const chromiumMissing = () =>
  existsSync(CHROMIUM) ? undefined : "Chromium is not installed (apt-get install chromium)";

export async function launchChromium(): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), "psm-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  // A page load on a loaded 2-core CI machine once took over Playwright's default 30 s (stop 27's run, with every
  // other step of the suite on time): navigation gets 60 s; every other wait keeps its own bound.
  context.setDefaultNavigationTimeout(60_000);
  return context;
}

/** Everything a page receives (HTTP headers and bodies, socket frames, console), pushed to `into` for the canary scan. */
export function collectBrowserBound(page: Page, into: string[]): void {
  page.on("response", async (res) => {
    into.push(JSON.stringify(res.headers()));
    into.push(await res.text().catch(() => ""));
  });
  page.on("websocket", (ws) =>
    ws.on("framereceived", (f) => into.push(typeof f.payload === "string" ? f.payload : f.payload.toString("latin1"))),
  );
  page.on("console", (msg) => into.push(msg.text()));
  // What went wrong in the page, for a failing test to print (script errors, failed loads, console errors).
  const seen: string[] = [];
  problems.set(page, seen);
  page.on("pageerror", (err) => seen.push(`pageerror: ${err.stack ?? err.message}`));
  page.on("requestfailed", (req) => seen.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ""}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") seen.push(`console.error: ${msg.text()}`);
  });
}

const problems = new WeakMap<Page, string[]>();

/** Script errors, failed requests and console errors on a page `collectBrowserBound` watched, one per line. */
export function pageProblems(page: Page): string {
  return (problems.get(page) ?? []).join("\n") || "(no script error, failed request or console error)";
}

/** Signs `username` in through the page's login form at `url` and waits for the catalog. */
export async function signInPage(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/#/login`);
  await page.fill("#login-username", username);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
  await page.waitForSelector('body[data-route="catalog"]');
}

/**
 * The serious and critical accessibility violations axe-core finds on the page as it is now (WCAG 2.1 A/AA
 * rules), one line each: rule, impact, and the first elements it names. Injected through the DevTools protocol,
 * so the page's CSP (no inline scripts) stays as deployed.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<AxeResults> } }).axe;
    type AxeResults = { violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> };
    const result = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.targets.join(" | ")}`);
}

/**
 * Chromium's virtual authenticator on `page` (a security key that answers at once, user verified): a roaming USB key
 * by default, or a platform one holding discoverable credentials. Returns its CDP session and id, to read its credentials.
 */
export async function virtualAuthenticator(page: Page, kind: "usb" | "platform" = "usb") {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: kind === "usb" ? "usb" : "internal",
      hasResidentKey: kind === "platform",
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}
