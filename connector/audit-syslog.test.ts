// The syslog sink's formatter (pure) and forwarder against a loopback TLS collector (node:tls with a test CA): the
// RFC 5424 message byte for byte, severities, escaping, octet-counted framing, the bounded overlap; jobs in order,
// `sent` only once written, the overlap written again first on a new connection, fixed failure phrases.
// test/e2e/audit-syslog.test.ts runs the forwarder against Debian's rsyslogd.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../durable/audit-chain.ts";
import { freePort } from "../scripts/stack/process.ts";
import { AuditAction } from "../protocol/index.ts";
import { testCa } from "../test/support/pki.ts";
import { chainedEntries, parseSyslog, syslogJob } from "../test/support/syslog-messages.ts";
import {
  formatEntry,
  frame,
  headerField,
  Overlap,
  SEVERITY_NOTICE,
  SEVERITY_WARNING,
  sdValue,
  severityOf,
  SyslogFailure,
  SyslogForwarder,
  timestamp,
} from "./audit-syslog.ts";
import { ConnectorConfig } from "./config.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("formatter", () => {
  it("writes one RFC 5424 message: PRI from log audit, RFC 3339 UTC ms, host, psm, procid, action, SD, BOM + JSON", async () => {
    const [login] = await chainedEntries(1);
    const msg = formatEntry(login!, { hostname: "conn-1.corp.example", procId: "4242" });
    const text = msg.toString("utf8");
    expect(text).toBe(
      `<109>1 2026-04-01T12:00:00.123Z conn-1.corp.example psm 4242 auth.login ` +
        `[psm@32473 idx="0" hash="${login!.hash}" prev="${"0".repeat(64)}"] \ufeff${canonicalJson(login)}`,
    );
    // The BOM is the three UTF-8 bytes right after the SD and its space.
    const at = msg.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(msg.subarray(at - 2, at).toString()).toBe("] ");
  });

  it("the JSON is the whole entry; sha256 of its canonical form without `hash` is `hash`, `prev` the one before", async () => {
    const entries = await chainedEntries(12);
    let prev = "0".repeat(64);
    for (const e of entries) {
      const got = parseSyslog(formatEntry(e, { hostname: "h", enterpriseNumber: 99999 }).toString("utf8"));
      expect(got.entry).toEqual(e);
      expect(got.sdId).toBe("psm@99999");
      expect(got.sd).toEqual({ idx: String(e.idx), hash: e.hash, prev: e.prev });
      const { hash, ...rest } = got.entry;
      expect(sha256(canonicalJson(rest))).toBe(hash);
      expect(got.entry.prev).toBe(prev);
      prev = hash;
    }
  });

  it("warning for failures, denials, kills, alerts, lockouts, protocol violations and refusals; notice otherwise", () => {
    const warnings = AuditAction.options.filter((a) => severityOf(a) === SEVERITY_WARNING);
    expect(warnings.sort()).toEqual(
      [
        "auth.login_failed",
        "auth.mfa_failed",
        "auth.locked_out",
        "checkout.denied",
        "session.killed",
        "session.extension_denied",
        "session.file_transfer_refused",
        "session.protocol_violation",
        "session.command_alert",
        "session.command_denied",
        "session.command_refused",
        "recording.alert",
        "recording.chunk_refused",
        "credential.rotation_failed",
        "site.seal_key_rotation_failed",
      ].sort(),
    );
    expect(severityOf("auth.login")).toBe(SEVERITY_NOTICE);
    expect(severityOf("session.started")).toBe(SEVERITY_NOTICE);
  });

  it("every action is a valid MSGID (1..32 printable US-ASCII) as it is", () => {
    for (const a of AuditAction.options) {
      expect(a.length).toBeLessThanOrEqual(32);
      expect(headerField(a, 32)).toBe(a);
    }
  });

  it("header fields are printable ASCII, cut to their length, NILVALUE when empty", () => {
    expect(headerField("my host\tname", 255)).toBe("my_host_name");
    expect(headerField("hôte", 255)).toBe("h_te");
    expect(headerField("", 255)).toBe("-");
    expect(headerField("x".repeat(300), 255)).toHaveLength(255);
  });

  it("SD-PARAM values escape quote, backslash and closing bracket", () => {
    expect(sdValue('a"b\\c]d[e')).toBe('a\\"b\\\\c\\]d[e');
  });

  it("timestamps are RFC 3339 UTC with ms; a time no RFC 3339 can say is NILVALUE", () => {
    expect(timestamp(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe("2026-01-02T03:04:05.006Z");
    expect(timestamp(-62_198_755_200_001)).toBe("-"); // before year 0
    expect(timestamp(253_402_300_800_000)).toBe("-"); // year 10000
    expect(timestamp(9e15)).toBe("-");
  });

  it("frames count bytes, not characters", () => {
    const msg = Buffer.from("ü🔑", "utf8");
    expect(frame(msg).toString("utf8")).toBe("6 ü🔑");
    const withUnicode = formatEntry(
      {
        idx: 1,
        ts: 0,
        prev: "0".repeat(64),
        hash: "1".repeat(64),
        actor: null,
        action: "auth.login",
        target: { type: "user", id: "ü" },
        refs: {},
        data: { k: "🔑" },
      },
      { hostname: "h", procId: "1" },
    );
    const f = frame(withUnicode);
    const sp = f.indexOf(0x20);
    expect(Number(f.subarray(0, sp).toString())).toBe(withUnicode.length);
    expect(withUnicode.length).toBeGreaterThan(withUnicode.toString("utf8").length);
  });

  it("the overlap keeps the last N frames, and never more than its byte bound", () => {
    const o = new Overlap(3, 10);
    for (const s of ["a", "b", "c", "d"]) o.push(Buffer.from(s));
    expect(o.all().map(String)).toEqual(["b", "c", "d"]);
    o.push(Buffer.from("12345678"));
    expect(o.all().map(String)).toEqual(["c", "d", "12345678"]); // 10 bytes: at the bound
    o.push(Buffer.from("x".repeat(50)));
    expect(o.all().map(String)).toEqual(["x".repeat(50)]); // the newest is kept even alone over the bound
    const none = new Overlap(0);
    none.push(Buffer.from("a"));
    expect(none.size).toBe(0);
  });
});

