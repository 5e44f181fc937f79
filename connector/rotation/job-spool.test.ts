// The rotation spool never loses a new secret the target took (connector/rotation/job.ts). The job spools the new
// secret (sealed) before touching the target so that "a crash or an unreachable edge after the change cannot lose
// it". Attack/fault (found by a red-team review, 2026-12-06): the change goes through (chpasswd exits 0), then the
// check that the new password logs in cannot reach the target (a dropped connection, sshd's MaxStartups). The job
// used to delete its spool and answer `failed`, leaving the only copy of the target's password nowhere. And a
// spooled secret must follow the site's seal key when it rotates, or it never opens again.
// A real ssh2 server plays the target; a local HTTP server plays the edge.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { Server, utils } from "ssh2";
import { afterEach, describe, expect, it } from "vitest";
import { namedPublicKey } from "../../keys/edge-keys.ts";
import { EDGE_ISSUER, GRANT_ALG, grantAudience } from "../../protocol/index.ts";
import { ROTATION_TYP } from "../../protocol/rotation.ts";
import { hostKeyFingerprint } from "../host-key.ts";
import { generateIdentityKey, generateSealKey, publicJwk } from "../keys.ts";
import { openSealed, sealSecret } from "../seal.ts";
import { resealSpooled, runRotationJob } from "./job.ts";
import { ed25519KeyPair } from "./secret.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** An SSH target: root may run `chpasswd`; once a password changed, it refuses new connections. */
async function target(passwords: Record<string, string>) {
  const host = ed25519KeyPair();
  const parsed = utils.parseKey(host.private);
  if (parsed instanceof Error) throw parsed;
  const server = new Server({ hostKeys: [host.private] }, (client) => {
    client.on("error", () => {});
    client.on("authentication", (ctx) => {
      if (ctx.method === "password" && passwords[ctx.username] === ctx.password) ctx.accept();
      else ctx.reject(["password"]);
    });
    client.on("ready", () =>
      client.on("session", (acceptSession) => {
        const session = acceptSession();
        session.on("exec", (acceptExec, _reject, info) => {
          const stream = acceptExec();
          let input = "";
          stream.on("data", (d: Buffer) => {
            input += d.toString("utf8");
          });
          stream.on("end", () => {
            if (info.command === "chpasswd") {
              const [user, password] = input.trim().split(":");
              passwords[user!] = password!;
              stream.exit(0);
              // The target stops taking connections right after the change (a network blip, sshd's MaxStartups).
              server.close();
            } else stream.exit(1);
            stream.end();
            stream.close();
          });
        });
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    hostKey: hostKeyFingerprint(parsed.getPublicSSH() as Buffer),
  };
}

/** The edge's rotation answer route: records what the connector reports. */
async function edge() {
  const answers: Array<{ outcome: string; sealed?: string; error?: string }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString("utf8");
    });
    req.on("end", () => {
      answers.push(JSON.parse(body));
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answers };
}

describe("a rotation whose change went through", () => {
  it("keeps the new secret (answered as rotated, or still spooled) when the check after the change cannot reach the target", async () => {
    const passwords: Record<string, string> = { root: "root-password-1", app: "app-password-old" };
    const ssh = await target(passwords);
    const theEdge = await edge();
    const stateDir = await mkdtemp(join(tmpdir(), "psm-rot-"));
    closers.push(() => rm(stateDir, { recursive: true, force: true }));

    const siteId = "site-1";
    const sealKey = await generateSealKey();
    const edgePrivate = await exportJWK(
      (await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).privateKey,
    );
    const edgePublic = await namedPublicKey(edgePrivate);
    const jobId = crypto.randomUUID();
    const job = await new SignJWT({
      op: "rotate",
      cid: "cred-1",
      cred: { username: "app", kind: "password", sealed: await sealSecret(publicJwk(sealKey), passwords.app!) },
      acct: { type: "ssh", host: "127.0.0.1", port: ssh.port, hostKey: ssh.hostKey },
      via: { username: "root", kind: "password", sealed: await sealSecret(publicJwk(sealKey), passwords.root!) },
    })
      .setProtectedHeader({ alg: GRANT_ALG, typ: ROTATION_TYP, kid: edgePublic.kid })
      .setIssuer(EDGE_ISSUER)
      .setAudience(grantAudience(siteId))
      .setSubject(jobId)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime("300s")
      .sign(await importJWK(edgePrivate, GRANT_ALG));

    const events: string[] = [];
    await runRotationJob(job, {
      state: {
        edgeUrl: theEdge.url,
        connectorId: "connector-1",
        siteId,
        identityKey: await generateIdentityKey(),
        sealKey,
        edgeKey: edgePublic,
      },
      stateDir,
      log: (event, fields) => events.push(`${event} ${JSON.stringify(fields ?? {})}`),
      resolveTarget: async () => "127.0.0.1",
    });

    // The target took the new password (chpasswd exited 0).
    expect(passwords.app).not.toBe("app-password-old");
    // Where does the new password survive? In a `rotated` answer, or in the spool for resendSpooled at the next start.
    const rotated = theEdge.answers.find((a) => a.outcome === "rotated")?.sealed;
    const spool = await readdir(join(stateDir, "rotations")).catch(() => [] as string[]);
    const spooled = spool.length
      ? (JSON.parse(await readFile(join(stateDir, "rotations", spool[0]!), "utf8")) as { sealed: string }).sealed
      : undefined;
    const kept = rotated ?? spooled;
    // The answer is `failed` (target_unreachable: the target cannot say), and the spool keeps the new secret for
    // the next try (a timer, then the next start), where the target is asked which secret it holds.
    expect(events.some((e) => e.startsWith("rotation.done") && e.includes("target_unreachable"))).toBe(true);
    expect(kept, `answers: ${JSON.stringify(theEdge.answers)}; spool: ${spool.length} file(s)`).toBeDefined();
    expect((await openSealed(sealKey, kept!)).toString("utf8")).toBe(passwords.app);
  });

  it("follows the site's seal key: a spooled secret is re-sealed to the key the connector adopts", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "psm-rot-"));
    closers.push(() => rm(stateDir, { recursive: true, force: true }));
    const [k1, k2] = [await generateSealKey(), await generateSealKey()];
    await mkdir(join(stateDir, "rotations"), { recursive: true });
    const spoolFile = join(stateDir, "rotations", `${crypto.randomUUID()}.json`);
    await writeFile(spoolFile, JSON.stringify({ job: "a.b.c", sealed: await sealSecret(publicJwk(k1), "new-pw-1") }));
    expect(await resealSpooled(stateDir, k1, k2)).toBe(1);
    const { job, sealed } = JSON.parse(await readFile(spoolFile, "utf8")) as { job: string; sealed: string };
    expect(job).toBe("a.b.c");
    expect((await openSealed(k2, sealed)).toString("utf8")).toBe("new-pw-1");
    await expect(openSealed(k1, sealed)).rejects.toThrow();
    // Done again (a re-seal cut short by a crash is repeated at the next adoption): nothing left to do.
    expect(await resealSpooled(stateDir, k1, k2)).toBe(0);
    expect(JSON.parse(await readFile(spoolFile, "utf8")).sealed).toBe(sealed);
  });
});
