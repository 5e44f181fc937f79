// File transfer through the real stack (issue 19): wrangler dev, the real connector, a real OpenSSH sshd with
// internal-sftp. The user's page socket (a Node client speaking the browser's protocol) lists a folder, uploads and
// downloads a few MiB byte-identical (by SHA-256, and on the target's disk) under the credit window, is refused
// with the policy's reason, and the audit log holds each transfer's record; the canary credential appears in no
// byte sent to the page.
import { createHash, randomBytes } from "node:crypto";
import { chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type IntegrityReport,
  encodeFileCredit,
  encodeFileData,
  encodeMessage,
  FILE_WINDOW,
  MAX_FILE_PAYLOAD,
  type RoomToBrowser,
} from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describeWithPeers("file transfer (SFTP) through the stack", missingPeers(), () => {
  let stack: Stack;
  let t: TerminalClient;
  let home: string;
  let nextId = 1;
  const figures: string[] = [];

  /** The first message of this type for transfer `id` (ft_done or ft_refused end it). */
  const answer = <T extends RoomToBrowser["type"]>(id: number, ...types: T[]) =>
    t.until(`${types.join("/")} for ${id}`, () =>
      t.messages.find(
        (m): m is Extract<RoomToBrowser, { type: T }> =>
          (types as string[]).includes(m.type) && (m as { id?: number }).id === id,
      ),
    );

  /** Uploads `bytes` as the page does: FILE_DATA only within the credit the connector returned. */
  async function upload(path: string, bytes: Uint8Array) {
    const id = nextId++;
    let credit = FILE_WINDOW;
    let wake = () => {};
    t.onFileFrame = (f) => {
      if (f.kind === "file_credit" && f.id === id) credit += f.bytes;
      wake();
    };
    t.ws.send(encodeMessage({ type: "ft_upload", id, path, size: bytes.byteLength }));
    const ready = await answer(id, "ft_ready", "ft_refused");
    if (ready.type === "ft_refused") return ready;
    for (let at = 0; at < bytes.byteLength; ) {
      const piece = bytes.subarray(at, at + MAX_FILE_PAYLOAD);
      while (piece.byteLength > credit) await new Promise<void>((resolve) => (wake = resolve));
      credit -= piece.byteLength;
      t.ws.send(encodeFileData(id, piece));
      at += piece.byteLength;
    }
    return answer(id, "ft_done", "ft_refused");
  }

  /** Downloads as the page does: crediting each frame as it is taken. */
  async function download(path: string) {
    const id = nextId++;
    const chunks: Buffer[] = [];
    t.onFileFrame = (f) => {
      if (f.kind !== "file_data" || f.id !== id) return;
      chunks.push(Buffer.from(f.payload));
      t.ws.send(encodeFileCredit(id, f.payload.byteLength));
    };
    t.ws.send(encodeMessage({ type: "ft_download", id, path }));
    const end = await answer(id, "ft_done", "ft_refused");
    return { end, bytes: Buffer.concat(chunks) };
  }

  beforeAll(async () => {
    stack = await startStack({ sftp: true });
    home = join("/home", stack.targetUser);
    mkdirSync(join(home, "secret"), { recursive: true });
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "files",
      fileTransfer: {
        upload: true,
        download: true,
        maxBytes: 8 * MIB,
        allowPaths: [home],
        denyPaths: [join(home, "secret")],
      },
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { cols: 100, rows: 30 });
    await t.waitForState("connected");
  });
  afterAll(async () => {
    if (figures.length) console.log(`file transfer through the stack: ${figures.join(", ")}`);
    t?.close();
    await stack?.stop();
  });

  it("tells the page what the policy allows", async () => {
    const allowed = await t.until("ft_allowed", () => t.messages.find((m) => m.type === "ft_allowed"));
    expect(allowed).toEqual({ type: "ft_allowed", upload: true, download: true, maxBytes: 8 * MIB, roots: [home] });
  });

  it("uploads 4 MiB byte-identical (the record, and the file on the target's disk)", async () => {
    const bytes = randomBytes(4 * MIB);
    const started = performance.now();
    const done = await upload(join(home, "up.bin"), bytes);
    const seconds = (performance.now() - started) / 1000;
    figures.push(`upload 4 MiB ${(4 / seconds).toFixed(1)} MiB/s`);
    expect(done).toEqual({
      type: "ft_done",
      id: done.id,
      direction: "upload",
      path: join(home, "up.bin"),
      size: bytes.byteLength,
      sha256: sha256(bytes),
    });
    expect(sha256(readFileSync(join(home, "up.bin")))).toBe(sha256(bytes));
  });

  it("downloads 3 MiB byte-identical, and lists the folder", async () => {
    const bytes = randomBytes(3 * MIB);
    const file = join(home, "down.bin");
    writeFileSync(file, bytes);
    const uid = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${stack.targetUser}:`))!
      .split(":");
    chownSync(file, Number(uid[2]), Number(uid[3]));
    const started = performance.now();
    const { end, bytes: got } = await download(file);
    const seconds = (performance.now() - started) / 1000;
    figures.push(`download 3 MiB ${(3 / seconds).toFixed(1)} MiB/s`);
    expect(end).toMatchObject({
      type: "ft_done",
      direction: "download",
      size: bytes.byteLength,
      sha256: sha256(bytes),
    });
    expect(got.equals(bytes)).toBe(true);

    const id = nextId++;
    t.ws.send(encodeMessage({ type: "ft_list", id, path: home }));
    const listing = await answer(id, "ft_listing", "ft_refused");
    expect(listing.type).toBe("ft_listing");
    const entries = listing.type === "ft_listing" ? listing.entries : [];
    expect(entries).toContainEqual(expect.objectContaining({ name: "down.bin", kind: "file", size: 3 * MIB }));
    expect(entries).toContainEqual(expect.objectContaining({ name: "secret", kind: "dir" }));
  });

  it("refuses with the policy's reason: outside the allowed folder, a denied folder, too large", async () => {
    const outside = await download("/etc/passwd");
    expect(outside.end).toMatchObject({ type: "ft_refused", reason: "path_outside_allowed" });
    expect(outside.bytes.byteLength).toBe(0);
    const denied = await upload(join(home, "secret", "x.bin"), new Uint8Array(10));
    expect(denied).toMatchObject({ type: "ft_refused", reason: "path_denied" });
    const big = await upload(join(home, "big.bin"), new Uint8Array(9 * MIB));
    expect(big).toMatchObject({ type: "ft_refused", reason: "too_large" });
    expect((big as { message: string }).message).toMatch(/limit/);
    // The terminal kept working beside the transfers.
    t.type("echo still-$((40+2))\r");
    await t.waitForOutput("still-42");
  });

  it("audits each transfer with its record, and sends the page no byte of the canary", async () => {
    const entries = await stack.admin.request<{ action: string; data: Record<string, unknown> }[]>(
      "GET",
      "/api/audit?limit=500",
    );
    const done = entries.filter((e) => e.action === "session.file_transfer").map((e) => e.data);
    expect(done).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ direction: "upload", path: join(home, "up.bin"), size: 4 * MIB }),
        expect.objectContaining({ direction: "download", path: join(home, "down.bin"), size: 3 * MIB }),
      ]),
    );
    const refused = entries.filter((e) => e.action === "session.file_transfer_refused").map((e) => e.data.reason);
    expect(refused).toEqual(expect.arrayContaining(["path_outside_allowed", "path_denied", "too_large"]));
    expect(Buffer.concat(t.received).includes(Buffer.from(stack.canary))).toBe(false);
  });

  it("marks each transfer in the recording, which verifies", async () => {
    t.type("exit\r");
    expect(await t.waitForEnd(10_000)).toBe("user_exit");
    const sessionId = t.ws.url.split("/").at(-2)!;
    const summary = await storedRecording(stack.admin, sessionId);
    const report = await stack.admin.request<IntegrityReport>("POST", `/api/recordings/${summary.id}/verify`, {});
    expect(report).toMatchObject({ status: "verified", problems: [] });
    const cast = await (
      await fetch(`${stack.edge.url}/api/recordings/${summary.id}/cast`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
    const markers = cast
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((line) => JSON.parse(line) as [number, string, string])
      .filter((e) => e[1] === "m")
      .map((e) => e[2]);
    expect(markers).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^file upload: ${home}/up\\.bin \\(${4 * MIB} bytes, sha256 [0-9a-f]{16}\\)$`),
        ),
        expect.stringMatching(/^file download: .*down\.bin/),
        "file download refused: /etc/passwd (path_outside_allowed)",
      ]),
    );
  });
});