describe("config", () => {
  it("syslog: defaults for overlap and enterprise number; a client certificate needs its key; a hostname has no spaces", () => {
    expect(ConnectorConfig.parse({ syslog: { caFile: "/ca.pem" } }).syslog).toEqual({
      caFile: "/ca.pem",
      overlap: 100,
      enterpriseNumber: 32473,
    });
    expect(ConnectorConfig.parse({}).syslog).toBeUndefined();
    expect(ConnectorConfig.safeParse({ syslog: { certFile: "/c.pem" } }).success).toBe(false);
    expect(ConnectorConfig.safeParse({ syslog: { certFile: "/c.pem", keyFile: "/c.key" } }).success).toBe(true);
    expect(ConnectorConfig.safeParse({ syslog: { hostname: "my host" } }).success).toBe(false);
    expect(ConnectorConfig.safeParse({ syslog: { overlap: 1001 } }).success).toBe(false);
    expect(ConnectorConfig.safeParse({ syslog: { bogus: 1 } }).success).toBe(false);
  });
});

// ---- the forwarder against a loopback TLS collector ------------------------------------------------------

type Conn = { socket: TLSSocket; messages: string[] };

/** A TLS collector reading octet-counted frames; `conns` in the order they were accepted. */
async function collector(dir: string, name: string) {
  const ca = testCa(dir, name);
  const leaf = ca.server();
  const conns: Conn[] = [];
  const server: Server = createServer({ key: await readFile(leaf.key), cert: await readFile(leaf.cert) }, (socket) => {
    const conn: Conn = { socket, messages: [] };
    conns.push(conn);
    let buf = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString("ascii"));
        if (buf.length < sp + 1 + len) break;
        conn.messages.push(buf.subarray(sp + 1, sp + 1 + len).toString("utf8"));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    caFile: ca.cert,
    conns,
    all: () => conns.flatMap((c) => c.messages).map((m) => parseSyslog(m).entry.idx),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`never: ${what}`);
};

