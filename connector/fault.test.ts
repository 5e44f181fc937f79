// The connector's last line of defence: unexpected errors are logged by class and place, never by message
// (which can quote a credential), and neither an unhandled rejection nor an uncaught exception ends the process.
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { containProcessFaults, faultFields } from "./fault.ts";

const secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----";

describe("faultFields", () => {
  it("keeps the class and the first frame, not the message", () => {
    const fields = faultFields(new TypeError(`Cannot parse ${secret}`));
    expect(fields.error).toBe("TypeError");
    expect(fields.at).toMatch(/fault\.test\.ts:\d+:\d+/);
    expect(JSON.stringify(fields)).not.toContain("b3BlbnNzaC1rZXktdjE");
    expect(JSON.stringify(fields)).not.toContain("Cannot parse");
  });

  it("names what was thrown when it is not an Error", () => {
    expect(faultFields(secret)).toEqual({ error: "string" });
    expect(faultFields(undefined)).toEqual({ error: "undefined" });
  });

  it("copes with an error whose stack is missing", () => {
    const err = new RangeError("x");
    err.stack = undefined;
    expect(faultFields(err)).toEqual({ error: "RangeError" });
  });
});

describe("containProcessFaults", () => {
  it("logs both kinds of escaped failure without their messages, and does not rethrow", () => {
    const source = new EventEmitter();
    const lines: string[] = [];
    containProcessFaults(source, (event, fields) => lines.push(JSON.stringify({ event, ...fields })));
    expect(() => source.emit("unhandledRejection", new Error(secret))).not.toThrow();
    expect(() => source.emit("uncaughtException", new SyntaxError(secret))).not.toThrow();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('"kind":"unhandled_rejection"');
    expect(lines[1]).toContain('"kind":"uncaught_exception"');
    expect(lines[1]).toContain('"error":"SyntaxError"');
    expect(lines.join("\n")).not.toContain("OPENSSH");
  });
});
