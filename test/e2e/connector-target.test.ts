// The connector's own checks before it dials a target, against a real sshd: the site's address
// policy on the resolved IP (loopback spellings, a name that resolves to loopback) and the
// credential provider (EmpowerID releasing the password, refusing, answering malformed), with
// the session ending cleanly and nothing reaching sshd when refused.
import type { JWK } from "jose";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type { CredentialProvider } from "../../connector/credentials.ts";
import { EmpowerIdConfig } from "../../connector/empowerid-config.ts";
import { EmpowerIdProvider } from "../../connector/empowerid.ts";
import { generateIdentityKey, generateSealKey, publicJwk } from "../../connector/keys.ts";
import { sealSecret } from "../../connector/seal.ts";
import { TargetSession } from "../../connector/session.ts";
import type { ConnectorState } from "../../connector/state.ts";
import { type Lookup, resolveTarget } from "../../connector/target-connect.ts";
import { DEFAULT_ALLOWED_RANGES, parseCidr } from "../../connector/target-policy.ts";
import type { GrantClaims } from "../../protocol/index.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";
import { FakeEmpowerId } from "../fakes/empowerid.ts";
import { describeWithPeers } from "../support/peers.ts";
import { createTargetUser, missingPeers, newCanary, removeTargetUser } from "../support/stack.ts";

