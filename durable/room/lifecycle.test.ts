// The room core's clock and roles without workerd or sleeps: deadline warnings and extensions, the idle
// limit, the grace periods for a browser or connector that went away, the end that everyone hears with
// the witness it leaves, a newer tab taking over, and writers beside the user.
import { describe, expect, it } from "vitest";
import { CloseCode, CONNECTOR_RESUME_GRACE_MS, decodeFrame, encodeData } from "../../protocol/index.ts";
import { ConnectorModel, META, RoomBench } from "./sim.ts";
import type { Action, RoomMeta } from "./types.ts";

const MIN = 60_000;

function started(meta: Partial<RoomMeta> = {}) {
  const bench = new RoomBench({ ...META, deadline: 1_000 + 30 * MIN, ...meta });
  const connector = new ConnectorModel(bench);
  connector.dial(false);
  const user = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
  bench.text(user, { type: "hello", v: 1, cols: 80, rows: 24 });
  connector.reads();
  return { bench, connector, user };
}

const texts = (bench: RoomBench, id: string) => bench.inbox(id).texts;
const ended = (effects: Action[]) => effects.flatMap((a) => (a.do === "ended" ? [a] : []));

describe("RoomCore lifecycle", () => {
  it("warns 5 and 1 minutes before the deadline, then ends the session for everyone at it", () => {
    const { bench, user, connector } = started();
    bench.advance(25 * MIN);
    expect(texts(bench, user)).toContainEqual({ type: "warning", reason: "time_limit", at: bench.core.meta!.deadline });
    bench.advance(4 * MIN);
    expect(texts(bench, user).filter((m) => m.type === "warning")).toHaveLength(2);
    bench.advance(MIN);
    expect(texts(bench, user)).toContainEqual({ type: "ended", reason: "time_limit" });
    expect(bench.inbox(user).closed).toBe(CloseCode.Ended);
    expect(texts(bench, connector.socket!)).toContainEqual({ type: "end", reason: "time_limit" });
    const [end] = ended(bench.effects);
    expect(end?.witness?.witness).toMatchObject({ endReason: "time_limit", endedBy: "room", output: 0, input: 0 });
    expect(end?.witness?.witness.markers.map((m) => m.label)).toEqual([
      "connected",
      "warning: time_limit",
      "warning: time_limit",
    ]);
    // Ended once: later events change nothing.
    expect(bench.core.end("killed", {}, bench.now).ended).toBe(false);
  });

  it("an extension moves the deadline and the warnings; one that is not later is refused", () => {
    const { bench, user, connector } = started();
    const later = bench.core.meta!.deadline + 30 * MIN;
    const { extended, actions } = bench.core.extend(later, "grant.jwt", bench.now);
    bench.apply(actions);
    expect(extended).toBe(true);
    expect(texts(bench, user)).toContainEqual({ type: "extended", deadline: later });
    expect(texts(bench, connector.socket!)).toContainEqual({ type: "extend", grant: "grant.jwt" });
    expect(bench.core.life.timers).toMatchObject({ deadline: later, warn: later - 5 * MIN });
    expect(bench.core.extend(later, "g", bench.now).extended).toBe(false);
    bench.advance(59 * MIN);
    expect(texts(bench, user).some((m) => m.type === "ended")).toBe(false);
  });

  it("warns an idle session, resets on input, then ends it as idle", () => {
    const { bench, user } = started({ idleMs: 10 * MIN });
    bench.advance(9 * MIN + 1);
    expect(texts(bench, user)).toContainEqual(expect.objectContaining({ type: "warning", reason: "idle" }));
    bench.binary(user, encodeData(new TextEncoder().encode("ls\r")));
    bench.advance(9 * MIN);
    expect(texts(bench, user).some((m) => m.type === "ended")).toBe(false);
    bench.advance(MIN + 1);
    bench.advance(1);
    expect(texts(bench, user).filter((m) => m.type === "warning" && m.reason === "idle")).toHaveLength(2);
    bench.advance(MIN);
    expect(texts(bench, user)).toContainEqual({ type: "ended", reason: "idle" });
  });

  it("a browser away past the policy's grace ends the session; one that returns in time keeps it", () => {
    const a = started({ disconnectGraceMs: 2 * MIN });
    a.bench.drop(a.user);
    a.bench.advance(MIN);
    const back = a.bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
    a.bench.text(back, { type: "hello", v: 1, cols: 80, rows: 24 });
    a.bench.advance(2 * MIN);
    expect(a.bench.core.ended).toBeNull();
    const b = started({ disconnectGraceMs: 2 * MIN });
    b.bench.drop(b.user);
    b.bench.advance(2 * MIN);
    expect(b.bench.core.ended).toBe("disconnected");
  });

  it("a connector that drops has the resume grace to redial; after it the session ends as connector_lost", () => {
    const a = started();
    a.connector.drops();
    expect(texts(a.bench, a.user)).toContainEqual({ type: "status", state: "reconnecting" });
    a.bench.advance(CONNECTOR_RESUME_GRACE_MS / 2);
    a.connector.dial(true);
    a.bench.advance(CONNECTOR_RESUME_GRACE_MS);
    expect(a.bench.core.ended).toBeNull();
    expect(texts(a.bench, a.user).at(-1)).toEqual({ type: "status", state: "connected" });
    const b = started();
    b.connector.drops();
    b.bench.advance(CONNECTOR_RESUME_GRACE_MS);
    expect(b.bench.core.ended).toBe("connector_lost");
  });

  it("a connector that never dials ends the session as connector_unavailable", () => {
    const bench = new RoomBench();
    bench.advance(31_000);
    expect(bench.core.ended).toBe("connector_unavailable");
    // Nobody took the session: the recording has no chunk to wait for.
    expect(ended(bench.effects)[0]?.witness?.tailWait).toBe(false);
  });

  it("a connector's status right after its hello is handled in order (no interleaving)", () => {
    const bench = new RoomBench();
    const socket = bench.open({ role: "connector", connectorId: "c1", state: "connecting" });
    bench.text(socket, { type: "hello", v: 1, sessionId: META.sessionId });
    bench.text(socket, { type: "status", state: "connected" });
    expect(bench.core.ended).toBeNull();
    expect(bench.core.state()).toBe("connected");
  });

  it("the first connector to take the session keeps it: another's hello, fresh or resuming, is refused and audited", () => {
    const { bench, connector, user } = started();
    connector.prints(10);
    // The hub asked c2 after c1 did not accept in time; c1 accepted late and took the session first.
    const late = bench.open({ role: "connector", connectorId: "c2", state: "connecting" });
    bench.text(late, { type: "hello", v: 1, sessionId: META.sessionId });
    expect(bench.inbox(late).closed).toBe(CloseCode.Forbidden);
    // A connector claiming to resume it (it holds no SSH session of it) is refused the same way.
    const claim = bench.open({ role: "connector", connectorId: "c2", state: "connecting" });
    bench.text(claim, { type: "hello", v: 1, sessionId: META.sessionId, resume: { sent: 10 } });
    expect(bench.inbox(claim).closed).toBe(CloseCode.Forbidden);
    expect(bench.effects.filter((a) => a.do === "audit").map((a) => a.entry)).toEqual([
      expect.objectContaining({
        action: "session.protocol_violation",
        actor: null,
        data: { role: "connector", detail: "connector c2 said hello for a session connector c1 serves" },
      }),
      expect.objectContaining({
        data: { role: "connector", detail: "connector c2 said hello for a session connector c1 serves" },
      }),
    ]);
    // c1 was never replaced: its output still reaches the user, and only it was named to upload chunks.
    expect(bench.inbox(connector.socket!).closed).toBeUndefined();
    connector.prints(5);
    expect(bench.core.stream.witnessedEnd).toBe(15);
    expect(bench.inbox(user).frames.length).toBeGreaterThan(0);
    expect(bench.effects.filter((a) => a.do === "served")).toEqual([
      { do: "served", connectorId: "c1", recordingId: META.recording!.recordingId },
    ]);
    // The binding outlives an eviction, and c1's own redial (a network blip) still replaces its old socket.
    bench.evict();
    const again = bench.open({ role: "connector", connectorId: "c2", state: "connecting" });
    bench.text(again, { type: "hello", v: 1, sessionId: META.sessionId });
    expect(bench.inbox(again).closed).toBe(CloseCode.Forbidden);
    const old = connector.socket!;
    connector.dial(true);
    expect(bench.inbox(old).closed).toBe(CloseCode.Replaced);
    expect(bench.inbox(connector.socket!).closed).toBeUndefined();
    expect(bench.core.ended).toBeNull();
  });

  it("a resume hello for a session no connector took is refused", () => {
    const bench = new RoomBench();
    const socket = bench.open({ role: "connector", connectorId: "c1", state: "connecting" });
    bench.text(socket, { type: "hello", v: 1, sessionId: META.sessionId, resume: { sent: 0 } });
    expect(bench.inbox(socket).closed).toBe(CloseCode.Forbidden);
    expect(bench.core.state()).toBe("waiting_for_connector");
    // A fresh hello from a connector then takes it as usual.
    const fresh = bench.open({ role: "connector", connectorId: "c1", state: "connecting" });
    bench.text(fresh, { type: "hello", v: 1, sessionId: META.sessionId });
    expect(bench.inbox(fresh).closed).toBeUndefined();
  });

  it("a connector that breaks the protocol ends the session; a browser that does loses only its socket", () => {
    const { bench, user, connector } = started();
    bench.text(user, { type: "hello", v: 1, cols: 80, rows: 24 });
    expect(bench.inbox(user).closed).toBe(CloseCode.ProtocolError);
    expect(bench.core.ended).toBeNull();
    bench.apply(bench.core.control(connector.socket!, "{not json", bench.now));
    expect(bench.core.ended).toBe("protocol_error");
  });
});