describe("forwarder", () => {
  let dir: string;
  let c: Awaited<ReturnType<typeof collector>>;
  let other: Awaited<ReturnType<typeof collector>>;
  const logs: string[] = [];
  const log = (event: string, fields?: Record<string, unknown>) => logs.push(JSON.stringify({ event, ...fields }));
  const job = syslogJob;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-syslog-"));
    c = await collector(dir, "collector");
    other = await collector(dir, "other");
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await other?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes jobs in order on one connection; after the collector drops it, the overlap goes first on the next", async () => {
    const fwd = new SyslogForwarder({ caFile: c.caFile, hostname: "conn-a", overlap: 5, log });
    const entries = await chainedEntries(30);
    // Three jobs handed over at once run one after another.
    const answers = await Promise.all([
      fwd.handle(job("s1", c.port, entries.slice(0, 8))),
      fwd.handle(job("s1", c.port, entries.slice(8, 16))),
      fwd.handle(job("s1", c.port, entries.slice(16, 20))),
    ]);
    expect(answers.map((a) => a.result)).toEqual([
      // The process's first job for the sink says so: the edge resends the window before it.
      { outcome: "sent", through: 7, fresh: true },
      { outcome: "sent", through: 15 },
      { outcome: "sent", through: 19 },
    ]);
    await until("20 messages", () => c.all().length === 20);
    expect(c.conns).toHaveLength(1);
    expect(c.all()).toEqual([...Array(20).keys()]);

    c.conns[0]!.socket.destroy();
    await until("the forwarder noticed", () => !fwd.connected("s1"));
    const next = await fwd.handle(job("s1", c.port, entries.slice(20, 30)));
    expect(next.result).toEqual({ outcome: "sent", through: 29 });
    await until("second connection", () => c.conns[1]?.messages.length === 15);
    // The last 5 written (15..19) again, then the new job.
    expect(c.conns[1]!.messages.map((m) => parseSyslog(m).entry.idx)).toEqual([
      15,
      16,
      17,
      18,
      19,
      ...Array.from({ length: 10 }, (_, i) => 20 + i),
    ]);
    expect(logs.join("\n")).not.toContain("Person");
    expect(logs.some((l) => l.includes('"resent":5'))).toBe(true);
    fwd.close();
  });

  it("a collector whose certificate another CA issued is refused; nothing is written", async () => {
    const fwd = new SyslogForwarder({ caFile: c.caFile, hostname: "conn-a", log });
    const answer = await fwd.handle(job("s2", other.port, await chainedEntries(3)));
    expect(answer.result).toEqual({ outcome: "failed", error: SyslogFailure.untrusted });
    await new Promise((r) => setTimeout(r, 100));
    expect(other.all()).toEqual([]);
  });

  it("nobody listening: collector unreachable; TLS files missing: said so; entries out of order: refused", async () => {
    const fwd = new SyslogForwarder({ caFile: c.caFile, hostname: "conn-a", log });
    const entries = await chainedEntries(3);
    expect((await fwd.handle(job("s3", await freePort(), entries))).result).toEqual({
      outcome: "failed",
      error: SyslogFailure.unreachable,
    });
    const noCa = new SyslogForwarder({ caFile: join(dir, "absent.pem"), hostname: "conn-a", log });
    expect((await noCa.handle(job("s4", c.port, entries))).result).toEqual({
      outcome: "failed",
      error: SyslogFailure.tlsFiles,
    });
    expect((await fwd.handle(job("s5", c.port, [entries[1]!, entries[0]!]))).result).toEqual({
      outcome: "failed",
      error: SyslogFailure.order,
    });
  });

  it("a collector that accepts TCP and never finishes the handshake: timed out within the job's bound", async () => {
    const { createServer: tcpServer } = await import("node:net");
    const held: import("node:net").Socket[] = [];
    const silent = tcpServer((s) => held.push(s));
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
    const fwd = new SyslogForwarder({ caFile: c.caFile, hostname: "conn-a", jobTimeoutMs: 300, log });
    const answer = await fwd.handle(job("s6", port, await chainedEntries(2)));
    expect(answer.result).toEqual({ outcome: "failed", error: SyslogFailure.timeout });
    for (const s of held) s.destroy();
    silent.close();
  });
});
