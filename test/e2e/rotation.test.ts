// Credential rotation with real peers: wrangler dev (edge), the connector process, a private OpenSSH sshd
// with real local accounts (a password account that changes its own password with passwd, a key account
// whose authorized_keys is rewritten, an account reset by root's key) and a real slapd (RFC 3062 password
// modify over StartTLS). For each: after check-in or "Rotate now", the old secret is refused by the target,
// the new one logs in, and the new secret is in no edge log, no edge state byte (D1, DO storage), no
// connector log line and no browser-bound byte. It exists in plaintext only inside the connector; the test
// reads it by opening the blob the edge stored with the site key, as only a connector can.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import { Client as LdapClient } from "ldapts";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ed25519KeyPair } from "../../connector/rotation/secret.ts";
import { openSealed } from "../../connector/seal.ts";
import type { CredentialRotationInfo } from "../../protocol/index.ts";
import { LOOPBACK_TARGETS, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { d1Query } from "../../scripts/stack/edge.ts";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";
import { describeWithPeers } from "../support/peers.ts";
import { allBytes } from "../support/probes.ts";
import { missingSlapd, type Slapd, startSlapd } from "../support/slapd.ts";
import {
  createTargetUser,
  missingPeers,
  newCanary,
  removeTargetUser,
  type Stack,
  startStack,
} from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

/** Whether `login` opens an SSH session on the rotation sshd now. */
async function logsIn(sshd: Sshd, login: { username: string; password?: string; privateKey?: string }) {
  return new Promise<boolean>((resolve) => {
    const c = new ssh2.Client();
    c.once("ready", () => {
      c.end();
      resolve(true);
    });
    c.once("error", () => resolve(false));
    c.connect({ host: "127.0.0.1", port: sshd.port, readyTimeout: 10_000, tryKeyboard: false, ...login });
  });
}

async function binds(slapd: Slapd, dn: string, password: string): Promise<boolean> {
  const client = new LdapClient({ url: slapd.ldapsUrl, tlsOptions: { ca: [readFileSync(slapd.caFile)] } });
  try {
    await client.bind(dn, password);
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => {});
  }
}