describe("RoomCore roles", () => {
  it("a newer tab takes over: the older one is closed as replaced and output goes to the new one", () => {
    const { bench, user, connector } = started();
    const tab = bench.open({ role: "user", userId: META.userId, cols: 100, rows: 30 });
    bench.text(tab, { type: "hello", v: 1, cols: 100, rows: 30 });
    expect(bench.inbox(user).closed).toBe(CloseCode.Replaced);
    connector.reads();
    connector.prints(5);
    expect(bench.inbox(tab).frames.length).toBeGreaterThan(0);
    expect(texts(bench, connector.socket!)).toContainEqual({ type: "resize", cols: 100, rows: 30 });
  });

  it("a viewer marked writer types into the session, witnessed by writer; a watcher's input goes nowhere", () => {
    const { bench, user, connector } = started();
    const helper = bench.open({ role: "viewer", userId: "m1", username: "mona", writer: true });
    const watcher = bench.open({ role: "viewer", userId: "w1", username: "walt" });
    bench.text(helper, { type: "hello", v: 1, cols: 80, rows: 24 });
    bench.text(watcher, { type: "hello", v: 1, cols: 80, rows: 24 });
    const type = (id: string, text: string) => bench.binary(id, encodeData(new TextEncoder().encode(text)));
    type(user, "ls\r");
    type(helper, "pwd\r");
    type(watcher, "rm -rf /\r");
    connector.reads();
    expect(new TextDecoder().decode(Uint8Array.from(connector.input))).toBe("ls\rpwd\r");
    expect(bench.core.witness.inputByWriter()).toEqual({ [META.userId]: 3, m1: 4 });
    expect(bench.core.witness.inputTotal).toBe(7);
    // The writer's input socket is dropped (its invitation taken back); the watcher keeps watching.
    bench.apply(bench.core.dropViewer("w1", bench.now, true).actions);
    expect(bench.inbox(watcher).closed).toBeUndefined();
    bench.apply(bench.core.dropViewer("m1", bench.now, true).actions);
    expect(bench.inbox(helper).closed).toBe(CloseCode.Forbidden);
    type(helper, "after");
    connector.reads();
    expect(connector.input).toHaveLength(7);
  });

  it("the live list sees who is attached, watchers once each however many tabs", () => {
    const { bench } = started();
    for (const name of ["mona", "mona", "walt"]) {
      const id = bench.open({ role: "viewer", userId: name, username: name });
      bench.text(id, { type: "hello", v: 1, cols: 80, rows: 24 });
    }
    expect(bench.core.presence()).toMatchObject({
      user: true,
      connector: true,
      viewers: 3,
      watchers: ["mona", "walt"],
      recording: "recorded",
      state: "connected",
    });
    const { dropped, actions } = bench.core.dropViewer("mona", bench.now);
    bench.apply(actions);
    expect(dropped).toBe(2);
    expect(bench.core.presence().watchers).toEqual(["walt"]);
  });

  it("a desktop viewer is repainted by the connector, at most once a second however many join", () => {
    const { bench, connector } = started({ protocol: "rdp" });
    const join = () => {
      const id = bench.open({ role: "viewer", userId: "v", username: "v" });
      bench.text(id, { type: "hello", v: 1, cols: 80, rows: 24 });
      return id;
    };
    const first = join();
    join();
    join();
    const repaints = () => texts(bench, connector.socket!).filter((m) => m.type === "repaint").length;
    expect(repaints()).toBe(1);
    bench.advance(1_000);
    expect(repaints()).toBe(2);
    expect(texts(bench, first)).toContainEqual({ type: "sync", at: null, reset: true });
    expect(bench.inbox(first).frames.every((f) => decodeFrame(f).kind === "data")).toBe(true);
  });
});

