// The RFC 5322 message builder and the send wrapper, on Node: headers, CRLF, RFC 2047 subjects,
// quoted-printable bodies, and no way to inject a header.
import { describe, expect, it } from "vitest";
import { buildEmail, deliverEmail, encodeSubject, isEmailAddress, quotedPrintable } from "./email.ts";

const NOW = Date.UTC(2026, 4, 1, 14, 0, 0);
const base = { from: "psm@notify.example.com", to: "bob@example.org", subject: "Hello", text: "Hi", now: NOW };

function headersOf(raw: string): Map<string, string> {
  const head = raw.slice(0, raw.indexOf("\r\n\r\n")).replace(/\r\n[ \t]/g, " ");
  return new Map(
    head.split("\r\n").map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 2)]),
  );
}

/** Decodes RFC 2047 B-words the way a mail client does (adjacent words joined without the folding space). */
function decodeSubject(value: string): string {
  const words = [...value.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)].map((m) => Buffer.from(m[1]!, "base64"));
  return Buffer.concat(words).toString("utf8");
}

function decodeQp(body: string): string {
  const joined = body.replace(/=\r\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === "=") {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(joined.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8").replace(/\r\n/g, "\n");
}

describe("buildEmail", () => {
  it("writes every required header, with a Message-ID in the sender's domain", () => {
    const raw = buildEmail({ ...base, id: "3f0c9a52-1111-4222-8333-444455556666" });
    const h = headersOf(raw);
    expect(h.get("from")).toBe("psm@notify.example.com");
    expect(h.get("to")).toBe("bob@example.org");
    expect(h.get("subject")).toBe("Hello");
    expect(h.get("date")).toBe("Fri, 01 May 2026 14:00:00 +0000");
    expect(h.get("message-id")).toBe("<3f0c9a52-1111-4222-8333-444455556666@notify.example.com>");
    expect(h.get("mime-version")).toBe("1.0");
    expect(h.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(h.get("content-transfer-encoding")).toBe("quoted-printable");
    expect(h.get("auto-submitted")).toBe("auto-generated");
  });

  it("makes a fresh Message-ID per message when none is given", () => {
    const a = headersOf(buildEmail(base)).get("message-id")!;
    const b = headersOf(buildEmail(base)).get("message-id")!;
    expect(a).toMatch(/^<[0-9a-f-]{36}@notify\.example\.com>$/);
    expect(a).not.toBe(b);
  });

  it("uses CRLF for every line, headers and body alike", () => {
    const raw = buildEmail({ ...base, text: "line one\nline two\r\nline three\rline four" });
    expect(raw.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(raw.endsWith("\r\n")).toBe(true);
    expect(raw.split("\r\n\r\n")[1]).toBe("line one\r\nline two\r\nline three\r\nline four\r\n");
  });

  it("encodes a non-ASCII subject as RFC 2047 words that decode back", () => {
    const subject = "Freigabe nötig: Jürgen möchte root auf srv-köln-01 — 日本語テキスト";
    const h = headersOf(buildEmail({ ...base, subject }));
    expect(h.get("subject")).toMatch(/^=\?UTF-8\?B\?/);
    expect(h.get("subject")).not.toMatch(/[^\x20-\x7e]/);
    expect(decodeSubject(h.get("subject")!)).toBe(subject);
  });

  it("folds long encoded subjects into words of at most 75 characters", () => {
    const subject = "Zugriff für Jürgen ".repeat(8).trim();
    const encoded = encodeSubject(subject);
    const words = encoded.split("\r\n ");
    expect(words.length).toBeGreaterThan(1);
    for (const w of words) expect(w.length).toBeLessThanOrEqual(75);
    expect(decodeSubject(encoded)).toBe(subject);
  });

  it("keeps CR/LF in a subject from starting a new header", () => {
    const raw = buildEmail({ ...base, subject: "Hi\r\nBcc: evil@example.net" });
    expect(raw).not.toMatch(/\r\nBcc:/i);
    expect(headersOf(raw).get("subject")).toBe("Hi Bcc: evil@example.net");
  });

  it("encodes an ASCII subject that looks like an encoded word", () => {
    expect(encodeSubject("=?UTF-8?B?Zm9v?=")).toMatch(/^=\?UTF-8\?B\?/);
    expect(decodeSubject(encodeSubject("=?UTF-8?B?Zm9v?="))).toBe("=?UTF-8?B?Zm9v?=");
  });

  it("refuses addresses with display names, spaces or line breaks", () => {
    expect(() => buildEmail({ ...base, to: "Bob <bob@example.org>" })).toThrow(/To/);
    expect(() => buildEmail({ ...base, to: "bob@example.org\r\nBcc: x@y.z" })).toThrow(/To/);
    expect(() => buildEmail({ ...base, from: "psm" })).toThrow(/From/);
    expect(isEmailAddress("first.last+tag@sub.example.co.uk")).toBe(true);
    expect(isEmailAddress("bob@localhost")).toBe(false);
  });
});

describe("quotedPrintable", () => {
  it("round-trips any text with lines of at most 76 characters", () => {
    const text = `Begründung:\n${"Wartungsfenster für die Datenbank-Migration, ".repeat(12)}\n= sign, trailing space \nüñíçødé ✓\n.\n`;
    const qp = quotedPrintable(text);
    for (const line of qp.split("\r\n")) expect(line.length).toBeLessThanOrEqual(76);
    expect(qp).not.toMatch(/[^\x20-\x7e\r\n]/);
    expect(qp).not.toMatch(/[ \t]\r\n/);
    expect(decodeQp(qp)).toBe(text);
  });
});

describe("deliverEmail", () => {
  it("hands the built message to the sender with the envelope matching From", async () => {
    const sent: [string, string, string][] = [];
    const res = await deliverEmail(async (f, t, r) => void sent.push([f, t, r]), base);
    expect(res).toEqual({ ok: true });
    expect(sent[0]![0]).toBe(base.from);
    expect(sent[0]![1]).toBe(base.to);
    expect(headersOf(sent[0]![2]).get("from")).toBe(base.from);
  });

  it("reports a failing or hanging sender as a short error", async () => {
    const failing = await deliverEmail(async () => {
      throw new Error("destination address not verified");
    }, base);
    expect(failing).toEqual({ ok: false, error: "destination address not verified" });
    const hanging = await deliverEmail(() => new Promise<void>(() => {}), base, 50);
    expect(hanging).toEqual({ ok: false, error: "timeout after 50 ms" });
    const invalid = await deliverEmail(async () => {}, { ...base, to: "nobody" });
    expect(invalid).toEqual({ ok: false, error: "invalid To address" });
  });
});