describeWithPeers("credential rotation against real sshd and slapd", missingPeers() ?? missingSlapd(), () => {
  let stack: Stack;
  let sshd: Sshd;
  let slapd: Slapd;
  let zoneId: string;
  let sealKey: JWK;
  const users: string[] = [];
  const newSecrets: string[] = [];
  const ldapStart = `Ldap-Canary-${randomBytes(8).toString("hex")}`;

  const admin = <T>(method: string, path: string, body?: unknown) => stack.admin.request<T>(method, path, body);
  const info = (id: string) => admin<CredentialRotationInfo>("GET", `/api/credentials/${id}/rotation`);

  /** Waits until the credential's rotation settles (ok, failed or out of sync) and returns its info. */
  async function settled(id: string, timeoutMs = 30_000): Promise<CredentialRotationInfo> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = await info(id);
      if (i.state !== "pending" && i.state !== "rotating" && i.history[0]?.finishedAt) return i;
      if (Date.now() > until) throw new Error(`rotation of ${id} did not settle: ${JSON.stringify(i)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Waits for the rotation to settle and checks it; when it is not what was expected, the failure says why
   * (the connector's rotation lines and the sshd log tail), since a flaky run is read only from CI's output.
   */
  async function settledAs(id: string, expected: Partial<CredentialRotationInfo>): Promise<void> {
    const got = await settled(id);
    const matches = Object.entries(expected).every(([k, v]) => got[k as keyof CredentialRotationInfo] === v);
    if (matches) return;
    const connector = (await stack.logs())
      .split("\n")
      .filter((line) => line.includes("rotation."))
      .slice(-6);
    const sshdTail = (await sshd.log()).split("\n").slice(-12);
    expect(got, [JSON.stringify(got), ...connector, ...sshdTail].join("\n")).toMatchObject(expected);
  }

  /** The secret the edge now vaults for `credentialId`, opened as a connector would. */
  async function vaulted(credentialId: string): Promise<string> {
    const rows = await d1Query<{ sealed: string }>(
      join(stack.dir, "edge"),
      `SELECT sealed FROM credentials WHERE id = '${credentialId}'`,
    );
    const secret = (await openSealed(sealKey, rows[0]!.sealed)).toString("utf8");
    newSecrets.push(secret);
    return secret;
  }

  async function addServer(name: string) {
    return stack.admin.createServer({
      name,
      host: "127.0.0.1",
      port: sshd.port,
      zoneId,
      hostKey: sshd.hostKeyFingerprint,
    });
  }

  /** A fresh local account whose password is a new canary, its server entry and its vaulted credential. */
  async function passwordAccount(name: string) {
    const canary = newCanary();
    const account = createTargetUser(canary);
    users.push(account);
    const server = await addServer(name);
    const cred = await stack.admin.createCredential({
      name,
      username: account,
      kind: "password",
      zoneId,
      secret: canary,
      serverIds: [server.id],
    });
    return { canary, account, server, cred };
  }

  beforeAll(async () => {
    stack = await startStack({ testScheduled: true });
    const dir = join(stack.dir, "rotation");
    mkdirSync(join(dir, "keys"), { recursive: true });
    [slapd, sealKey] = await Promise.all([
      startSlapd({
        dir: join(dir, "slapd"),
        bindPassword: newCanary(),
        computers: [],
        people: [{ cn: "svc-report", password: ldapStart }],
      }),
      readFile(join(stack.connectorState, "connector.json"), "utf8").then((t) => JSON.parse(t).sealKey as JWK),
    ]);
    // The connector trusts the directory's CA for StartTLS.
    await writeConnectorConfig(stack.connectorState, {
      allowedTargets: LOOPBACK_TARGETS,
      metricsPort: 0,
      directoryCaFile: slapd.caFile,
    });
    await stack.restartConnector();
    const policy = await admin<{ id: string }>("POST", "/api/policies", {
      name: "rotate on check-in",
      resetOnCheckin: true,
    });
    const zone = await stack.admin.createZone("rotating accounts", stack.siteId, policy.id);
    zoneId = zone.id;
    await stack.admin.grant(stack.operatorsGroupId, zoneId);
    // Keys of root (the rotation credential) live in a file of ours: nothing outside the test folder changes.
    sshd = await startSshd({
      dir: join(dir, "sshd"),
      passwordAuthentication: true,
      authorizedKeysFile: `.ssh/authorized_keys ${join(dir, "keys")}/%u`,
      allowUsers: ["root", `${"psm_e2e_"}*`],
    });
  }, 180_000);

  afterAll(async () => {
    for (const u of users) removeTargetUser(u);
    await Promise.allSettled([sshd?.stop(), slapd?.stop()]);
    await stack?.stop();
  });

  it("check-in rotates a password account through itself: the old password is refused, the vaulted one works, and a session opens with it", async () => {
    const { canary, account, server, cred } = await passwordAccount("pw-self");
    // Alice checks it out (exclusive: it rotates on check-in), uses it, and checks it in.
    const { id: sessionId } = await stack.user.openSession(server.id, cred.id);
    const client = await TerminalClient.open(stack.edge.url, sessionId, stack.user.sessionCookie);
    await client.waitForState("connected");
    client.close();
    const mine = await stack.user.request<Array<{ id: string; status: string; credentialId: string }>>(
      "GET",
      "/api/checkouts",
    );
    const checkout = mine.find((c) => c.credentialId === cred.id && c.status === "active")!;
    await stack.user.request("POST", `/api/checkouts/${checkout.id}/check-in`, {});

    const after = await settled(cred.id);
    expect(after).toMatchObject({ state: "ok", error: null });
    expect(after.history[0]).toMatchObject({ op: "rotate", cause: "checkin", outcome: "rotated" });
    const fresh = await vaulted(cred.id);
    expect(fresh).not.toBe(canary);
    expect(await logsIn(sshd, { username: account, password: canary })).toBe(false);
    expect(await logsIn(sshd, { username: account, password: fresh })).toBe(true);
    // The product itself opens a session with the new secret.
    const again = await stack.user.openSession(server.id, cred.id);
    const second = await TerminalClient.open(stack.edge.url, again.id, stack.user.sessionCookie);
    await second.waitForState("connected");
    second.type("whoami\n");
    await second.waitForOutput(account);
    second.close();
  }, 90_000);

  it("a key account gets a new key pair: the old key is refused and removed from authorized_keys", async () => {
    const account = createTargetUser(newCanary());
    users.push(account);
    const old = ed25519KeyPair("old");
    const home = `/home/${account}`;
    mkdirSync(`${home}/.ssh`, { recursive: true, mode: 0o700 });
    writeFileSync(`${home}/.ssh/authorized_keys`, `${old.public}\n`, { mode: 0o600 });
    const uid = Number(execFileSync("id", ["-u", account], { encoding: "utf8" }).trim());
    chownSync(`${home}/.ssh`, uid, uid);
    chownSync(`${home}/.ssh/authorized_keys`, uid, uid);
    const server = await addServer("key");
    const cred = await stack.admin.createCredential({
      name: "key account",
      username: account,
      kind: "private_key",
      zoneId,
      secret: old.private,
      serverIds: [server.id],
    });
    expect(await logsIn(sshd, { username: account, privateKey: old.private })).toBe(true);
    await admin("POST", `/api/credentials/${cred.id}/rotate`);
    expect(await settled(cred.id)).toMatchObject({ state: "ok" });
    const fresh = await vaulted(cred.id);
    expect(fresh).toContain("BEGIN OPENSSH PRIVATE KEY");
    expect(await logsIn(sshd, { username: account, privateKey: old.private })).toBe(false);
    expect(await logsIn(sshd, { username: account, privateKey: fresh })).toBe(true);
    const lines = readFileSync(`${home}/.ssh/authorized_keys`, "utf8").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ssh-ed25519 \S+ psm-rotated-/);
  }, 60_000);

  it("a password changed outside the PSM shows as out of sync; root's key reconciles it", async () => {
    const canary = newCanary();
    const account = createTargetUser(canary);
    users.push(account);
    const rootKey = ed25519KeyPair("root");
    writeFileSync(join(stack.dir, "rotation", "keys", "root"), `${rootKey.public}\n`, { mode: 0o600 });
    const server = await addServer("pw-via-root");
    const [cred, root] = await Promise.all([
      stack.admin.createCredential({
        name: "pw reconciled",
        username: account,
        kind: "password",
        zoneId,
        secret: canary,
        serverIds: [server.id],
      }),
      stack.admin.createCredential({
        name: "root key",
        username: "root",
        kind: "private_key",
        zoneId,
        secret: rootKey.private,
        serverIds: [server.id],
      }),
    ]);
    await admin("POST", `/api/credentials/${cred.id}/verify`);
    expect(await settled(cred.id)).toMatchObject({ state: "ok" });
    // Someone changes the password on the box, by hand.
    execFileSync("chpasswd", { input: `${account}:${newCanary()}\n` });
    await admin("POST", `/api/credentials/${cred.id}/verify`);
    expect(await settled(cred.id)).toMatchObject({ state: "out_of_sync" });
    // Without a rotation credential the account cannot prove itself: the rotation fails and is not handed out.
    await admin("POST", `/api/credentials/${cred.id}/rotate`);
    const stuck = await settled(cred.id);
    expect(stuck).toMatchObject({ state: "failed", error: "auth_failed" });
    const refused = await stack.user.submitCart([
      { serverId: server.id, credentialId: cred.id, minutes: 5, justification: "while it is failed" },
    ]);
    expect(refused.results[0]).toEqual({ ok: false, error: "credential_rotating" });
    // Named as the rotation credential, root's key resets it.
    await admin("PUT", `/api/credentials/${cred.id}/rotation`, { account: { type: "ssh" }, rotateWith: root.id });
    await admin("POST", `/api/credentials/${cred.id}/rotate`);
    await settledAs(cred.id, { state: "ok", attempts: 0 });
    expect(await logsIn(sshd, { username: account, password: await vaulted(cred.id) })).toBe(true);
  }, 60_000);

  it("a target that is down at check-in is rotated when it is back, and nobody can check the credential out meanwhile", async () => {
    const { canary, account, server, cred } = await passwordAccount("pw-down");
    const cart = await stack.user.submitCart([
      { serverId: server.id, credentialId: cred.id, minutes: 5, justification: "before the outage" },
    ]);
    const checkout = cart.results[0]!;
    if (!checkout.ok) throw new Error("checkout refused");
    await sshd.stop();
    await stack.user.request("POST", `/api/checkouts/${checkout.checkout.id}/check-in`, {});
    const down = await settled(cred.id);
    expect(down).toMatchObject({ state: "failed", error: "target_unreachable", attempts: 1 });
    const refused = await stack.user.submitCart([
      { serverId: server.id, credentialId: cred.id, minutes: 5, justification: "during the outage" },
    ]);
    expect(refused.results[0]).toEqual({ ok: false, error: "credential_rotating" });
    // Back on the same port with the same host key; the retry is due after its backoff, and the sweep runs it.
    sshd = await startSshd({
      dir: join(stack.dir, "rotation", "sshd"),
      port: sshd.port,
      passwordAuthentication: true,
      authorizedKeysFile: `.ssh/authorized_keys ${join(stack.dir, "rotation", "keys")}/%u`,
      allowUsers: ["root", "psm_e2e_*"],
    });
    await new Promise((r) => setTimeout(r, Math.max(0, down.dueAt! - Date.now()) + 500));
    await fetch(`${stack.edge.url}/__scheduled?cron=*+*+*+*+*`);
    const back = await settled(cred.id);
    expect(back).toMatchObject({ state: "ok" });
    expect(back.history[0]).toMatchObject({ cause: "retry", outcome: "rotated" });
    expect(await logsIn(sshd, { username: account, password: canary })).toBe(false);
    expect(await logsIn(sshd, { username: account, password: await vaulted(cred.id) })).toBe(true);
  }, 90_000);

  it("a directory account changes its password by RFC 3062 over StartTLS against slapd", async () => {
    const dn = `cn=svc-report,ou=People,${slapd.baseDN}`;
    const start = ldapStart;
    const server = await addServer("directory");
    const cred = await stack.admin.createCredential({
      name: "directory account",
      username: "svc-report",
      kind: "password",
      zoneId,
      secret: start,
      serverIds: [server.id],
    });
    // Plain LDAP without StartTLS is refused: no password crosses the network in clear.
    const plain = await stack.admin
      .request("PUT", `/api/credentials/${cred.id}/rotation`, {
        account: { type: "ldap", url: slapd.ldapUrl, dn, startTls: false },
        rotateWith: null,
      })
      .catch((e: Error) => e);
    expect(String(plain)).toMatch(/400/);
    await admin("PUT", `/api/credentials/${cred.id}/rotation`, {
      account: { type: "ldap", url: slapd.ldapUrl, dn, startTls: true },
      rotateWith: null,
    });
    await admin("POST", `/api/credentials/${cred.id}/rotate`);
    expect(await settled(cred.id)).toMatchObject({ state: "ok" });
    const fresh = await vaulted(cred.id);
    expect(await binds(slapd, dn, start)).toBe(false);
    expect(await binds(slapd, dn, fresh)).toBe(true);
  }, 60_000);

  describe("secrecy", () => {
    it("no new secret is in any edge log, edge state byte, connector log line or browser-bound byte", async () => {
      expect(newSecrets.length).toBeGreaterThanOrEqual(5);
      const logs = await stack.logs();
      const edgeState = allBytes(join(stack.dir, "edge"));
      const browser = [...stack.user.responses, ...stack.admin.responses].join("\n");
      for (const secret of newSecrets) {
        // Keys are checked by their base64 body lines, passwords whole.
        const needles = secret.includes("PRIVATE KEY")
          ? secret.split("\n").filter((l) => l.length > 40 && !l.startsWith("-----"))
          : [secret];
        for (const needle of needles) {
          expect(logs.includes(needle), "a new secret in a log").toBe(false);
          expect(edgeState.includes(needle), "a new secret in the edge's state").toBe(false);
          expect(browser.includes(needle), "a new secret in a browser-bound byte").toBe(false);
        }
      }
      // The connector's rotation spool is empty once the edge took every answer.
      const spool = join(stack.connectorState, "rotations");
      expect(readdirSync(spool)).toEqual([]);
    });
  });
});
