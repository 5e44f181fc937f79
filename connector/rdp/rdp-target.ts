// Opens the RDP target of a verified grant: checks the engine is there (and sandboxed, when the grant's
// policy requires it), hands the opened credential to a fresh bridge (in memory, over its stdin) and maps
// the bridge's failures to end reasons.
import { DEFAULT_KEYBOARD_LAYOUT, type EndReason, type GrantClaims } from "../../protocol/index.ts";
import type { Log } from "../log.ts";
import { rdpUnavailable, sandboxStatus } from "./engine.ts";
import { type RdpFailure, RdpStream } from "./rdp-stream.ts";

/**
 * The desktop size the session starts with, in pixels. The browser's window size follows as a
 * Guacamole `size` (the server resizes if it supports display control; the page scales otherwise).
 */
export const INITIAL_DESKTOP = { width: 1280, height: 800 } as const;

const FAILURE_REASONS: Record<RdpFailure, EndReason> = {
  certificate_mismatch: "host_key_mismatch",
  auth_failed: "auth_failed",
  security_refused: "security_refused",
  unreachable: "target_unreachable",
  bad_request: "internal_error",
};

/** Largest clipboard transfer when the grant names none: 64 KiB. */
const DEFAULT_CLIPBOARD_MAX = 64 * 1024;

export function openRdpTarget(
  sessionId: string,
  grant: GrantClaims,
  secret: Buffer,
  log: Log,
  end: (reason: EndReason) => void,
): RdpStream | undefined {
  const missing = rdpUnavailable();
  if (missing) {
    secret.fill(0);
    log("session.rdp_unavailable", { session: sessionId, reason: missing });
    end("engine_unavailable");
    return undefined;
  }
  const sandbox = sandboxStatus();
  if (grant.rdp?.sbx && !sandbox.available) {
    secret.fill(0);
    log("session.rdp_sandbox_unavailable", { session: sessionId, reason: sandbox.reason });
    end("sandbox_unavailable");
    return undefined;
  }
  const stream = new RdpStream();
  stream.on("log", (line: string) => {
    for (const entry of line.split("\n"))
      if (entry.trim()) log("rdp.bridge", { session: sessionId, line: entry.slice(0, 500) });
  });
  stream.on("rejected", () => {
    log("session.rdp_input_rejected", { session: sessionId });
    end("protocol_error");
  });
  stream.once("close", (info: { code: number | null; failure?: RdpFailure }) => {
    if (!info.failure) return; // after `ready` the session's own close handler reports the end
    log("session.rdp_failed", { session: sessionId, failure: info.failure, code: info.code ?? undefined });
    end(FAILURE_REASONS[info.failure]);
  });
  const policy = grant.rdp ?? { nla: false, clip: { copy: false, paste: false, max: DEFAULT_CLIPBOARD_MAX } };
  stream.start({
    host: grant.tgt.host,
    port: grant.tgt.port,
    certFingerprint: grant.tgt.hostKey,
    username: grant.cred.username,
    password: secret,
    domain: grant.cred.domain ?? "",
    ...INITIAL_DESKTOP,
    security: policy.nla ? "nla" : "any",
    clipboard: { copy: policy.clip.copy, paste: policy.clip.paste, maxBytes: policy.clip.max },
    // The user's layout, from the verified grant; grants signed before layouts existed name none.
    keyboardLayout: grant.rdp?.kbd ?? DEFAULT_KEYBOARD_LAYOUT,
  });
  return stream;
}