describe("RoomCore moderated sessions", () => {
  const type = (bench: RoomBench, id: string, text: string) =>
    bench.binary(id, encodeData(new TextEncoder().encode(text)));
  const moderator = (bench: RoomBench, userId: string, username = userId) => {
    const id = bench.open({ role: "viewer", userId, username, moderator: true });
    bench.text(id, { type: "hello", v: 1, cols: 80, rows: 24 });
    return id;
  };
  const received = (connector: ConnectorModel) => {
    connector.reads();
    return new TextDecoder().decode(Uint8Array.from(connector.input));
  };
  const audited = (bench: RoomBench, action: string) =>
    bench.effects.filter((a) => a.do === "audit" && a.entry.action === action).length;

  it("nothing typed reaches the target until the policy's moderators watch; the last one leaving pauses input", () => {
    const { bench, user, connector } = started({ moderation: { required: 2 } });
    expect(texts(bench, user)).toContainEqual({ type: "moderation", required: 2, moderators: [], locked: false });
    type(bench, user, "early\r");
    const mona = moderator(bench, "m1", "mona");
    moderator(bench, "m1", "mona"); // a second tab of the same person counts once
    type(bench, user, "one\r");
    expect(received(connector)).toBe("");
    const walt = moderator(bench, "m2", "walt");
    expect(texts(bench, user).at(-1)).toEqual({
      type: "moderation",
      required: 2,
      moderators: ["mona", "walt"],
      locked: false,
    });
    type(bench, user, "ls\r");
    expect(received(connector)).toBe("ls\r");
    bench.drop(walt);
    type(bench, user, "rm -rf /tmp/x\r");
    expect(received(connector)).toBe("ls\r");
    expect(audited(bench, "session.moderator_joined")).toBe(2);
    expect(audited(bench, "session.moderator_left")).toBe(1);
    // Output keeps flowing (and being witnessed) while input waits.
    connector.prints(5);
    expect(bench.core.stream.witnessedEnd).toBe(5);
    expect(bench.core.witness.inputTotal).toBe(3);
    expect(bench.core.presence().watchers).toEqual(["mona"]);
    expect(mona).toBeDefined();
  });

  it("a moderator locks input for a moment and can end the session; a watcher or the user cannot", () => {
    const { bench, user, connector } = started({ moderation: { required: 1 } });
    const mona = moderator(bench, "m1", "mona");
    const watcher = bench.open({ role: "viewer", userId: "w1", username: "walt" });
    bench.text(watcher, { type: "hello", v: 1, cols: 80, rows: 24 });
    bench.text(watcher, { type: "moderate", action: "lock" });
    expect(bench.inbox(watcher).closed).toBe(CloseCode.ProtocolError);
    bench.text(mona, { type: "moderate", action: "lock", seconds: 10 });
    expect(texts(bench, user).at(-1)).toMatchObject({ type: "moderation", locked: true });
    type(bench, user, "during\r");
    bench.advance(10_000);
    expect(texts(bench, user).at(-1)).toMatchObject({ type: "moderation", locked: false });
    type(bench, user, "after\r");
    expect(received(connector)).toBe("after\r");
    expect(audited(bench, "session.input_locked")).toBe(1);
    bench.text(mona, { type: "moderate", action: "end" });
    expect(bench.core.ended).toBe("killed");
    expect(ended(bench.effects)[0]).toMatchObject({ actor: { id: "m1", name: "mona" }, note: "ended by a moderator" });
    const other = started({ moderation: { required: 1 } });
    other.bench.text(other.user, { type: "moderate", action: "end" });
    expect(other.bench.inbox(other.user).closed).toBe(CloseCode.ProtocolError);
    expect(other.bench.core.ended).toBeNull();
  });

  it("a lock survives an eviction; an unmoderated session ignores moderation altogether", () => {
    const { bench, user, connector } = started({ moderation: { required: 1 } });
    const mona = moderator(bench, "m1", "mona");
    bench.text(mona, { type: "moderate", action: "lock", seconds: 60 });
    bench.evict();
    type(bench, user, "x");
    expect(received(connector)).toBe("");
    const plain = started();
    expect(plain.bench.inbox(plain.user).texts.some((m) => m.type === "moderation")).toBe(false);
    type(plain.bench, plain.user, "ok");
    expect(received(plain.connector)).toBe("ok");
  });
});

