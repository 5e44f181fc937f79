// Shared sessions in the room core (sharing.ts): an invited person joins with input; everyone is told who writes
// and who is typing; the recording gets a `typing:` marker before each change of writer, in order with the input.
import { describe, expect, it } from "vitest";
import { encodeData, type RoomToBrowser, type RoomToConnector, type WitnessMarker } from "../../protocol/index.ts";
import { ConnectorModel, META, RoomBench } from "./sim.ts";
import { TYPING_EVERY_MS } from "./sharing.ts";
import { type Action, KEYS } from "./types.ts";

function started() {
  const bench = new RoomBench(META);
  const connector = new ConnectorModel(bench);
  connector.dial(false);
  const user = bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 });
  bench.text(user, { type: "hello", v: 1, cols: 80, rows: 24 });
  connector.reads();
  const join = (userId: string, username: string, writer = true) => {
    const id = bench.open({ role: "viewer", userId, username, ...(writer ? { writer: true } : {}) });
    bench.text(id, { type: "hello", v: 1, cols: 80, rows: 24 });
    return id;
  };
  const type = (id: string, text: string) => bench.binary(id, encodeData(new TextEncoder().encode(text)));
  return { bench, connector, user, join, type };
}

const of = <T extends string>(bench: RoomBench, id: string, type: T) =>
  bench.inbox(id).texts.filter((m): m is Extract<RoomToBrowser | RoomToConnector, { type: T }> => m.type === type);
const audits = (effects: Action[], action: string) =>
  effects.flatMap((a) => (a.do === "audit" && a.entry.action === action ? [a.entry] : []));

/** What the connector was sent, in order: typing markers and input text, as the recorder would see them. */
function connectorStream(bench: RoomBench, connector: ConnectorModel): string[] {
  const out: string[] = [];
  for (const item of bench.inbox(connector.socket!).log) {
    if ("text" in item) {
      if (item.text.type === "marker" && item.text.label.startsWith("typing: ")) out.push(`[${item.text.label}]`);
    } else if (item.frame[0] === 0x01) out.push(new TextDecoder().decode(item.frame.subarray(1)));
  }
  return out;
}

describe("RoomCore shared sessions", () => {
  it("before anyone joins: no participants message, no typing, no markers (an ordinary session is unchanged)", () => {
    const { bench, connector, user, type } = started();
    type(user, "ls\r");
    expect(of(bench, user, "participants")).toEqual([]);
    expect(of(bench, user, "typing")).toEqual([]);
    expect(connectorStream(bench, connector)).toEqual(["ls\r"]);
  });

  it("a joiner is announced to everyone, audited and marked; their input reaches the target attributed", () => {
    const { bench, connector, user, join, type } = started();
    const watcher = join("w1", "walt", false);
    type(user, "ls\r");
    const bob = join("b1", "bob");
    const told = { type: "participants", user: "alice", writers: ["bob"] };
    for (const id of [user, watcher, bob]) expect(of(bench, id, "participants").at(-1)).toEqual(told);
    expect(audits(bench.effects, "session.participant_joined")).toMatchObject([
      { actor: { id: "b1", name: "bob" }, data: { writers: ["bob"] } },
    ]);
    expect((bench.storage.get(KEYS.markers) as WitnessMarker[]).map((m) => m.label)).toContain(
      "joined with input: bob",
    );

    type(bob, "whoami\r");
    type(bob, "id\r");
    type(user, "pwd\r");
    type(watcher, "rm -rf /\r");
    // Before each change of writer, a `typing:` marker, in order with the input; the watcher's input goes nowhere.
    expect(connectorStream(bench, connector)).toEqual([
      "ls\r",
      "[typing: bob]",
      "whoami\r",
      "id\r",
      "[typing: alice]",
      "pwd\r",
    ]);
    expect(bench.core.witness.inputByWriter()).toEqual({ u1: 7, b1: 10 });
  });

  it("everyone sees who is typing: at each change of writer, then at most once a second", () => {
    const { bench, user, join, type } = started();
    const watcher = join("w1", "walt", false);
    const bob = join("b1", "bob");
    type(bob, "a");
    type(bob, "b");
    expect(of(bench, watcher, "typing")).toEqual([{ type: "typing", name: "bob" }]);
    bench.advance(TYPING_EVERY_MS);
    type(bob, "c");
    type(user, "d");
    for (const id of [user, watcher, bob])
      expect(of(bench, id, "typing").map((m) => m.name)).toEqual(["bob", "bob", "alice"]);
  });

  it("a joiner is not counted as a watcher: the user is told of watchers apart from who types with them", () => {
    const { bench, user, join } = started();
    join("b1", "bob");
    expect(of(bench, user, "watchers").at(-1)).toEqual({ type: "watchers", count: 0 });
    join("w1", "walt", false);
    expect(of(bench, user, "watchers").at(-1)).toEqual({ type: "watchers", count: 1 });
  });

  it("a joiner who leaves is audited once per person; many tabs count once", () => {
    const { bench, user, join } = started();
    const tab1 = join("b1", "bob");
    const tab2 = join("b1", "bob");
    expect(audits(bench.effects, "session.participant_joined")).toHaveLength(1);
    bench.drop(tab1);
    expect(audits(bench.effects, "session.participant_left")).toHaveLength(0);
    bench.drop(tab2);
    expect(audits(bench.effects, "session.participant_left")).toHaveLength(1);
    expect(of(bench, user, "participants").at(-1)).toEqual({ type: "participants", user: "alice", writers: [] });
  });

  it("after an eviction the session is still shared: the next input is marked again with its writer", () => {
    const { bench, connector, user, join, type } = started();
    const bob = join("b1", "bob");
    type(bob, "x");
    bench.evict();
    type(user, "y");
    type(bob, "z");
    expect(connectorStream(bench, connector).slice(-4)).toEqual(["[typing: alice]", "y", "[typing: bob]", "z"]);
  });

  it("a desktop session admits no joiner; an ordinary viewer of a session without live view neither", () => {
    const desktop = new RoomBench({ ...META, protocol: "rdp" });
    expect(desktop.core.admits({ role: "viewer", writer: true })).toBe(false);
    const private_ = new RoomBench({ ...META, liveView: false });
    expect(private_.core.admits({ role: "viewer" })).toBe(false);
    expect(private_.core.admits({ role: "viewer", writer: true })).toBe(true);
  });
});
