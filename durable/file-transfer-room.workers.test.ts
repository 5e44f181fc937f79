// File transfer through the SessionRoom inside workerd (issue 19): the user's page is told what the policy allows;
// only the session's own user may transfer (a viewer is refused and audited, its file frames close its socket);
// requests, answers and FILE frames pass both ways unchanged; a frame for an unknown transfer or past the credit
// window is a protocol violation; finished and refused transfers are audited with their record.
import { describe, expect, it } from "vitest";
import {
  CloseCode,
  decodeFrame,
  encodeFileCredit,
  encodeFileData,
  encodeMessage,
  FILE_WINDOW,
  MAX_FILE_PAYLOAD,
} from "../protocol/index.ts";
import { auditLog, type Client, hasText, liveSession, openViewer } from "../worker/test/harness.ts";

const POLICY = {
  file_transfer: JSON.stringify({
    upload: true,
    download: true,
    maxBytes: 1 << 20,
    allowPaths: ["/srv"],
    denyPaths: [],
  }),
};
const SHA = "ab".repeat(32);
const fileFrames = (c: Client) => c.binaries.map((b) => decodeFrame(b)).filter((f) => f.kind.startsWith("file"));

describe("SessionRoom file transfer", () => {
  it("tells the user what is allowed, relays an upload within the window, and audits its record", async () => {
    const { user, connector, id } = await liveSession(POLICY);
    await user.next(hasText("ft_allowed", { upload: true, download: true }), "allowed");
    user.ws.send(encodeMessage({ type: "ft_upload", id: 7, path: "/srv/a.bin", size: 10 }));
    await connector.next(hasText("ft_upload", { id: 7, path: "/srv/a.bin", size: 10 }), "upload request");
    // Before the connector is ready, a file frame is a violation; after, it passes as the same bytes.
    connector.ws.send(encodeMessage({ type: "ft_ready", id: 7 }));
    await user.next(hasText("ft_ready", { id: 7 }), "ready");
    user.ws.send(encodeFileData(7, new Uint8Array(10).fill(5)));
    await connector.next((c) => fileFrames(c).length === 1, "file data");
    expect(fileFrames(connector)[0]).toEqual({ kind: "file_data", id: 7, payload: new Uint8Array(10).fill(5) });
    connector.ws.send(encodeFileCredit(7, 10));
    await user.next((c) => fileFrames(c).length === 1, "credit to the page");
    connector.ws.send(
      encodeMessage({ type: "ft_done", id: 7, direction: "upload", path: "/srv/a.bin", size: 10, sha256: SHA }),
    );
    await user.next(hasText("ft_done", { id: 7, sha256: SHA }), "done");
    // A second transfer may start once the first ended; a frame of the ended one still on the wire is dropped.
    user.ws.send(encodeFileData(7, new Uint8Array(1)));
    user.ws.send(encodeMessage({ type: "ft_download", id: 8, path: "/srv/b.bin" }));
    await connector.next(hasText("ft_download", { id: 8 }), "download request");
    expect(user.closed).toBeUndefined();
    const entries = (await auditLog()).filter((e) => e.refs.sessionId === id && e.action === "session.file_transfer");
    expect(entries.map((e) => e.data)).toEqual([{ direction: "upload", path: "/srv/a.bin", size: 10, sha256: SHA }]);
  });

  it("refuses a viewer's request (audited) and closes a viewer's file frame; the user's transfer is untouched", async () => {
    const { user, connector, id } = await liveSession(POLICY);
    const viewer = await openViewer(id);
    await viewer.next(hasText("status"), "viewer attached");
    viewer.ws.send(encodeMessage({ type: "ft_download", id: 3, path: "/srv/secret" }));
    await viewer.next(hasText("ft_refused", { id: 3, reason: "not_permitted" }), "viewer refused");
    expect(viewer.texts).not.toContainEqual(expect.objectContaining({ type: "ft_allowed" }));
    viewer.ws.send(encodeFileData(3, new Uint8Array(4)));
    await viewer.next((c) => c.closed !== undefined, "viewer closed");
    expect(viewer.closed!.code).toBe(CloseCode.ProtocolError);
    expect(connector.texts).not.toContainEqual(expect.objectContaining({ type: "ft_download" }));
    // The room decided it, so the recording hears of it from the room: a marker to the connector.
    await connector.next(hasText("marker", { label: "file download refused: /srv/secret (not_permitted)" }), "marker");
    expect(user.closed).toBeUndefined();
    const refused = (await auditLog()).find(
      (e) => e.refs.sessionId === id && e.action === "session.file_transfer_refused",
    );
    expect(refused?.data).toMatchObject({ direction: "download", path: "/srv/secret", reason: "not_permitted" });
  });

  it("relays a download against the page's credit; a connector past the window ends the session", async () => {
    const { user, connector } = await liveSession(POLICY);
    user.ws.send(encodeMessage({ type: "ft_download", id: 4, path: "/srv/d.bin" }));
    await connector.next(hasText("ft_download", { id: 4 }), "download request");
    connector.ws.send(encodeMessage({ type: "ft_ready", id: 4, size: 2 * FILE_WINDOW }));
    await user.next(hasText("ft_ready", { id: 4, size: 2 * FILE_WINDOW }), "ready");
    const piece = new Uint8Array(MAX_FILE_PAYLOAD).fill(9);
    const fits = Math.floor(FILE_WINDOW / MAX_FILE_PAYLOAD);
    for (let i = 0; i < fits; i++) connector.ws.send(encodeFileData(4, piece));
    await user.next((c) => fileFrames(c).length === fits, "a window of file data");
    // The page credits what it took; the credit reaches the connector, which may send that much more.
    user.ws.send(encodeFileCredit(4, MAX_FILE_PAYLOAD * 2));
    await connector.next((c) => fileFrames(c).length === 1, "credit");
    expect(fileFrames(connector)[0]).toEqual({ kind: "file_credit", id: 4, bytes: MAX_FILE_PAYLOAD * 2 });
    for (let i = 0; i < 3; i++) connector.ws.send(encodeFileData(4, piece));
    await user.next(hasText("ended", { reason: "protocol_error" }), "session ended");
  });

  it("closes the user's socket on a frame for an unknown transfer", async () => {
    const { user } = await liveSession(POLICY);
    user.ws.send(encodeFileData(99, new Uint8Array(4)));
    await user.next((c) => c.closed !== undefined, "closed");
    expect(user.closed!.code).toBe(CloseCode.ProtocolError);
  });

  it("closes the user's socket on upload bytes past the window, and cancels the transfer at the connector", async () => {
    const { user, connector } = await liveSession(POLICY);
    user.ws.send(encodeMessage({ type: "ft_upload", id: 1, path: "/srv/big", size: 4 << 20 }));
    await connector.next(hasText("ft_upload"), "upload request");
    connector.ws.send(encodeMessage({ type: "ft_ready", id: 1 }));
    await user.next(hasText("ft_ready"), "ready");
    const piece = new Uint8Array(MAX_FILE_PAYLOAD);
    for (let sent = 0; sent <= FILE_WINDOW; sent += piece.byteLength) user.ws.send(encodeFileData(1, piece));
    await user.next((c) => c.closed !== undefined, "closed");
    expect(user.closed!.code).toBe(CloseCode.ProtocolError);
    await connector.next(hasText("ft_cancel", { id: 1 }), "cancelled at the connector");
    expect(fileFrames(connector).length).toBe(Math.floor(FILE_WINDOW / MAX_FILE_PAYLOAD));
  });

  it("refuses a direction the policy has off without asking the connector; none allowed: the page hears nothing", async () => {
    const { user, connector } = await liveSession({
      file_transfer: JSON.stringify({ upload: false, download: true, allowPaths: ["/srv"] }),
    });
    await user.next(hasText("ft_allowed", { upload: false }), "allowed");
    user.ws.send(encodeMessage({ type: "ft_upload", id: 2, path: "/srv/x", size: 1 }));
    await user.next(hasText("ft_refused", { id: 2, reason: "upload_off" }), "refused");
    expect(connector.texts).not.toContainEqual(expect.objectContaining({ type: "ft_upload" }));
    const off = await liveSession();
    off.user.ws.send(encodeMessage({ type: "ft_list", id: 1, path: "/" }));
    await off.user.next(hasText("ft_refused", { id: 1 }), "refused");
    expect(off.user.texts).not.toContainEqual(expect.objectContaining({ type: "ft_allowed" }));
  });
});
