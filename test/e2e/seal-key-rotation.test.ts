// A site's seal key is rotated with real peers (wrangler dev, two psm-connector processes, OpenSSH, the canary
// password): one connector makes the new key and re-seals the vaulted credential on-prem, the edge swaps the
// blob and the site key, and the other connector gets the key relayed, sealed to it. Sessions then open through
// either connector; the old key is gone from both disks, so a blob sealed to it no longer opens. A connector
// that was offline gets the key when it comes back. A connector the edge itself slipped in (a compromised edge)
// receives a copy it cannot open. The canary and the new private key appear in nothing the edge holds or logs.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSealKey, publicJwk } from "../../connector/keys.ts";
import { SEAL_ALG, type SealKeyInfo } from "../../protocol/index.ts";
import { sealKid } from "../../keys/seal-kid.ts";
import { enrollConnector, runConnector } from "../../scripts/stack/connector.ts";
import { d1Query } from "../../scripts/stack/edge.ts";
import type { Proc } from "../../scripts/stack/process.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("site seal key rotation", missingPeers(), () => {
  let stack: Stack;
  let second: Proc;
  const secondState = () => join(stack.dir, "connector-2");
  const clients: TerminalClient[] = [];

  beforeAll(async () => {
    stack = await startStack();
    const sealKeyFile = join(stack.dir, "site-seal-key.json");
    await writeFile(sealKeyFile, JSON.stringify((await state(stack.connectorState)).sealKey), { mode: 0o600 });
    const { token } = await stack.admin.enrollmentToken(stack.siteId);
    await enrollConnector(stack.edge.url, token, secondState(), "connector-2", sealKeyFile);
    second = await runConnector(secondState());
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await second?.stop();
    await stack?.stop();
  });

  const state = async (dir: string) =>
    JSON.parse(await readFile(join(dir, "connector.json"), "utf8")) as {
      connectorId: string;
      sealKey: JWK;
      pendingSealKey?: unknown;
    };
  const info = () => stack.admin.request<SealKeyInfo>("GET", `/api/sites/${stack.siteId}/seal-key`);
  const vaulted = async () =>
    (
      await d1Query<{ sealed: string }>(
        join(stack.dir, "edge"),
        `SELECT sealed FROM credentials WHERE id = '${stack.credentialId}'`,
      )
    )[0]!.sealed;
  /** Everything the edge keeps about the site's keys and credentials, as text. */
  const edgeRows = async () => {
    const rows: unknown[] = [];
    // One reader at a time: each is a process opening the edge's SQLite file.
    for (const t of ["sites", "credentials", "connectors", "seal_rotations", "seal_key_deliveries", "site_seal_keys"]) {
      rows.push(await d1Query(join(stack.dir, "edge"), `SELECT * FROM ${t}`));
    }
    return JSON.stringify(rows);
  };

  async function rotate(): Promise<SealKeyInfo> {
    const { rotationId } = await stack.admin.request<{ rotationId: string }>(
      "POST",
      `/api/sites/${stack.siteId}/seal-key/rotate`,
      {},
    );
    await expect
      .poll(async () => (await info()).rotations[0], { timeout: 30_000 })
      .toMatchObject({
        id: rotationId,
        state: "done",
      });
    return info();
  }

  async function session(): Promise<TerminalClient & { id: string }> {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = Object.assign(await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie), { id });
    clients.push(client);
    return client;
  }
  async function loggedIn(client: TerminalClient): Promise<void> {
    await client.waitForState("connected");
    client.type("echo seal-$((40+2))\n");
    await client.waitForOutput("seal-42");
  }

  let oldBlob = "";
  it("re-seals on-prem, swaps at the edge, and both connectors hold only the new key", async () => {
    // Both connectors have stated their transport keys (hello).
    await expect
      .poll(async () => (await info()).connectors.filter((c) => c.canReceive).length, { timeout: 20_000 })
      .toBe(2);
    const before = await state(stack.connectorState);
    const oldKid = await sealKid(before.sealKey);
    oldBlob = await vaulted();
    expect(decodeProtectedHeader(oldBlob).kid).toBe(oldKid);
    expect((await info()).kid).toBe(oldKid);

    const after = await rotate();
    expect(after.kid).not.toBe(oldKid);
    expect(after.rotations[0]).toMatchObject({ resealed: 1, unopenable: 0 });
    expect(after.keys.map((k) => [k.kid, k.retiredAt === null])).toEqual([
      [after.kid, true],
      [oldKid, false],
    ]);
    // The other connector opened its copy and said so.
    await expect
      .poll(async () => (await info()).connectors.map((c) => [c.kid, c.deliveryPending]), { timeout: 20_000 })
      .toEqual([
        [after.kid, false],
        [after.kid, false],
      ]);
    const [one, two] = [await state(stack.connectorState), await state(secondState())];
    for (const s of [one, two]) {
      expect(await sealKid(s.sealKey)).toBe(after.kid);
      expect(s.pendingSealKey).toBeUndefined();
    }
    expect(one.sealKey.d).toBe(two.sealKey.d);
    for (const file of [join(stack.connectorState, "connector.json"), join(secondState(), "connector.json")])
      expect(await readFile(file, "utf8")).not.toContain(before.sealKey.d!);
    expect(decodeProtectedHeader(await vaulted()).kid).toBe(after.kid);

    // Nothing at the edge or in its log opens anything: no canary, no private key, old or new.
    const held = `${await edgeRows()}\n${stack.edge.proc.output()}`;
    for (const secret of [stack.canary, one.sealKey.d!, before.sealKey.d!]) expect(held).not.toContain(secret);
    expect(second.output()).not.toContain(stack.canary);
    expect(stack.connector.output()).not.toContain(stack.canary);
  });

  it("opens sessions through either connector with the re-sealed credential", async () => {
    const [a, b] = [await session(), await session()];
    await Promise.all([loggedIn(a), loggedIn(b)]);
    // The hub spreads two sessions over two connectors: each opened the blob with the new key.
    const carriers = [a, b].map((c) => [stack.connector, second].findIndex((p) => p.output().includes(c.id)));
    expect(new Set(carriers)).toEqual(new Set([0, 1]));
    for (const c of [a, b]) c.close();
  });

  it("a blob sealed to the old key no longer opens anywhere", async () => {
    const current = await vaulted();
    await d1Query(
      join(stack.dir, "edge"),
      `UPDATE credentials SET sealed = '${oldBlob}' WHERE id = '${stack.credentialId}'`,
    );
    try {
      const client = await session();
      await client.waitForState("ended");
      expect(client.endReason).toBe("credential_unavailable");
    } finally {
      await d1Query(
        join(stack.dir, "edge"),
        `UPDATE credentials SET sealed = '${current}' WHERE id = '${stack.credentialId}'`,
      );
    }
  });

  it("an offline connector gets the key when it returns; a connector slipped in by the edge cannot open its copy", async () => {
    // A compromised edge adds a "connector" of its own, with a transport key it holds.
    const rogueTransport = await generateSealKey();
    const rogueIdentity = publicJwk(
      await exportJWK((await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).privateKey),
    );
    const rogueId = crypto.randomUUID();
    await d1Query(
      join(stack.dir, "edge"),
      `INSERT INTO connectors (id, site_id, name, public_key, enrolled_at, transport_key) VALUES ('${rogueId}', '${stack.siteId}', 'rogue', '${JSON.stringify(rogueIdentity)}', 0, '${JSON.stringify(publicJwk(rogueTransport))}')`,
    );
    second.child.kill("SIGKILL");
    await second.stop();
    const before = await state(stack.connectorState);

    const after = await rotate();
    expect((await state(secondState())).sealKey.d).toBe(before.sealKey.d);
    expect(after.connectors.find((c) => c.name === "connector-2")).toMatchObject({ deliveryPending: true });

    const [delivery] = await d1Query<{ sealed: string }>(
      join(stack.dir, "edge"),
      `SELECT sealed FROM seal_key_deliveries WHERE connector_id = '${rogueId}'`,
    );
    const sealed = delivery!.sealed;
    // Its transport key opens the outer layer; the inner one is sealed to the site's old key, which never left
    // the site's connectors.
    const outer = await compactDecrypt(sealed, await importJWK(rogueTransport, SEAL_ALG));
    const inner = new TextDecoder().decode(outer.plaintext);
    expect(decodeProtectedHeader(inner).kid).toBe(await sealKid(before.sealKey));
    await expect(compactDecrypt(inner, await importJWK(rogueTransport, SEAL_ALG))).rejects.toThrow();

    // Back online: connector-2 opens its copy with the key it held and serves sessions again.
    second = await runConnector(secondState());
    await expect.poll(async () => sealKid((await state(secondState())).sealKey), { timeout: 30_000 }).toBe(after.kid);
    await expect
      .poll(async () => (await info()).connectors.find((c) => c.name === "connector-2"), { timeout: 20_000 })
      .toMatchObject({ kid: after.kid, deliveryPending: false });
    stack.connector.child.kill("SIGKILL");
    await stack.connector.stop();
    const client = await session();
    await loggedIn(client);
    expect(second.output()).toContain(client.id);
  });

  it("a connector killed after writing its new key finishes the rotation with that key when it restarts", async () => {
    // connector-2 is the only one left. It is stopped as if killed mid-rotation: the edge's rotation is running
    // and assigned to it, and its state holds the key it made, not yet sealed to or answered.
    second.child.kill("SIGKILL");
    await second.stop();
    const dir = secondState();
    const saved = JSON.parse(await readFile(join(dir, "connector.json"), "utf8"));
    const made = await generateSealKey();
    await writeFile(
      join(dir, "connector.json"),
      JSON.stringify({ ...saved, pendingSealKey: { rotationId: "00000000-0000-4000-8000-000000000001", key: made } }),
      { mode: 0o600 },
    );
    await d1Query(
      join(stack.dir, "edge"),
      `INSERT INTO seal_rotations (id, site_id, state, old_kid, connector_id, requested_at) VALUES ('00000000-0000-4000-8000-000000000001', '${stack.siteId}', 'running', '${await sealKid(saved.sealKey)}', '${saved.connectorId}', ${Date.now()})`,
    );
    second = await runConnector(dir);
    await expect
      .poll(async () => (await info()).rotations[0], { timeout: 30_000 })
      .toMatchObject({
        id: "00000000-0000-4000-8000-000000000001",
        state: "done",
        resealed: 1,
      });
    expect((await info()).kid).toBe(await sealKid(made));
    await expect.poll(async () => (await state(dir)).sealKey.d, { timeout: 10_000 }).toBe(made.d);
    expect((await state(dir)).pendingSealKey).toBeUndefined();
    const client = await session();
    await loggedIn(client);
  });
});
