// One bad credential ends one session, never the connector: next to a live bystander session on the same
// real connector process, credentials ssh2 cannot load (sealed through the API, as an admin's script or an
// attacker with API access would, past the form's check) each end their own session with a clear reason,
// while the connector keeps its pid, the bystander keeps echoing, and new sessions still open.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { EndReason } from "../../protocol/index.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("connector resilience to bad credentials", missingPeers(), () => {
  let stack: Stack;
  let pid: number;
  let bystander: TerminalClient;
  const clients: TerminalClient[] = [];
  const keys: Record<string, { priv: string; pub: string }> = {};

  async function connect(serverId: string, credentialId: string) {
    const { id } = await stack.user.openSession(serverId, credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    clients.push(client);
    return client;
  }

  /** A fresh key pair from ssh-keygen in the stack's temp dir (test fixtures, removed with the stack). */
  function keygen(name: string, args: string[]): { priv: string; pub: string } {
    const file = join(stack.dir, name);
    execFileSync("ssh-keygen", ["-q", "-N", "", "-C", name, ...args, "-f", file]);
    keys[name] = { priv: readFileSync(file, "utf8"), pub: readFileSync(`${file}.pub`, "utf8") };
    return keys[name]!;
  }

  beforeAll(async () => {
    stack = await startStack();
    pid = stack.connector.child.pid!;
    bystander = await connect(stack.serverId, stack.credentialId);
    await bystander.waitForState("connected");
    bystander.type("echo bystander-$((6*7))\n");
    await bystander.waitForOutput("bystander-42");
  });
  afterAll(async () => {
    await stack?.stop();
  });

  // [what is wrong, the sealed secret, what the session must end with]
  const cases: [string, () => string, EndReason][] = [
    [
      "a valid key with a trailing comment line",
      () => `${keygen("comment", ["-t", "ed25519"]).priv}# laptop key\n`,
      "credential_invalid",
    ],
    [
      "an encrypted key without its passphrase",
      () => keygen("encrypted", ["-t", "ed25519", "-N", "pass-7"]).priv,
      "credential_invalid",
    ],
    [
      "an unsupported key type (PKCS#8)",
      () => generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      "credential_invalid",
    ],
    [
      "an unknown PEM label",
      () => "-----BEGIN FOO PRIVATE KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END FOO PRIVATE KEY-----\n",
      "credential_invalid",
    ],
    ["a public key where the private key belongs", () => keygen("public", ["-t", "ed25519"]).pub, "credential_invalid"],
    ["a password stored as a private key", () => "correct-horse-battery-staple", "credential_invalid"],
    ["a valid key the account does not accept", () => keygen("stranger", ["-t", "ed25519"]).priv, "auth_failed"],
    ["a DSA key (ssh2 loads it; the server refuses it)", () => keygen("dsa", ["-t", "dsa"]).priv, "auth_failed"],
  ];

  it.each(cases)("%s: that session ends with its reason, nothing else does", async (what, secret, reason) => {
    const cred = await stack.admin.createCredential({
      name: what.slice(0, 60),
      username: stack.targetUser,
      kind: "private_key",
      zoneId: stack.zoneId,
      secret: secret(),
      serverIds: [stack.serverId],
    });
    const bad = await connect(stack.serverId, cred.id);
    expect(await bad.waitForEnd()).toBe(reason);
    expect(bad.messages.some((m) => m.type === "status" && m.state === "connected")).toBe(false);

    // The same connector process, still serving.
    expect(stack.connector.child.exitCode).toBeNull();
    expect(stack.connector.child.pid).toBe(pid);
    // The shell computes the marker, so only its output (not the echoed command line) matches.
    const n = cases.findIndex(([w]) => w === what) + 1;
    bystander.type(`echo still-$((${n}*11))\n`);
    await bystander.waitForOutput(`still-${n * 11}\r\n`);
    const fresh = await connect(stack.serverId, stack.credentialId);
    await fresh.waitForState("connected");
    fresh.close();
  });

  it.skipIf(Boolean(chromiumMissing()))(
    "the credential form refuses such keys in the page, saying what is wrong",
    async () => {
      const comment = `${keygen("form-comment", ["-t", "ed25519"]).priv}# laptop key\n`;
      const encrypted = keygen("form-encrypted", ["-t", "ecdsa", "-N", "pass-8"]).priv;
      const good = keygen("form-good", ["-t", "ed25519"]);
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const posted: string[] = [];
        page.on("request", (r) => {
          if (r.method() === "POST" && new URL(r.url()).pathname === "/api/credentials") posted.push(r.url());
        });
        await signInPage(page, stack.edge.url, "admin", "admin-password-1");
        await page.goto(`${stack.edge.url}/#/admin/credentials`);
        await page.fill("#cred-name", "checked in the page");
        await page.fill("#cred-username", stack.targetUser);
        await page.selectOption("#cred-kind", "private_key");
        await page.selectOption("#cred-zone", stack.zoneId);
        await page.check(`#cred-servers input[value="${stack.serverId}"]`);
        const refusals: [string, RegExp][] = [
          [comment, /Text after the END line/],
          [encrypted, /encrypted with a passphrase/],
          [good.pub, /This is a public key/],
          ["-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----", /Unsupported key format/],
        ];
        for (const [secret, message] of refusals) {
          await page.fill("#cred-secret", secret);
          await page.click("#cred-submit");
          await expect.poll(() => page.textContent("#cred-message")).toMatch(message);
        }
        // A key pasted as a password is caught too.
        await page.selectOption("#cred-kind", "password");
        await page.fill("#cred-secret", good.priv);
        await page.click("#cred-submit");
        await expect.poll(() => page.textContent("#cred-message")).toMatch(/looks like a key/);
        expect(posted).toEqual([]);
        await page.selectOption("#cred-kind", "private_key");
        await page.fill("#cred-secret", good.priv);
        await page.click("#cred-submit");
        await expect.poll(() => page.textContent("#cred-message")).toMatch(/saved, sealed/);
        expect(posted).toHaveLength(1);
      } finally {
        await browser.close();
      }
    },
  );

  it("told the browser only the reason, and logged no key", async () => {
    expect(bystander.state).toBe("connected");
    const browserBytes = Buffer.concat(clients.flatMap((c) => c.received)).toString("latin1");
    expect(browserBytes).not.toMatch(/Cannot parse|privateKey|Unsupported|Malformed/);
    const logs = await stack.logs();
    // The connector said what was wrong with each key, by name only.
    expect(logs).toMatch(
      /"event":"session.setup_failed"[^\n]*"reason":"credential_invalid"[^\n]*"problem":"text_after"/,
    );
    expect(logs).toMatch(/"problem":"encrypted"/);
    expect(logs).toMatch(/"problem":"public_key"/);
    expect(logs).not.toContain('"event":"process.fault"');
    for (const { priv } of Object.values(keys)) {
      // Any full line of a key's body would be a leak.
      for (const line of priv.split("\n").slice(1, -2)) expect(logs).not.toContain(line);
    }
    expect(logs).not.toContain("correct-horse-battery-staple");
  });
});
