// The EmpowerID provider against a fake EmpowerID (test/fakes/empowerid.ts): release with the
// master password, lifecycle reports, refusal, an expired token refreshed, timeout, malformed answers.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GrantClaims } from "../protocol/index.ts";
import { FakeEmpowerId } from "../test/fakes/empowerid.ts";
import { type Issued, read, testCa } from "../test/support/pki.ts";
import { CredentialRefused, CredentialUnavailable } from "./credentials.ts";
import { EmpowerIdConfig } from "./empowerid-config.ts";
import { EmpowerIdProvider } from "./empowerid.ts";
import { generateSealKey, publicJwk } from "./keys.ts";
import { sealSecret } from "./seal.ts";

const logs: string[] = [];
const log = (event: string, fields = {}) => void logs.push(JSON.stringify({ event, ...fields }));

let fake: FakeEmpowerId;
let sealKey: Awaited<ReturnType<typeof generateSealKey>>;
const MASTER = `master-${Math.random().toString(36).slice(2)}`;

beforeEach(async () => {
  fake = await new FakeEmpowerId().start();
  fake.masterPassword = MASTER;
  sealKey = await generateSealKey();
  logs.length = 0;
});
afterEach(() => fake.stop());

function provider(overrides: Partial<EmpowerIdConfig> = {}) {
  const config = EmpowerIdConfig.parse({
    baseUrl: fake.url,
    clientId: fake.clientId,
    clientSecret: fake.clientSecret,
    apiKey: fake.apiKey,
    pollingIntervalMs: 1000,
    ...overrides,
  });
  return new EmpowerIdProvider(config, () => sealKey, log);
}

async function grant(sessionId = "s1"): Promise<GrantClaims> {
  return {
    iss: "psm-edge",
    sub: sessionId,
    aud: "site:x",
    jti: "j",
    iat: 0,
    exp: 0,
    dl: 0,
    usr: { id: "u1", name: "alice" },
    tgt: { host: "10.0.0.5", port: 22, protocol: "ssh", hostKey: `SHA256:${"A".repeat(43)}` },
    cred: {
      id: "c1",
      username: "root",
      kind: "password",
      ref: "EID-CRED-7",
      mp: await sealSecret(publicJwk(sealKey), MASTER),
    },
    rec: { required: false, keystrokes: false },
    ch: ["shell"],
  };
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(what()).toBe(true);
};

