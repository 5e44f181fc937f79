// The room core without workerd and without sleeps: roles, resume, credit, viewer lag, writers, timers
// and the end, driven by events through the wire encoding (sim.ts plays the Durable Object and the
// connector's real credit/resend code). The property: whatever browsers and viewers send, and however
// sockets drop and the object is evicted, every counted byte the user gets is, by offset, the byte the
// connector recorded there (a prefix of its recording), every viewer's bytes between resyncs are one
// contiguous slice of that stream, and no peer makes the room owe it more than its bound.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CloseCode, decodeFrame, OUTPUT_WINDOW, RESUME_LOG_BYTES } from "../../protocol/index.ts";
import { REPLAY_MAX_BYTES } from "../replay.ts";
import { byteAt, ConnectorModel, encodeCredit, encodeData, META, RoomBench } from "./sim.ts";
import type { Action, PeerId } from "./types.ts";
import { VIEWER_MAX_LAG } from "./viewers.ts";

const RESET = [0x1b, 0x63];

/** A browser page: checks every byte as it arrives, and credits what it rendered (or lies). */
class Page {
  readonly id: PeerId;
  /** Counted offset of the next byte; null while a repaint (not counted) is coming. */
  offset: number | null = null;
  rendered = 0;
  sent = 0;
  credited = 0;
  /** For a viewer: the last byte of its current contiguous slice. */
  last: number | null = null;
  /** It sent an offset or a credit it made up. */
  lied = false;
  private seen = 0;

  constructor(
    private readonly s: Session,
    readonly role: "user" | "viewer",
    writer = false,
  ) {
    this.id =
      role === "user"
        ? s.bench.open({ role: "user", userId: META.userId, cols: 80, rows: 24 })
        : s.bench.open({ role: "viewer", userId: "v1", username: "victor", ...(writer ? { writer } : {}) });
    s.pages.push(this);
  }

  get closed(): number | undefined {
    return this.s.bench.inbox(this.id).closed;
  }

  hello(resume?: number): void {
    this.s.bench.text(this.id, {
      type: "hello",
      v: 1,
      cols: 80,
      rows: 24,
      ...(resume !== undefined ? { resume } : {}),
    });
  }

  reads(): void {
    const log = this.s.bench.inbox(this.id).log;
    for (; this.seen < log.length; this.seen++) {
      const item = log[this.seen]!;
      if ("text" in item) {
        if (item.text.type === "sync") this.offset = item.text.at;
        continue;
      }
      const f = decodeFrame(item.frame);
      if (f.kind !== "data") continue;
      if (this.role === "viewer") this.viewerGets(f.payload);
      else this.userGets(f.payload);
    }
  }

  private userGets(bytes: Uint8Array): void {
    if (this.offset === null) return; // a repaint
    const recorded = this.s.connector.recorded;
    for (const b of bytes) {
      const o: number = this.offset++;
      if (b !== byteAt(o) || recorded[o] !== b) expect.fail(`user got ${b} at ${o}; recorded ${recorded[o]}`);
    }
    this.sent += bytes.byteLength;
    this.rendered += bytes.byteLength;
    this.s.userReached = Math.max(this.s.userReached ?? 0, this.offset);
  }

  private viewerGets(bytes: Uint8Array): void {
    if (bytes.byteLength === 2 && bytes[0] === RESET[0] && bytes[1] === RESET[1]) {
      this.last = null;
    } else {
      for (const b of bytes) {
        if (this.last !== null && b !== (this.last + 7) % 251)
          expect.fail(`viewer slice broken: ${this.last} then ${b}`);
        this.last = b;
      }
    }
    this.sent += bytes.byteLength;
    this.rendered += bytes.byteLength;
    // The room never lets a viewer owe more than its lag bound plus one repaint.
    expect(this.sent - this.credited).toBeLessThanOrEqual(VIEWER_MAX_LAG + REPLAY_MAX_BYTES + 2);
  }

  credit(amount: number | "honest"): void {
    const bytes = amount === "honest" ? this.rendered : amount;
    if (bytes <= 0) return;
    if (amount !== "honest") this.lied = true;
    if (amount === "honest") this.rendered = 0;
    this.credited += bytes;
    this.s.bench.binary(this.id, encodeCredit(bytes));
  }
}

class Session {
  readonly bench = new RoomBench();
  readonly connector = new ConnectorModel(this.bench);
  user: Page | null = null;
  viewers: Page[] = [];
  /** How far the user's pages got: an honest resume. */
  userReached: number | null = null;
  /** Input typed by writers that the room accepted while the target was reachable. */
  typed = { user: 0, writer: 0, watcher: 0 };
  readonly pages: Page[] = [];
  /** How often the connector's data socket dropped. */
  drops = 0;

