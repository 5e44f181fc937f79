// A reconnecting viewer or joiner asks the edge again at once and then every few seconds, and stops asking once the
// socket is back, the page stopped, or the page is gone.
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { recheckWhileReconnecting } from "./recheck.ts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it("asks at once and every interval while reconnecting, and stops when connected, stopped or disposed", () => {
  const ask = vi.fn(async () => {});
  const rechecks = recheckWhileReconnecting(ask, 5_000);
  rechecks.follow("connected", false);
  vi.advanceTimersByTime(20_000);
  expect(ask).not.toHaveBeenCalled();

  rechecks.follow("reconnecting", false);
  expect(ask).toHaveBeenCalledTimes(1);
  vi.advanceTimersByTime(10_000);
  expect(ask).toHaveBeenCalledTimes(3);
  // Another reconnecting state asks again but keeps one timer.
  rechecks.follow("reconnecting", false);
  vi.advanceTimersByTime(5_000);
  expect(ask).toHaveBeenCalledTimes(5);

  rechecks.follow("connected", false);
  vi.advanceTimersByTime(20_000);
  expect(ask).toHaveBeenCalledTimes(5);

  rechecks.follow("reconnecting", true);
  vi.advanceTimersByTime(20_000);
  expect(ask).toHaveBeenCalledTimes(5);

  rechecks.follow("reconnecting", false);
  rechecks.dispose();
  vi.advanceTimersByTime(20_000);
  expect(ask).toHaveBeenCalledTimes(6);
});