describeWithPeers("connector target checks", missingPeers(), () => {
  let dir: string;
  let sshd: Sshd;
  let edge: WebSocketServer;
  let state: ConnectorState;
  const canary = newCanary();
  let targetUser = "";
  const received = new Map<string, string[]>();
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-target-"));
    targetUser = createTargetUser(canary);
    sshd = await startSshd({ dir: join(dir, "sshd"), passwordAuthentication: true, allowUsers: [targetUser] });
    // startSshd's readiness probe is one TCP connection; wait until sshd has logged it, so that the
    // counts below see only what the connector does.
    await waitFor("sshd to log the readiness probe", async () => ((await connectionsSeen()) > 0 ? true : undefined));
    // A stand-in for the session room: records what the connector says on each data socket.
    edge = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((resolve) => edge.once("listening", resolve));
    edge.on("connection", (ws, req) => {
      const id = req.url!.split("/").pop()!;
      received.set(id, []);
      ws.on("message", (data, isBinary) => !isBinary && received.get(id)!.push(data.toString()));
    });
    state = {
      edgeUrl: `http://127.0.0.1:${(edge.address() as { port: number }).port}`,
      connectorId: "c-test",
      siteId: "s-test",
      identityKey: await generateIdentityKey(),
      sealKey: await generateSealKey(),
      edgeKey: {},
    };
  });
  afterAll(async () => {
    edge?.close();
    await sshd?.stop();
    if (targetUser) removeTargetUser(targetUser);
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  async function run(
    host: string,
    hooks: ConstructorParameters<typeof TargetSession>[5],
    cred: Partial<GrantClaims["cred"]> = {},
  ): Promise<{ id: string; messages: () => string[]; session: TargetSession }> {
    const id = `sess-${++n}`;
    const now = Math.floor(Date.now() / 1000);
    const grant: GrantClaims = {
      iss: "psm-edge",
      sub: id,
      aud: "site:s-test",
      jti: id,
      iat: now,
      exp: now + 60,
      dl: now + 120,
      usr: { id: "u", name: "alice" },
      tgt: { host, port: sshd.port, protocol: "ssh", hostKey: sshd.hostKeyFingerprint },
      cred: { id: "c", username: targetUser, kind: "password", ...cred },
      rec: { required: false, keystrokes: false },
      ch: ["shell"],
    };
    const session = new TargetSession(
      state,
      id,
      grant,
      (event, fields) => logLines.push(JSON.stringify({ event, ...fields })),
      () => {},
      hooks,
    );
    await session.start();
    return { id, messages: () => received.get(id) ?? [], session };
  }
  const ended = (reason: string) => JSON.stringify({ type: "end", reason });
  const connectionsSeen = async () => ((await sshd.log()).match(/Connection from/g) ?? []).length;

  describe("address policy, on the resolved IP", () => {
    const defaults = DEFAULT_ALLOWED_RANGES.map(parseCidr);

    it.each(["127.0.0.1", "127.1", "0x7f000001", "2130706433", "::ffff:127.0.0.1", "localhost", "0.0.0.0"])(
      "refuses %s before dialling: sshd sees no connection",
      async (host) => {
        const before = await connectionsSeen();
        const sealed = await sealSecret(publicJwk(state.sealKey), canary);
        const s = await run(host, { resolveTarget: (h) => resolveTarget(h, defaults) }, { sealed });
        await expect.poll(s.messages, { timeout: 10_000 }).toContain(ended("target_refused"));
        expect(s.messages().join()).not.toContain('"connected"');
        expect(await connectionsSeen()).toBe(before);
      },
    );

    it("refuses a name whose DNS answer is loopback, even with loopback-looking names absent", async () => {
      const before = await connectionsSeen();
      // A rebinding resolver: the name looks internal, its answer points at the connector host.
      const rebinding: Lookup = async () => [{ address: "127.0.0.1", family: 4 }];
      const sealed = await sealSecret(publicJwk(state.sealKey), canary);
      const s = await run(
        "db.corp.example",
        { resolveTarget: (h) => resolveTarget(h, defaults, rebinding) },
        { sealed },
      );
      await expect.poll(s.messages, { timeout: 10_000 }).toContain(ended("target_refused"));
      expect(await connectionsSeen()).toBe(before);
    });

    it("connects to the checked address when the site names loopback on purpose", async () => {
      const dev = ["127.0.0.0/8"].map(parseCidr);
      const sealed = await sealSecret(publicJwk(state.sealKey), canary);
      const s = await run("127.1", { resolveTarget: (h) => resolveTarget(h, dev) }, { sealed });
      await expect.poll(() => s.messages().join(), { timeout: 15_000 }).toContain('"connected"');
      s.session.end("closed");
    });
  });

  describe("EmpowerID as the credential authority", () => {
    let fake: FakeEmpowerId;
    let provider: CredentialProvider;
    const master = newCanary();
    beforeAll(async () => {
      fake = await new FakeEmpowerId().start();
      fake.secret = canary;
      fake.masterPassword = master;
      provider = new EmpowerIdProvider(
        EmpowerIdConfig.parse({
          baseUrl: fake.url,
          clientId: fake.clientId,
          clientSecret: fake.clientSecret,
          apiKey: fake.apiKey,
          timeoutMs: 2000,
        }),
        () => state.sealKey as JWK,
        (event, fields) => logLines.push(JSON.stringify({ event, ...fields })),
      );
    });
    afterAll(() => fake?.stop());

    it("logs into sshd with the password EmpowerID released and reports connected, then ended", async () => {
      fake.mode = "approve";
      const mp = await sealSecret(publicJwk(state.sealKey), master);
      const s = await run("127.0.0.1", { credentials: provider }, { ref: "EID-7", mp });
      await expect.poll(() => s.messages().join(), { timeout: 15_000 }).toContain('"connected"');
      const checkout = [...fake.checkouts.values()].find((c) => c.sessionId === s.id)!;
      expect(checkout).toMatchObject({ user: "alice", credential: "EID-7" });
      await expect.poll(() => checkout.status, { timeout: 5000 }).toBe("Connected");
      s.session.end("closed");
      await expect.poll(() => checkout.status, { timeout: 5000 }).toBe("Ended");
      expect(checkout.reason).toBe("closed");
    });

    it.each([
      ["refuse", "credential_refused"],
      ["malformed", "credential_unavailable"],
      ["hang", "credential_unavailable"],
    ] as const)("%s: the session ends with %s, sshd never dialled, nothing left open", async (mode, reason) => {
      fake.mode = mode;
      const before = await connectionsSeen();
      const mp = await sealSecret(publicJwk(state.sealKey), master);
      const s = await run("127.0.0.1", { credentials: provider }, { ref: "EID-7", mp });
      await expect.poll(s.messages, { timeout: 10_000 }).toContain(ended(reason));
      await expect.poll(() => fake.open().length, { timeout: 5000 }).toBe(0);
      expect(await connectionsSeen()).toBe(before);
    });

    it("no secret reached a log line", () => {
      const all = logLines.join("\n");
      expect(all).not.toContain(canary);
      expect(all).not.toContain(master);
      expect(all).not.toContain(fake.clientSecret);
    });
  });
});
