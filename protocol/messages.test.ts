import { describe, expect, it } from "vitest";
import { isFatalClose, CloseCode } from "./close.ts";
import { MAX_CONTROL_MESSAGE, PROTOCOL_VERSION } from "./limits.ts";
import {
  BrowserToRoom,
  encodeMessage,
  MessageError,
  parseMessage,
  RoomToBrowser,
  RoomToConnector,
} from "./messages.ts";
import { backoffDelay, BACKOFF_CAP_MS } from "./backoff.ts";

describe("control messages", () => {
  it("serializes the handshake exactly (golden)", () => {
    expect(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 120, rows: 40 })).toBe(
      '{"type":"hello","v":1,"cols":120,"rows":40}',
    );
    expect(parseMessage(BrowserToRoom, '{"type":"hello","v":1,"cols":120,"rows":40}')).toEqual({
      type: "hello",
      v: 1,
      cols: 120,
      rows: 40,
    });
  });

  it("parses every room-to-browser kind", () => {
    for (const text of [
      '{"type":"hello","v":1,"sessionId":"abc-1","deadline":1700000000000}',
      '{"type":"status","state":"connected"}',
      '{"type":"ended","reason":"time_limit"}',
      '{"type":"error","code":"protocol_error"}',
    ]) {
      expect(parseMessage(RoomToBrowser, text)).toEqual(JSON.parse(text));
    }
  });

  it.each([
    ["not JSON", "{"],
    ["unknown type", '{"type":"sudo"}'],
    ["extra field", '{"type":"resize","cols":80,"rows":24,"x":1}'],
    ["zero cols", '{"type":"resize","cols":0,"rows":24}'],
    ["huge rows", '{"type":"resize","cols":80,"rows":100000}'],
    ["fractional", '{"type":"resize","cols":80.5,"rows":24}'],
    ["unknown reason", '{"type":"end","reason":"because"}'],
  ])("refuses %s", (_name, text) => {
    const schema = text.includes("end") ? RoomToConnector : BrowserToRoom;
    expect(() => parseMessage(schema, text)).toThrow(MessageError);
  });

  it("refuses an oversized message before parsing it", () => {
    const text = `{"type":"resize","cols":80,"rows":24,"pad":"${"x".repeat(MAX_CONTROL_MESSAGE)}"}`;
    expect(() => parseMessage(BrowserToRoom, text)).toThrow(/too large/);
  });
});

describe("close codes and backoff", () => {
  it("treats 40xx as fatal and 41xx and standard codes as retryable", () => {
    expect(isFatalClose(CloseCode.Ended)).toBe(true);
    expect(isFatalClose(CloseCode.ProtocolError)).toBe(true);
    expect(isFatalClose(CloseCode.Replaced)).toBe(true);
    expect(isFatalClose(CloseCode.TryAgain)).toBe(false);
    expect(isFatalClose(1006)).toBe(false);
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(30, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(backoffDelay(30, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});