describe("empowerid provider", () => {
  it("releases the credential for this user with the master password and reports the session's stages", async () => {
    const p = provider();
    const terminated: string[] = [];
    const release = await p.release({ sessionId: "s1", grant: await grant(), terminate: (r) => terminated.push(r) });
    expect(release.secret.toString()).toBe(fake.secret);
    expect(fake.masterPasswordsSeen).toEqual([MASTER]);
    const [co] = [...fake.checkouts.values()];
    expect(co).toMatchObject({ sessionId: "s1", user: "alice", credential: "EID-CRED-7", status: "Open" });
    release.connected();
    await until(() => co!.status === "Connected");
    expect(await p.poll("s1", co!.id)).toBe(false);
    expect(co!.polls).toBe(1);
    release.ended("user_exit");
    await until(() => co!.status === "Ended");
    expect(co!.reason).toBe("user_exit");
    expect(terminated).toEqual([]);
    // Nothing secret in the connector's log.
    expect(logs.join("\n")).not.toContain(MASTER);
    expect(logs.join("\n")).not.toContain(fake.secret);
  });

  it("a polling answer that says terminate ends the session as revoked", async () => {
    const p = provider();
    const terminated: string[] = [];
    const release = await p.release({ sessionId: "s1", grant: await grant(), terminate: (r) => terminated.push(r) });
    release.connected();
    fake.terminate = true;
    await until(() => terminated.length > 0);
    expect(terminated[0]).toBe("checkout_revoked");
    release.ended("checkout_revoked");
    await until(() => fake.open().length === 0);
  });

  it("a refusal is CredentialRefused and opens nothing", async () => {
    fake.mode = "refuse";
    const err = await provider()
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialRefused);
    expect(fake.open()).toEqual([]);
  });

  it("a wrong master password is refused by EmpowerID", async () => {
    fake.masterPassword = "something else";
    const err = await provider()
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialRefused);
  });

  it("an expired OAuth token is refreshed once and the call succeeds", async () => {
    const p = provider();
    await p.release({ sessionId: "s1", grant: await grant("s1"), terminate: () => {} });
    expect(fake.tokensIssued).toBe(1);
    await p.release({ sessionId: "s2", grant: await grant("s2"), terminate: () => {} });
    expect(fake.tokensIssued).toBe(1); // cached
    fake.expireTokens();
    const again = await p.release({ sessionId: "s3", grant: await grant("s3"), terminate: () => {} });
    expect(again.secret.toString()).toBe(fake.secret);
    expect(fake.tokensIssued).toBe(2);
  });

  it("a token the server says is short-lived is renewed before use", async () => {
    fake.tokenLifetimeSeconds = 1; // under the 30 s early-refresh margin
    const p = provider();
    await p.release({ sessionId: "s1", grant: await grant("s1"), terminate: () => {} });
    await p.release({ sessionId: "s2", grant: await grant("s2"), terminate: () => {} });
    expect(fake.tokensIssued).toBe(2);
  });

  it("wrong client credentials are a clear error", async () => {
    const err = await provider({ clientSecret: "wrong" })
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toContain("token endpoint answered HTTP 401");
    expect(err.message).not.toContain("wrong");
  });

  it("a timeout is CredentialUnavailable with a clear message", async () => {
    fake.mode = "hang";
    const err = await provider({ timeoutMs: 200 })
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toBe("EmpowerID did not answer within 200 ms");
    expect(fake.open()).toEqual([]);
  });

  it("a malformed answer is a clear error and the checkout EmpowerID opened is ended at once", async () => {
    fake.mode = "malformed";
    const err = await provider()
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toBe("EmpowerID checkout answer is malformed (Password)");
    expect(fake.checkouts.size).toBe(1);
    await until(() => fake.open().length === 0);
    expect([...fake.checkouts.values()][0]!.reason).toBe("protocol_error");
  });

  it("an answer that is not JSON is a clear error", async () => {
    fake.mode = "not_json";
    const err = await provider()
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toContain("malformed");
    expect(fake.open()).toEqual([]);
  });
});

describe("empowerid provider against a hostile or misdirected EmpowerID", () => {
  /** Another host: everything a client sends it is kept, and it "approves" with a password of its choosing. */
  let elsewhere: Server;
  let elsewhereUrl: string;
  const seenElsewhere: string[] = [];
  beforeEach(async () => {
    seenElsewhere.length = 0;
    elsewhere = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seenElsewhere.push(`${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString("utf8")}`);
        res.writeHead(200, { "content-type": "application/json" });
        const token = req.url?.includes("token");
        res.end(
          JSON.stringify(
            token
              ? { access_token: "planted", token_type: "Bearer", expires_in: 3600 }
              : { Approved: true, CheckoutId: "co-planted", Password: "planted-password" },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  });
  afterEach(() => new Promise((resolve) => elsewhere.close(resolve)));

  it("attack: the checkout answers 307 to another host — guarantee: the master password and API key are not sent there, and nothing it releases is used", async () => {
    fake.redirect = { path: "/api/services/v1/secureaccessgateway/checkout", to: `${elsewhereUrl}/steal` };
    const err = await provider()
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toBe("EmpowerID checkout answered HTTP 307");
    expect(seenElsewhere).toEqual([]);
  });

  it("attack: the token endpoint answers 307 to another host — guarantee: the client secret is not sent there", async () => {
    fake.redirect = { path: "/oauth/v2/token", to: `${elsewhereUrl}/token` };
    const err = await provider({ clientAuth: "post" })
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toContain("token endpoint answered HTTP 307");
    expect(seenElsewhere).toEqual([]);
    expect(fake.checkouts.size).toBe(0);
  });

  it("attack: the checkout answers an endless body — guarantee: the connector stops reading past 64 KiB instead of buffering it", async () => {
    fake.flood = { path: "/api/services/v1/secureaccessgateway/checkout", bytes: 256 * 1024 * 1024 };
    const err = await provider({ timeoutMs: 20_000 })
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toBe("EmpowerID checkout answer is malformed (not an object)");
    // What the socket buffers hold at most, not the quarter GiB offered.
    expect(fake.floodSent).toBeLessThan(32 * 1024 * 1024);
  });

  it("attack: the token endpoint answers an endless body — guarantee: the connector stops reading past 64 KiB", async () => {
    fake.flood = { path: "/oauth/v2/token", bytes: 256 * 1024 * 1024 };
    const err = await provider({ timeoutMs: 20_000 })
      .release({ sessionId: "s1", grant: await grant(), terminate: () => {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CredentialUnavailable);
    expect(err.message).toBe("EmpowerID OAuth: token endpoint answer is malformed");
    expect(fake.floodSent).toBeLessThan(32 * 1024 * 1024);
  });

  it("attack: EmpowerID configured over plain HTTP on the network — guarantee: the config refuses it (loopback alone may be http, for a local test)", () => {
    const base = { clientId: "c", clientSecret: "s" };
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "http://eid.example.com" }).success).toBe(false);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "http://10.0.0.7:8080" }).success).toBe(false);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "ftp://eid.example.com" }).success).toBe(false);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "https://eid.example.com" }).success).toBe(true);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "http://127.0.0.1:8080" }).success).toBe(true);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "http://[::1]:8080" }).success).toBe(true);
    expect(EmpowerIdConfig.safeParse({ ...base, baseUrl: "http://localhost:8080" }).success).toBe(true);
  });
});

