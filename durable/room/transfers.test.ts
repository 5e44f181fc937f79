// The room core's file transfer without workerd (durable/room/transfers.ts): one transfer at a time, a user who
// leaves cancels it at the connector, a connector that leaves fails it for the page (audited and witnessed), a
// frame of a transfer that just ended is dropped, and the witness holds each outcome's marker.
import { describe, expect, it } from "vitest";
import { encodeFileData } from "../../protocol/index.ts";
import { ConnectorModel, META, RoomBench } from "./sim.ts";

const ALLOWED = { upload: true, download: true, maxBytes: 1 << 20, roots: ["/srv"] };
const SHA = "cd".repeat(32);

function started() {
  const bench = new RoomBench({ ...META, fileTransfer: ALLOWED });
  const connector = new ConnectorModel(bench);
  connector.dial(false);
  const user = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
  bench.text(user, { type: "hello", v: 1, cols: 80, rows: 24 });
  connector.reads();
  return { bench, connector: connector.socket!, user };
}
const audits = (bench: RoomBench) =>
  bench.effects.flatMap((a) => (a.do === "audit" ? [{ action: a.entry.action, data: a.entry.data }] : []));

describe("RoomCore file transfer", () => {
  it("runs one transfer at a time; a second is refused busy by the room", () => {
    const { bench, connector, user } = started();
    expect(bench.inbox(user).texts).toContainEqual({ type: "ft_allowed", ...ALLOWED });
    bench.text(user, { type: "ft_upload", id: 1, path: "/srv/a", size: 5 });
    bench.text(user, { type: "ft_download", id: 2, path: "/srv/b" });
    expect(bench.inbox(connector).texts.filter((m) => m.type.startsWith("ft_"))).toEqual([
      { type: "ft_upload", id: 1, path: "/srv/a", size: 5 },
    ]);
    expect(bench.inbox(user).texts).toContainEqual(
      expect.objectContaining({ type: "ft_refused", id: 2, reason: "busy" }),
    );
    // Listings run beside a transfer.
    bench.text(user, { type: "ft_list", id: 3, path: "/srv" });
    expect(bench.inbox(connector).texts).toContainEqual({ type: "ft_list", id: 3, path: "/srv" });
  });

  it("finishes with the record: audited, witnessed, and a late frame of it is dropped", () => {
    const { bench, connector, user } = started();
    bench.text(user, { type: "ft_upload", id: 1, path: "/srv/a", size: 5 });
    bench.text(connector, { type: "ft_ready", id: 1 });
    bench.binary(user, encodeFileData(1, new Uint8Array(5)));
    bench.text(connector, { type: "ft_done", id: 1, direction: "upload", path: "/srv/a", size: 5, sha256: SHA });
    bench.binary(user, encodeFileData(1, new Uint8Array(1)));
    expect(bench.inbox(user).closed).toBeUndefined();
    expect(audits(bench)).toContainEqual({
      action: "session.file_transfer",
      data: { direction: "upload", path: "/srv/a", size: 5, sha256: SHA },
    });
    expect((bench.storage.get("markers") as { label: string }[]).map((m) => m.label)).toContain(
      `file upload: /srv/a (5 bytes, sha256 ${SHA.slice(0, 16)})`,
    );
  });

  it("cancels at the connector when the user leaves; fails it for the page when the connector leaves", () => {
    const a = started();
    a.bench.text(a.user, { type: "ft_download", id: 9, path: "/srv/big" });
    a.bench.drop(a.user);
    expect(a.bench.inbox(a.connector).texts).toContainEqual({ type: "ft_cancel", id: 9 });

    const b = started();
    b.bench.text(b.user, { type: "ft_download", id: 4, path: "/srv/big" });
    b.bench.drop(b.connector);
    expect(b.bench.inbox(b.user).texts).toContainEqual(
      expect.objectContaining({ type: "ft_refused", id: 4, reason: "target_error" }),
    );
    expect(audits(b.bench)).toContainEqual(
      expect.objectContaining({
        action: "session.file_transfer_refused",
        data: expect.objectContaining({ reason: "target_error" }),
      }),
    );
  });
});