describe("RoomCore command control events", () => {
  it("passes the connector's notice to the user, and audits each command with its offset", () => {
    const { bench, user, connector } = started();
    const socket = connector.socket!;
    bench.text(socket, { type: "notice", code: "command_denied", message: "Stopping services needs a change ticket." });
    expect(texts(bench, user).at(-1)).toEqual({
      type: "notice",
      code: "command_denied",
      message: "Stopping services needs a change ticket.",
    });
    bench.text(socket, { type: "command", line: "systemctl stop nginx", action: "deny", rule: 0, at: 42 });
    bench.text(socket, { type: "command", line: "uptime", action: "allow", rule: null, at: 50 });
    // Where Enter fell on the recording's clock and the rule's message travel into the entry (the timeline's link).
    const alerted = { line: "systemctl stop web", rule: 1, at: 60, ms: 2500, message: "Paged on-call." };
    bench.text(socket, { type: "command", action: "alert", ...alerted });
    const audits = bench.effects.flatMap((a) => (a.do === "audit" ? [a.entry] : []));
    expect(audits.map((e) => [e.action, e.data])).toEqual([
      ["session.command_denied", { line: "systemctl stop nginx", rule: 0, at: 42 }],
      ["session.command", { line: "uptime", rule: null, at: 50 }],
      ["session.command_alert", alerted],
    ]);
    expect(audits[0]?.actor).toEqual({ id: META.userId, name: META.username });
    const ended = bench.core.end("user_exit", {}, bench.now);
    bench.apply(ended.actions);
    const markers = bench.effects.flatMap((a) => (a.do === "ended" ? (a.witness?.witness.markers ?? []) : []));
    expect(markers.map((m) => m.label)).toContain("command deny: rule 0");
  });
});