  constructor() {
    this.connector.dial(false);
    this.openUser(undefined);
  }

  openUser(resume: number | undefined, lie = false): void {
    if (this.user && this.user.closed === undefined) this.bench.drop(this.user.id);
    this.user = new Page(this, "user");
    this.user.lied = lie;
    this.user.hello(resume);
  }

  step(): void {
    this.connector.reads();
    this.user?.reads();
    for (const v of this.viewers) v.reads();
  }

  live(): boolean {
    return this.bench.core.liveConnector() !== undefined;
  }
}

const resumeArb = fc.oneof(
  fc.constant("honest" as const),
  fc.constant("none" as const),
  fc.nat({ max: 4 * 1024 * 1024 }),
  fc.constant(Number.MAX_SAFE_INTEGER),
);
const creditArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant("honest" as const) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 * OUTPUT_WINDOW }) },
);

const event = fc.oneof(
  { weight: 6, arbitrary: fc.record({ e: fc.constant("print" as const), n: fc.integer({ min: 1, max: 96 * 1024 }) }) },
  { weight: 8, arbitrary: fc.constant({ e: "step" as const }) },
  { weight: 3, arbitrary: fc.record({ e: fc.constant("credit" as const), bytes: creditArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ e: fc.constant("viewerCredit" as const), i: fc.nat(3), bytes: creditArb }),
  },
  { weight: 2, arbitrary: fc.record({ e: fc.constant("hello" as const), resume: resumeArb }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant("viewerJoins" as const), writer: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant("viewerLeaves" as const), i: fc.nat(3) }) },
  {
    weight: 2,
    arbitrary: fc.record({ e: fc.constant("type" as const), who: fc.constantFrom("user", "viewer"), i: fc.nat(3) }),
  },
  { weight: 1, arbitrary: fc.constant({ e: "userDrops" as const }) },
  { weight: 1, arbitrary: fc.constant({ e: "connectorDrops" as const }) },
  { weight: 1, arbitrary: fc.constant({ e: "connectorRedials" as const }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant("wait" as const), ms: fc.integer({ min: 1, max: 6_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ e: "evict" as const }) },
);
type Event = typeof event extends fc.Arbitrary<infer T> ? T : never;

const INPUT = { user: 0x75, writer: 0x77, watcher: 0x78 };

function play(events: Event[]): Session {
  const s = new Session();
  for (const ev of events) {
    switch (ev.e) {
      case "print":
        s.connector.prints(ev.n);
        break;
      case "step":
        s.step();
        break;
      case "credit":
        if (s.user && s.user.closed === undefined) s.user.credit(ev.bytes);
        break;
      case "viewerCredit": {
        const v = s.viewers[ev.i];
        if (v && v.closed === undefined) v.credit(ev.bytes);
        break;
      }
      case "hello":
        if (typeof ev.resume === "number") s.openUser(ev.resume, true);
        else s.openUser(ev.resume === "honest" ? (s.userReached ?? undefined) : undefined);
        break;
      case "viewerJoins": {
        if (s.viewers.length >= 4) break;
        const v = new Page(s, "viewer", ev.writer);
        s.viewers.push(v);
        v.hello();
        break;
      }
      case "viewerLeaves": {
        const v = s.viewers[ev.i];
        if (v && v.closed === undefined) s.bench.drop(v.id);
        break;
      }
      case "type": {
        const page = ev.who === "user" ? s.user : s.viewers[ev.i];
        if (!page || page.closed !== undefined) break;
        const peer = s.bench.attachments.get(page.id);
        const writer = page.role === "user" ? "user" : peer?.role === "viewer" && peer.writer ? "writer" : "watcher";
        if (s.live()) s.typed[writer]++;
        s.bench.binary(page.id, encodeData(Uint8Array.of(INPUT[writer])));
        break;
      }
      case "userDrops":
        if (s.user && s.user.closed === undefined) s.bench.drop(s.user.id);
        break;
      case "connectorDrops":
        if (s.connector.socket) s.drops++;
        s.connector.drops();
        break;
      case "connectorRedials":
        if (!s.connector.socket && !s.bench.core.ended) s.connector.dial(true);
        break;
      case "wait":
        s.bench.advance(ev.ms);
        break;
      case "evict":
        // The runtime evicts an idle object: not with an attach the connector has yet to answer, nor with a
        // memory timer pending (a pending timeout keeps the object in memory).
        if (!s.connector.unread && s.bench.wakeAt === null) s.bench.evict();
        break;
    }
  }
  for (let i = 0; i < 50; i++) s.step();
  return s;
}

