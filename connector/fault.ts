// Failures the connector did not expect: how they are logged (the error's class and where it was thrown,
// never its message: a library's message can quote its input, and that input may be a credential), and
// the process-level handlers that keep one such failure from ending every session of the site.
import type { Log } from "./log.ts";

/** Log fields for an unexpected error: its class and the first stack frame. No message, no data. */
export function faultFields(err: unknown): { error: string; at?: string } {
  if (!(err instanceof Error)) return { error: typeof err };
  // Stack lines after the first ("Name: message") are "    at fn (file:line:col)": code locations only.
  const frame = err.stack
    ?.split("\n")
    .find((line) => /^\s+at /.test(line))
    ?.trim()
    .slice(3, 240);
  return { error: err.name || "Error", ...(frame ? { at: frame } : {}) };
}

/** The part of `process` the handlers need; a test passes an EventEmitter. */
export type FaultSource = {
  on(event: "unhandledRejection", listener: (reason: unknown) => void): unknown;
  on(event: "uncaughtException", listener: (err: Error) => void): unknown;
};

/**
 * Logs and contains what escaped every session's own handling. Without these, Node ends the process on
 * the first unhandled rejection, and every live session of the site ends with `connector_lost`. Each
 * session's path ends that session on its own failures (session.ts); reaching here is a bug, logged as
 * `process.fault` so `psm-connector status` and the hub report show it, and the process carries on.
 */
export function containProcessFaults(source: FaultSource, log: Log): void {
  source.on("unhandledRejection", (reason) =>
    log("process.fault", { kind: "unhandled_rejection", ...faultFields(reason) }),
  );
  source.on("uncaughtException", (err) => log("process.fault", { kind: "uncaught_exception", ...faultFields(err) }));
}
