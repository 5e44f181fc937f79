// Command control through the real stack (issue 19): wrangler dev, a real OpenSSH sshd with bash, the real
// connector. A policy's rules reach the connector in the grant; a denied line never runs (the marker file it would
// create stays absent), whether typed, edited with the arrow keys, recalled from history or by Ctrl-R, continued
// with a backslash, chained, or pasted (plain or bracketed); alerted and allowed lines run. A reviewed line waits
// at the connector until a reviewer (the policy's approver group) allows it, refuses it or lets it time out, or the
// user withdraws it. An admin edits the rules on the policy form in Chromium. One stack for the file.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import type { CommandReviewList, Notice, Policy } from "../../protocol/index.ts";
import { axeViolations, chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const RULES = [
  { kind: "regex", pattern: "forbidden-[a-z]+", action: "deny", message: "Forbidden files are off limits." },
  { kind: "commands", names: ["shred", "systemctl stop"], action: "deny", message: "Not on this server." },
  { kind: "regex", pattern: "alerted-[a-z]+", action: "alert", message: "" },
  { kind: "regex", pattern: "reviewed-[a-z]+", action: "review", message: "A second pair of eyes.", reviewSeconds: 10 },
];
const ESC = "\x1b";
const LEFT = `${ESC}[D`;
const UP = `${ESC}[A`;

describeWithPeers("command control on an SSH shell", missingPeers(), () => {
  let stack: Stack;
  let t: TerminalClient;
  let home: string;
  let step = 0;
  /** A member of the policy's approver group: the session's reviewer. */
  let rita: EdgeClient;

  /** Runs a harmless command and waits for its result: everything typed before has been handled by the shell. */
  async function synced(): Promise<void> {
    step++;
    t.type(`echo sync-$((${step}+1000))\r`);
    await t.waitForOutput(`sync-${step + 1000}`);
  }
  const made = (name: string) => existsSync(join(home, name));
  /** The connector's `session.command` log lines (action and rule; never the line). */
  const commandLog = async () =>
    (await stack.logs())
      .split("\n")
      .filter((l) => l.includes('"event":"session.command"'))
      .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { action: string; rule?: number });
  /** Waits for output after `mark` (a length of `t.output`) to match: readline redraws only what changed. */
  const outputAfter = (mark: number, pattern: RegExp) =>
    t.until(`output ${pattern}`, () => (pattern.test(t.output.slice(mark)) ? true : undefined));
  const typeEach = (text: string) => {
    for (const ch of text) t.type(ch);
  };

  beforeAll(async () => {
    stack = await startStack();
    home = join("/home", stack.targetUser);
    const reviewer = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "rita",
      password: "rita-password-1",
      roles: ["approver"],
    });
    const reviewers = await stack.admin.createGroup("reviewers", [reviewer.id]);
    rita = new EdgeClient(stack.edge.url);
    await rita.login("rita", "rita-password-1");
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "guarded",
      commandRules: RULES,
      approverGroupId: reviewers.id,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { cols: 120, rows: 30 });
    await t.waitForState("connected");
    await synced();
  });
  afterAll(async () => {
    if (process.env.CC_DEBUG) (await import("node:fs")).writeFileSync(process.env.CC_DEBUG, await stack.logs());
    t?.close();
    await stack?.stop();
  });

  it("allows a line no rule denies, and runs an alerted one (both logged as commands)", async () => {
    t.type("echo 1 > ~/allowed-one\r");
    t.type("echo 1 > ~/alerted-one\r");
    await synced();
    expect(made("allowed-one")).toBe(true);
    expect(made("alerted-one")).toBe(true);
    const log = await commandLog();
    expect(log).toContainEqual(expect.objectContaining({ action: "allow" }));
    expect(log).toContainEqual(expect.objectContaining({ action: "alert", rule: 2 }));
  });

  it("denies a typed line: it never runs, the line is cleared and the shell goes on", async () => {
    const before = (await commandLog()).filter((l) => l.action === "deny").length;
    t.type("echo 1 > ~/forbidden-typed\r");
    await synced();
    // Typed key by key, Enter on its own once the shell has echoed the line: read from the screen.
    typeEach("echo 1 > ~/forbidden-keys");
    await t.waitForOutput("forbidden-keys");
    t.type("\r");
    await synced();
    expect(made("forbidden-typed")).toBe(false);
    expect(made("forbidden-keys")).toBe(false);
    const denies = (await commandLog()).filter((l) => l.action === "deny");
    expect(denies.length - before).toBe(2);
    expect(denies.at(-1)).toMatchObject({ rule: 0 });
  });

  it("reads the line as edited with the arrow keys", async () => {
    // Typed as an allowed name, then fixed in place: Left x9, Backspace, "i".
    typeEach("echo 1 > ~/forbXdden-edit");
    await t.waitForOutput("forbXdden-edit");
    typeEach(LEFT.repeat(9));
    t.type("\x7f");
    t.type("i");
    await t.waitForOutput(`${ESC}[1@i`);
    t.type("\r");
    await synced();
    expect(made("forbidden-edit")).toBe(false);
    expect(made("forbXdden-edit")).toBe(false);
  });

  it("denies a line recalled from history with the up arrow, and one found with Ctrl-R", async () => {
    // Put the line into history without running it (the quotes keep the rule from seeing it being stored).
    t.type(`history -s "echo 1 > ~/forbid""den-hist"\r`);
    await synced();
    // The sync command is the newest entry; the stored line is the one before it.
    let mark = t.output.length;
    t.type(UP);
    t.type(UP);
    await outputAfter(mark, /forbidden-hist$/);
    t.type("\r");
    await synced();
    expect(made("forbidden-hist")).toBe(false);

    mark = t.output.length;
    t.type("\x12");
    typeEach("den-hi");
    await outputAfter(mark, /i': echo 1 > ~\/forbid/);
    t.type("\r");
    await synced();
    expect(made("forbidden-hist")).toBe(false);
  });

  it("joins a backslash continuation before checking, and cancels the whole command", async () => {
    const mark = t.output.length;
    t.type("echo 1 > ~/forbid\\\r");
    await outputAfter(mark, /\n[\s\S]*> $/);
    typeEach("den-cont");
    await t.waitForOutput("den-cont");
    t.type("\r");
    await synced();
    expect(made("forbidden-cont")).toBe(false);
    expect(made("forbid")).toBe(false);
  });

  it("checks every command of ; and && chains, past sudo and env", async () => {
    t.type("echo 1 > ~/chain-semi; shred -u ~/chain-semi\r");
    t.type("echo 1 > ~/chain-and && env LANG=C sudo -u root systemctl stop cron\r");
    t.type("echo 1 > ~/chain-ok && systemctl status cron >/dev/null 2>&1; true\r");
    await synced();
    expect(made("chain-semi")).toBe(false);
    expect(made("chain-and")).toBe(false);
    expect(made("chain-ok")).toBe(true);
  });

  it("checks a paste of several lines before any of it is sent", async () => {
    t.type("echo 1 > ~/paste-a\recho 1 > ~/forbidden-paste\recho 1 > ~/paste-c\r");
    await synced();
    expect(made("paste-a")).toBe(false);
    expect(made("paste-c")).toBe(false);
    t.type("echo 1 > ~/paste-x\recho 1 > ~/paste-y\r");
    await synced();
    expect(made("paste-x")).toBe(true);
    expect(made("paste-y")).toBe(true);
  });

  it("does not let a bracketed paste smuggle a newline", async () => {
    t.type(`${ESC}[200~echo 1 > ~/bracket-a\necho 1 > ~/forbidden-bracket\n${ESC}[201~`);
    t.type("\r");
    await synced();
    expect(made("bracket-a")).toBe(false);
    // A bracketed paste of allowed lines goes in whole and runs on Enter.
    t.type(`${ESC}[200~echo 1 > ~/bracket-x\necho 1 > ~/bracket-y${ESC}[201~`);
    await t.waitForOutput("bracket-y");
    t.type("\r");
    await synced();
    expect(made("bracket-x")).toBe(true);
    expect(made("bracket-y")).toBe(true);
  });

  /** The notices the user's page received after `from` (an index into t.messages). */
  const notices = (from: number) => t.messages.slice(from).filter((m): m is Notice => m.type === "notice");
  const noticeAfter = (from: number, code: Notice["code"]) =>
    t.until(`notice ${code}`, () => notices(from).find((n) => n.code === code));
  const openReviews = async (who: EdgeClient) =>
    (await who.request<CommandReviewList>("GET", "/api/command-reviews")).reviews;

  it("holds a reviewed line until the reviewer allows it; the user cannot review their own", async () => {
    const from = t.messages.length;
    t.type("echo 1 > ~/reviewed-yes\r");
    const waiting = await noticeAfter(from, "command_review");
    expect(waiting.message).toContain("A second pair of eyes.");
    const [review] = await openReviews(rita);
    expect(review).toMatchObject({ line: "echo 1 > ~/reviewed-yes", rule: 3, user: "alice" });
    // Held: the shell has not run it.
    expect(made("reviewed-yes")).toBe(false);
    // The requester sees nothing to review and cannot answer their own line (not found: no hint it exists).
    expect(await openReviews(stack.user)).toEqual([]);
    await expect(
      stack.user.request("POST", `/api/command-reviews/${review!.sessionId}/${review!.id}`, { allow: true }),
    ).rejects.toThrow(/HTTP 404/);
    await rita.request("POST", `/api/command-reviews/${review!.sessionId}/${review!.id}`, { allow: true });
    expect((await noticeAfter(from, "command_approved")).message).toContain("rita");
    await synced();
    expect(made("reviewed-yes")).toBe(true);
    // Answered once: a second answer is a conflict, and the list is empty.
    await expect(
      rita.request("POST", `/api/command-reviews/${review!.sessionId}/${review!.id}`, { allow: false }),
    ).rejects.toThrow(/HTTP 409/);
    expect(await openReviews(rita)).toEqual([]);
    const audit = await stack.admin.request<{ action: string; actor: { name: string } | null }[]>(
      "GET",
      "/api/audit?action=session.command_approved",
    );
    expect(audit.some((e) => e.actor?.name === "rita")).toBe(true);
  });

  it("a refused line never runs, and what the user typed meanwhile goes on after it", async () => {
    const from = t.messages.length;
    t.type("echo 1 > ~/reviewed-no\r");
    await noticeAfter(from, "command_review");
    // Typed while the line is held: it waits, in order, behind it.
    t.type("echo 1 > ~/after-refusal\r");
    const [review] = await openReviews(rita);
    await rita.request("POST", `/api/command-reviews/${review!.sessionId}/${review!.id}`, { allow: false });
    expect((await noticeAfter(from, "command_denied")).message).toContain("rita refused");
    await synced();
    expect(made("reviewed-no")).toBe(false);
    expect(made("after-refusal")).toBe(true);
  });

  it("refuses a line nobody reviews within the rule's time, and one the user withdraws with Ctrl-C", async () => {
    let from = t.messages.length;
    t.type("echo 1 > ~/reviewed-late\r");
    await noticeAfter(from, "command_review");
    const denied = await t.until(
      "the review to time out",
      () => notices(from).find((n) => n.code === "command_denied"),
      30_000,
    );
    expect(denied.message).toContain("in time");
    await synced();
    expect(made("reviewed-late")).toBe(false);
    expect(await openReviews(rita)).toEqual([]);

    from = t.messages.length;
    t.type("echo 1 > ~/reviewed-back\r");
    await noticeAfter(from, "command_review");
    expect(await openReviews(rita)).toHaveLength(1);
    t.type("\x03");
    expect((await noticeAfter(from, "command_denied")).message).toContain("withdrew");
    await synced();
    expect(made("reviewed-back")).toBe(false);
    expect(await openReviews(rita)).toEqual([]);
  }, 60_000);

  it("refuses a reviewed line inside a multi-line bracketed paste: it could not be held", async () => {
    const from = t.messages.length;
    t.type(`${ESC}[200~echo 1 > ~/reviewed-paste\necho 1 > ~/paste-after-review\n${ESC}[201~`);
    t.type("\r");
    expect((await noticeAfter(from, "command_denied")).message).toContain("on its own line");
    await synced();
    expect(made("reviewed-paste")).toBe(false);
    expect(made("paste-after-review")).toBe(false);
  });

  const noChromium = chromiumMissing();
  it.skipIf(noChromium !== undefined && process.env.CI !== "true")(
    "the reviewer allows a held line from the Approvals page in Chromium",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await signInPage(page, stack.edge.url, "rita", "rita-password-1");
        await page.goto(`${stack.edge.url}/#/approvals`);
        const from = t.messages.length;
        t.type("echo 1 > ~/reviewed-page\r");
        await noticeAfter(from, "command_review");
        const card = page.locator("#command-reviews article.command-review", { hasText: "reviewed-page" });
        await card.waitFor();
        expect(await card.textContent()).toContain("A second pair of eyes.");
        expect(await axeViolations(page)).toEqual([]);
        await card.getByRole("button", { name: "Allow" }).click();
        await card.getByText("Allowed: the command runs.").waitFor();
        await noticeAfter(from, "command_approved");
        await synced();
        expect(made("reviewed-page")).toBe(true);
        // Nothing left to review: the panel hides itself.
        await page.locator("#command-reviews").waitFor({ state: "hidden", timeout: 10_000 });
      } finally {
        await browser.close();
      }
    },
  );
  it.skipIf(noChromium !== undefined && process.env.CI !== "true")(
    "an admin edits command rules on the policy form; an unsafe pattern is refused at its field",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await signInPage(page, stack.edge.url, "admin", "admin-password-1");
        await page.goto(`${stack.edge.url}/#/admin/policies`);
        await page.fill("#policy-name", "no reboots");
        await page.click("#policy-command-rule-add");
        await page.fill("#policy-command-rule-1-pattern", "reboot, systemctl stop");
        await page.fill("#policy-command-rule-1-message", "Reboots go through change control.");
        await page.click("#policy-command-rule-add");
        await page.selectOption("#policy-command-rule-2-kind", "regex");
        await page.fill("#policy-command-rule-2-pattern", "(a+)+$");
        await page.selectOption("#policy-command-rule-2-action", "alert");
        await page.click("#policy-submit");
        const error = page.locator("#policy-command-rule-2-error");
        await error.waitFor();
        expect(await error.textContent()).toContain("nested repetition");
        expect(await page.getAttribute("#policy-command-rule-2-pattern", "aria-invalid")).toBe("true");
        expect(await axeViolations(page)).toEqual([]);
        expect((await stack.admin.request<Policy[]>("GET", "/api/policies")).some((p) => p.name === "no reboots")).toBe(
          false,
        );

        await page.fill("#policy-command-rule-2-pattern", "curl .*\\| *sh");
        await page.getByRole("button", { name: "Move up: rule 2" }).click();
        await page.click("#policy-submit");
        await page.locator("#policy-message", { hasText: "Policy no reboots created" }).waitFor();
        const saved = (await stack.admin.request<Policy[]>("GET", "/api/policies")).find(
          (p) => p.name === "no reboots",
        );
        expect(saved?.commandRules).toEqual([
          { kind: "regex", pattern: "curl .*\\| *sh", action: "alert", message: "" },
          {
            kind: "commands",
            names: ["reboot", "systemctl stop"],
            action: "deny",
            message: "Reboots go through change control.",
          },
        ]);
      } finally {
        await browser.close();
      }
    },
  );
});
