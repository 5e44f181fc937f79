// Attacks on the room core's file transfer and moderation (no workerd: the real core driven through sim.ts). Each
// test names the attack and the guarantee it tries to break; the first versions of these were a red-team review's
// failing tests (2026-12-06), and each failed before the room held files under moderation, bounded listings, and
// bounded refusals, and before moderators were counted by person.
import { describe, expect, it } from "vitest";
import { encodeData, encodeFileData } from "../../protocol/index.ts";
import { ConnectorModel, META, RoomBench } from "./sim.ts";
import { MAX_NOTED_REFUSALS, MAX_REFUSED_REQUESTS } from "./transfers.ts";
import type { RoomMeta } from "./types.ts";

const ALLOWED = { upload: true, download: true, maxBytes: 1 << 20, roots: ["/home/alice"] };
const typed = (text: string) => encodeData(new TextEncoder().encode(text));

function started(meta: Partial<RoomMeta>) {
  const bench = new RoomBench({ ...META, ...meta });
  const connector = new ConnectorModel(bench);
  connector.dial(false);
  const user = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
  bench.text(user, { type: "hello", v: 1, cols: 80, rows: 24 });
  connector.reads();
  return { bench, connector, socket: connector.socket!, user };
}

/** A moderator's socket, said hello. */
function moderator(bench: RoomBench, userId: string, username: string, personId = userId) {
  const id = bench.open({ role: "viewer", userId, username, moderator: true, personId });
  bench.text(id, { type: "hello", v: 1, cols: 80, rows: 24 });
  return id;
}

const fileRequests = (bench: RoomBench, socket: string) =>
  bench.inbox(socket).texts.filter((m) => m.type.startsWith("ft_"));
const fileFrames = (bench: RoomBench, socket: string) => bench.inbox(socket).frames.filter((f) => f[0] === 0x03);
const refusals = (bench: RoomBench, user: string) => bench.inbox(user).texts.filter((m) => m.type === "ft_refused");

describe("attacks on a moderated session's files (docs/governance.md: nothing reaches the target unwatched)", () => {
  it("attack: with no moderator watching, upload a file instead of typing — guarantee: the request never reaches the target", () => {
    const { bench, connector, socket, user } = started({ moderation: { required: 1 }, fileTransfer: ALLOWED });
    bench.binary(user, typed("id\r"));
    connector.reads();
    expect(connector.input).toHaveLength(0);
    for (const msg of [
      { type: "ft_upload", id: 1, path: "/home/alice/.bashrc", size: 16 },
      { type: "ft_download", id: 2, path: "/home/alice/secrets" },
      { type: "ft_list", id: 3, path: "/home/alice" },
    ])
      bench.text(user, msg);
    expect(fileRequests(bench, socket)).toEqual([]);
    expect(refusals(bench, user).map((m) => m.reason)).toEqual(["input_held", "input_held", "input_held"]);
    // Once the moderator watches, the same upload goes through.
    moderator(bench, "m1", "mona");
    bench.text(user, { type: "ft_upload", id: 4, path: "/home/alice/.bashrc", size: 16 });
    expect(fileRequests(bench, socket)).toEqual([{ type: "ft_upload", id: 4, path: "/home/alice/.bashrc", size: 16 }]);
  });

  it("attack: keep uploading after a moderator locks input, or leaves — guarantee: the transfer is cancelled at the hold and no byte passes", () => {
    for (const hold of ["lock", "leave"] as const) {
      const { bench, socket, user } = started({ moderation: { required: 1 }, fileTransfer: ALLOWED });
      const mona = moderator(bench, "m1", "mona");
      bench.text(user, { type: "ft_upload", id: 7, path: "/home/alice/.ssh/authorized_keys", size: 8 });
      bench.text(socket, { type: "ft_ready", id: 7 });
      bench.binary(user, encodeFileData(7, new TextEncoder().encode("ssh-")));
      expect(fileFrames(bench, socket)).toHaveLength(1);
      if (hold === "lock") bench.text(mona, { type: "moderate", action: "lock", seconds: 600 });
      else bench.drop(mona);
      // The connector is told to cancel, once; the page's next bytes stop at the room.
      expect(fileRequests(bench, socket).filter((m) => m.type === "ft_cancel")).toEqual([{ type: "ft_cancel", id: 7 }]);
      bench.binary(user, encodeFileData(7, new TextEncoder().encode("rsa ")));
      expect(fileFrames(bench, socket), hold).toHaveLength(1);
      expect(fileRequests(bench, socket).filter((m) => m.type === "ft_cancel")).toHaveLength(1);
      // The connector's answer ends it for the page.
      bench.text(socket, {
        type: "ft_refused",
        id: 7,
        direction: "upload",
        path: "/home/alice/.ssh/authorized_keys",
        reason: "cancelled",
        message: "cancelled",
      });
      expect(refusals(bench, user).map((m) => m.reason)).toEqual(["cancelled"]);
      bench.text(user, { type: "ft_upload", id: 8, path: "/home/alice/x", size: 1 });
      expect(refusals(bench, user).at(-1)?.reason).toBe("input_held");
    }
  });

  it("attack: one person watches from two linked accounts of the moderator group — guarantee: `moderatorsRequired` counts people", () => {
    const { bench, connector, user } = started({ moderation: { required: 2 } });
    // mona's everyday account and her admin account: one person (the Worker names it, worker/access/moderation.ts).
    moderator(bench, "mona", "mona", "person-mona");
    moderator(bench, "mona-adm", "mona.admin", "person-mona");
    bench.binary(user, typed("rm -rf /srv\r"));
    connector.reads();
    expect(connector.input, "input relayed with one person as both moderators").toHaveLength(0);
    expect(
      bench
        .inbox(user)
        .texts.filter((m) => m.type === "moderation")
        .at(-1),
    ).toMatchObject({
      required: 2,
      moderators: ["mona"],
    });
    // A second person opens it.
    moderator(bench, "max", "max");
    bench.binary(user, typed("id\r"));
    connector.reads();
    expect(new TextDecoder().decode(Uint8Array.from(connector.input))).toBe("id\r");
  });
});