describe("empowerid over mutual TLS (a certificate-bound service account)", () => {
  let dir: string;
  let pki: ReturnType<typeof testCa>;
  let tlsFake: FakeEmpowerId;
  let client: Issued;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "eid-tls-"));
    pki = testCa(dir, "eid");
    const server = pki.server();
    client = pki.client("psm-connector");
    tlsFake = await new FakeEmpowerId().start({
      cert: read(server.cert),
      key: read(server.key),
      ca: read(pki.cert),
      clientCN: "psm-connector",
    });
    tlsFake.masterPassword = MASTER;
  });
  afterEach(async () => {
    await tlsFake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsProvider = (overrides: Partial<EmpowerIdConfig>) =>
    new EmpowerIdProvider(
      EmpowerIdConfig.parse({
        baseUrl: tlsFake.url,
        clientId: tlsFake.clientId,
        clientAuth: "tls",
        clientCertFile: client.cert,
        clientKeyFile: client.key,
        caFile: pki.cert,
        apiKey: tlsFake.apiKey,
        ...overrides,
      }),
      () => sealKey,
      log,
    );

  it("authenticates by its client certificate alone, with no secret, and gets the release", async () => {
    const release = await tlsProvider({}).release({ sessionId: "t1", grant: await grant("t1"), terminate: () => {} });
    expect(release.secret.toString()).toBe(tlsFake.secret);
    expect(tlsFake.tokensIssued).toBe(1);
    release.ended("user_exit");
  });

  it("without the certificate, or with one from another CA, nothing is released", async () => {
    const none = tlsProvider({
      clientAuth: "post",
      clientSecret: "not-it",
      clientCertFile: undefined,
      clientKeyFile: undefined,
    });
    await expect(
      none.release({ sessionId: "t2", grant: await grant("t2"), terminate: () => {} }),
    ).rejects.toBeInstanceOf(CredentialUnavailable);
    const rogue = testCa(dir, "rogue").client("psm-connector");
    const forged = tlsProvider({ clientCertFile: rogue.cert, clientKeyFile: rogue.key });
    await expect(
      forged.release({ sessionId: "t3", grant: await grant("t3"), terminate: () => {} }),
    ).rejects.toBeInstanceOf(CredentialUnavailable);
    expect(tlsFake.tokensIssued).toBe(0);
    expect(tlsFake.checkouts.size).toBe(0);
  });

  it("the config refuses half a client certificate, and tls auth without one", () => {
    const base = { baseUrl: "https://eid.example", clientId: "c" };
    expect(EmpowerIdConfig.safeParse({ ...base, clientAuth: "tls" }).success).toBe(false);
    expect(EmpowerIdConfig.safeParse({ ...base, clientSecret: "s", clientCertFile: "/x.pem" }).success).toBe(false);
    expect(EmpowerIdConfig.safeParse({ ...base }).success).toBe(false);
  });
});
