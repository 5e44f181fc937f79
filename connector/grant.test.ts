// The connector refuses every grant that is not exactly what the edge would sign for this session.
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GRANT_TYP, grantAudience } from "../protocol/index.ts";
import { GrantRejected, GrantsSeen, verifyGrant } from "./grant.ts";

const SITE = "site-1";
const SESSION = "session-1";
let edgePrivate: CryptoKey;
let edgePublic: JWK;
let otherPrivate: CryptoKey;

const claims = (dl = Math.floor(Date.now() / 1000) + 3600) => ({
  dl,
  usr: { id: "u1", name: "alice" },
  tgt: { host: "10.0.0.5", port: 22, protocol: "ssh", hostKey: `SHA256:${"A".repeat(43)}` },
  cred: { id: "c1", username: "root", kind: "password", sealed: "a.b.c.d.e" },
  rec: { required: false, keystrokes: false },
  ch: ["shell"],
});

function grant(
  opts: {
    key?: CryptoKey;
    typ?: string;
    aud?: string;
    sub?: string;
    exp?: string;
    iss?: string;
    body?: Record<string, unknown>;
  } = {},
) {
  return new SignJWT(opts.body ?? claims())
    .setProtectedHeader({ alg: "EdDSA", typ: opts.typ ?? GRANT_TYP })
    .setIssuer(opts.iss ?? "psm-edge")
    .setAudience(opts.aud ?? grantAudience(SITE))
    .setSubject(opts.sub ?? SESSION)
    .setJti("j1")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "60s")
    .sign(opts.key ?? edgePrivate);
}

const verify = (token: string) => verifyGrant(token, { edgeKey: edgePublic, siteId: SITE, sessionId: SESSION });

beforeAll(async () => {
  const edge = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  edgePrivate = edge.privateKey;
  edgePublic = await exportJWK(edge.publicKey);
  otherPrivate = (await generateKeyPair("EdDSA", { crv: "Ed25519" })).privateKey;
});

describe("session grants", () => {
  it("accepts a grant signed by the pinned edge key for this site and session", async () => {
    const verified = await verify(await grant());
    expect(verified.sub).toBe(SESSION);
    expect(verified.cred.username).toBe("root");
  });

  it.each([
    ["forged (signed by another key)", () => grant({ key: otherPrivate })],
    ["expired", () => grant({ exp: "-10s" })],
    ["meant for another site", () => grant({ aud: grantAudience("site-2") })],
    ["meant for another session", () => grant({ sub: "session-2" })],
    ["of another token type (a connector token)", () => grant({ typ: "psm-connector+jwt" })],
    ["from another issuer", () => grant({ iss: "someone" })],
    ["past its session deadline", () => grant({ body: claims(Math.floor(Date.now() / 1000) - 1) })],
    ["with malformed claims", () => grant({ body: { ...claims(), tgt: { host: "x" } } })],
    [
      "unsigned (alg: none)",
      async () =>
        new UnsecuredJWT(claims())
          .setIssuer("psm-edge")
          .setAudience(grantAudience(SITE))
          .setSubject(SESSION)
          .setIssuedAt()
          .setExpirationTime("60s")
          .encode(),
    ],
    [
      "tampered payload",
      async () => {
        const [h, p, s] = (await grant()).split(".");
        const body = JSON.parse(Buffer.from(p!, "base64url").toString());
        body.tgt.host = "evil.example";
        return `${h}.${Buffer.from(JSON.stringify(body)).toString("base64url")}.${s}`;
      },
    ],
  ])("refuses a grant %s", async (_name, make) => {
    await expect(verify(await make())).rejects.toBeInstanceOf(GrantRejected);
  });

  it("attack: replay a session's grant (again after the session ended, or twice at once) — guarantee: one grant opens one session", async () => {
    const seen = new GrantsSeen();
    const once = (token: string) => verifyGrant(token, { edgeKey: edgePublic, siteId: SITE, sessionId: SESSION, seen });
    const token = await grant();
    expect((await once(token)).jti).toBe("j1");
    await expect(once(token)).rejects.toThrow("grant already used");
    // Two copies of one `open` verified concurrently: only one of them opens.
    const other = await new SignJWT(claims())
      .setProtectedHeader({ alg: "EdDSA", typ: GRANT_TYP })
      .setIssuer("psm-edge")
      .setAudience(grantAudience(SITE))
      .setSubject(SESSION)
      .setJti("j2")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(edgePrivate);
    const both = await Promise.allSettled([once(other), once(other)]);
    expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
  });

  it("forgets a grant once it has expired, and keeps a bounded number", () => {
    const seen = new GrantsSeen();
    expect(seen.claim("a", 100, 50)).toBe(true);
    expect(seen.claim("a", 100, 99)).toBe(false);
    expect(seen.claim("a", 200, 100)).toBe(true); // its grant expired at 100: forgotten (jose refuses an expired one first)
    for (let i = 0; i < 10_001; i++) seen.claim(`g${i}`, 1_000, 150);
    expect(seen.claim("g10000", 1_000, 150)).toBe(false);
    expect(seen.claim("g0", 1_000, 150)).toBe(true); // the oldest was forgotten, not the newest
  });

  it("refuses an HS256 grant keyed with the public key (algorithm confusion)", async () => {
    const secret = new TextEncoder().encode(JSON.stringify(edgePublic));
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", typ: GRANT_TYP })
      .setIssuer("psm-edge")
      .setAudience(grantAudience(SITE))
      .setSubject(SESSION)
      .setJti("j")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(secret);
    await expect(verify(token)).rejects.toBeInstanceOf(GrantRejected);
  });

  it("takes an RDP grant's keyboard layout only when it is one the bridge knows", async () => {
    const rdp = (kbd?: unknown) => ({
      ...claims(),
      tgt: { host: "10.0.0.6", port: 3389, protocol: "rdp", hostKey: `SHA256:${"B".repeat(43)}` },
      ch: ["desktop"],
      rdp: { nla: false, clip: { copy: false, paste: false, max: 0 }, ...(kbd === undefined ? {} : { kbd }) },
    });
    expect((await verify(await grant({ body: rdp("de-de") }))).rdp?.kbd).toBe("de-de");
    // Signed before layouts existed: none named (the connector then uses en-us).
    expect((await verify(await grant({ body: rdp() }))).rdp?.kbd).toBeUndefined();
    for (const kbd of ["de", "DE-DE", "xx-yy", "en-us,1.x", 0x407, null])
      await expect(verify(await grant({ body: rdp(kbd) }))).rejects.toBeInstanceOf(GrantRejected);
  });
});