describe("attacks on the room's bounds through file requests", () => {
  it("attack: ask for 2,000 listings at once and read none — guarantee: one listing is in flight and only the one asked for reaches the page", () => {
    const { bench, socket, user } = started({ fileTransfer: ALLOWED });
    for (let id = 1; id <= 2000; id++) bench.text(user, { type: "ft_list", id, path: "/home/alice" });
    expect(fileRequests(bench, socket)).toEqual([{ type: "ft_list", id: 1, path: "/home/alice" }]);
    // The room refused the rest `busy` until the socket had been refused too often, then closed it.
    expect(refusals(bench, user)).toHaveLength(MAX_REFUSED_REQUESTS);
    expect(bench.inbox(user).closed).toBe(4001);
    // Listings the room did not ask for (a connector answering ids it was never sent) are dropped.
    const entries = Array.from({ length: 500 }, (_, i) => ({
      name: `f${i}`,
      kind: "file" as const,
      size: 1,
      mtime: 0,
    }));
    const user2 = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
    bench.text(user2, { type: "hello", v: 1, cols: 80, rows: 24 });
    for (let id = 2; id <= 50; id++)
      bench.text(socket, { type: "ft_listing", id, path: "/home/alice", entries, truncated: false });
    expect(bench.inbox(user2).texts.filter((m) => m.type === "ft_listing")).toEqual([]);
    // The page that replaced it may list again, one at a time.
    bench.text(user2, { type: "ft_list", id: 9001, path: "/home/alice" });
    expect(fileRequests(bench, socket).at(-1)).toEqual({ type: "ft_list", id: 9001, path: "/home/alice" });
    bench.text(socket, { type: "ft_listing", id: 9001, path: "/home/alice", entries, truncated: false });
    expect(bench.inbox(user2).texts.filter((m) => m.type === "ft_listing")).toHaveLength(1);
    bench.text(user2, { type: "ft_list", id: 9002, path: "/home/alice" });
    expect(fileRequests(bench, socket).at(-1)).toEqual({ type: "ft_list", id: 9002, path: "/home/alice" });
  });

  it("attack: send 5,000 refused uploads from socket after socket — guarantee: the audit ledger and the witness's markers stay bounded, and later events are still marked", () => {
    const { bench, socket } = started({});
    const audited = () => bench.effects.filter((a) => a.do === "audit").length;
    const before = audited();
    let sent = 0;
    for (let round = 0; sent < 5000 && round < 300; round++) {
      const tab = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
      bench.text(tab, { type: "hello", v: 1, cols: 80, rows: 24 });
      for (let i = 0; i < 25 && bench.inbox(tab).closed === undefined; i++, sent++)
        bench.text(tab, { type: "ft_upload", id: sent + 1, path: "/x", size: 1 });
      // Each socket is closed after MAX_REFUSED_REQUESTS refusals.
      expect(refusals(bench, tab).length).toBe(MAX_REFUSED_REQUESTS);
      expect(bench.inbox(tab).closed).toBe(4001);
    }
    const refusedAudits = bench.effects.filter(
      (a) => a.do === "audit" && a.entry.action === "session.file_transfer_refused",
    ).length;
    expect(refusedAudits).toBe(MAX_NOTED_REFUSALS);
    // Each closed socket is one protocol-violation entry: bounded by the sockets an attacker can open (each needs a
    // fresh ticket), not by the messages it sends.
    expect(audited() - before).toBeLessThan(MAX_NOTED_REFUSALS + 300);
    // An invited person joining with input is still marked in the recording (the witness has room).
    const joiner = bench.open({ role: "viewer", userId: "u2", username: "bob", writer: true });
    bench.text(joiner, { type: "hello", v: 1, cols: 80, rows: 24 });
    const markers = bench.inbox(socket).texts.flatMap((m) => (m.type === "marker" ? [m.label] : []));
    expect(markers).toContain("joined with input: bob");
  });
});