function check(s: Session): void {
  const input = s.connector.input;
  // Only writers' input reaches the target; the witness counts what the room relayed (a socket that drops
  // loses what was in flight on it).
  expect(input.filter((b) => b === INPUT.watcher)).toHaveLength(0);
  expect(input.filter((b) => b === INPUT.user).length).toBeLessThanOrEqual(s.typed.user);
  expect(input.filter((b) => b === INPUT.writer).length).toBeLessThanOrEqual(s.typed.writer);
  expect(s.bench.core.witness.inputTotal).toBe(s.typed.user + s.typed.writer);
  if (s.drops === 0) expect(input).toHaveLength(s.typed.user + s.typed.writer);
  // A page that never lied is never refused.
  for (const page of [...s.pages]) if (page.closed === CloseCode.ProtocolError) expect(page.lied).toBe(true);
}

describe("RoomCore", () => {
  it("property: the user's counted bytes are the connector's recording at their offsets; viewers see contiguous slices", () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 150 }), (events) => check(play(events))),
      { numRuns: process.env.PROPERTY_RUNS ? Number(process.env.PROPERTY_RUNS) : 200 },
    );
  });

  it("an evicted room whose saved end is stale repaints its viewers before it witnesses output again", () => {
    // Found by the property: the fresh page's resend started at the saved end, older than the last byte the
    // viewer had, and the viewer was sent that byte twice.
    const s = play([{ e: "step" }, { e: "viewerJoins", writer: false }, { e: "print", n: 1 }, { e: "evict" }]);
    s.openUser(undefined);
    for (let i = 0; i < 5; i++) s.step();
    check(s);
    const resets = s.bench.got.get(s.viewers[0]!.id)!.frames.filter((f) => {
      const frame = decodeFrame(f);
      return frame.kind === "data" && frame.payload.length === 2 && frame.payload[0] === RESET[0];
    });
    expect(resets).toHaveLength(2);
  });

  it("refuses a browser's resume past the output the room holds (4001, audited); viewers keep the stream", () => {
    const s = new Session();
    const viewer = new Page(s, "viewer");
    s.viewers.push(viewer);
    viewer.hello();
    s.step();
    s.connector.prints(100);
    s.step();
    s.openUser(5_000);
    s.step();
    expect(s.user!.closed).toBe(CloseCode.ProtocolError);
    expect(audits(s.bench.effects)).toContainEqual(
      expect.objectContaining({
        action: "session.protocol_violation",
        data: { role: "user", detail: "resume at 5000 past the output end 100" },
      }),
    );
    s.connector.prints(50);
    s.step();
    expect(viewer.closed).toBeUndefined();
    expect(viewer.last).toBe(byteAt(149));
    expect(s.bench.core.stream.witnessedEnd).toBe(150);
  });

  it("a resend the user asked for goes to that user only: the viewers' stream goes on where it was", () => {
    const s = new Session();
    const viewer = new Page(s, "viewer");
    s.viewers.push(viewer);
    viewer.hello();
    s.step(); // the connector reads its attach: the window opens
    s.connector.prints(100);
    s.step();
    s.bench.drop(s.user!.id);
    s.bench.advance(6_000); // the snapshot saves the exact end
    s.bench.evict();
    // The page had rendered only 40 bytes: the room no longer holds them, the connector resends from 40.
    s.openUser(40);
    // Output in flight meanwhile is dropped by the room and resent in the same frame as the bytes from 40.
    s.connector.prints(10);
    for (let i = 0; i < 3; i++) s.step();
    check(s);
    expect(s.user!.offset).toBe(110);
    expect(viewer.last).toBe(byteAt(109));
    expect(viewer.sent).toBeLessThan(2 + 110 + 20);
  });

  it("refuses credit for bytes never sent, from the user and from a viewer", () => {
    const s = new Session();
    s.connector.prints(10);
    s.step();
    const viewer = new Page(s, "viewer");
    viewer.hello();
    s.user!.credit(10 + RESUME_LOG_BYTES);
    viewer.credit(VIEWER_MAX_LAG * 2);
    expect(s.user!.closed).toBe(CloseCode.ProtocolError);
    expect(viewer.closed).toBe(CloseCode.ProtocolError);
  });
});

function audits(effects: Action[]) {
  return effects.flatMap((a) => (a.do === "audit" ? [a.entry] : []));
}