describe("RoomCore command review", () => {
  const review = (id: string, seconds = 60) => ({
    type: "command_review",
    id,
    line: "systemctl stop nginx",
    rule: 1,
    message: "Change control.",
    seconds,
    at: 0,
  });
  const answers = (bench: RoomBench, socket: string) =>
    texts(bench, socket).filter((m) => m.type === "command_review_answer");

  it("holds one line at a time, keeps it through an eviction, and answers the connector with the reviewer's word", () => {
    const { bench, user, connector } = started();
    bench.text(connector.socket!, review("00000000000000a1"));
    expect(texts(bench, user)).toContainEqual(expect.objectContaining({ type: "notice", code: "command_review" }));
    expect(bench.effects).toContainEqual(
      expect.objectContaining({ do: "review_open", review: expect.objectContaining({ id: "00000000000000a1" }) }),
    );
    // A second line while one waits is refused at once; the first still waits.
    bench.text(connector.socket!, review("00000000000000a2"));
    expect(answers(bench, connector.socket!)).toEqual([
      { type: "command_review_answer", id: "00000000000000a2", allowed: false, message: expect.any(String) },
    ]);
    bench.evict();
    const wrong = bench.core.decideReview("00000000000000a2", true, { id: "r", name: "rita" }, bench.now);
    expect(wrong.decided).toBe(false);
    const { decided, actions } = bench.core.decideReview(
      "00000000000000a1",
      true,
      { id: "r", name: "rita" },
      bench.now,
    );
    bench.apply(actions);
    expect(decided).toBe(true);
    expect(answers(bench, connector.socket!).at(-1)).toEqual({
      type: "command_review_answer",
      id: "00000000000000a1",
      allowed: true,
      message: "",
    });
    expect(bench.core.decideReview("00000000000000a1", false, { id: "r", name: "rita" }, bench.now).decided).toBe(
      false,
    );
    const audited = bench.effects.flatMap((a) => (a.do === "audit" ? [a.entry] : []));
    expect(audited.find((e) => e.action === "session.command_approved")).toMatchObject({
      actor: { id: "r", name: "rita" },
      data: { review: "00000000000000a1", line: "systemctl stop nginx", rule: 1, decision: "approved" },
    });
    bench.apply(bench.core.end("closed", {}, bench.now).actions);
    expect(ended(bench.effects)[0]?.witness?.witness.markers.map((m) => m.label)).toEqual(
      expect.arrayContaining(["command review: rule 1", "command review approved by rita"]),
    );
  });

  it("refuses the line when the rule's time runs out; a late answer changes nothing", () => {
    const { bench, connector } = started();
    bench.text(connector.socket!, { ...review("00000000000000b1"), seconds: 10 });
    expect(bench.core.life.timers.review).toBe(bench.now + 10_000);
    bench.advance(9_999);
    expect(answers(bench, connector.socket!)).toEqual([]);
    bench.advance(1);
    expect(answers(bench, connector.socket!)).toEqual([
      expect.objectContaining({ id: "00000000000000b1", allowed: false, message: expect.stringContaining("in time") }),
    ]);
    expect(bench.effects).toContainEqual(
      expect.objectContaining({ do: "review_closed", id: "00000000000000b1", decision: "timed_out", by: null }),
    );
    // Too late to answer.
    expect(bench.core.decideReview("00000000000000b1", true, { id: "r", name: "rita" }, bench.now).decided).toBe(false);
  });
});
