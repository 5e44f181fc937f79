// Human sentences for why a session ended (every EndReason) and for fatal socket close codes.
import { CloseCode, EndReason } from "../../../protocol/index.ts";

const END_REASON_TEXT: Record<EndReason, string> = {
  user_exit: "The remote shell exited.",
  closed: "The session was closed.",
  time_limit: "The session reached its time limit.",
  idle: "The session was ended after being idle for too long.",
  killed: "An administrator ended this session.",
  connector_lost: "The connector serving this server disconnected.",
  connector_unavailable: "No connector was available to reach this server. Ask an admin to check the site's connector.",
  grant_rejected: "The connector refused the session grant.",
  host_key_mismatch:
    "The server presented a host key that does not match the one pinned for it, so the connection was refused before any password was sent. Tell an admin: if the server was reinstalled they re-pin its key in Admin › Servers; if not, someone may be in between.",
  target_unreachable: "The server could not be reached from the connector.",
  auth_failed: "The server refused the vaulted credential.",
  master_password_wrong: "Wrong master password. Connect again and re-enter it.",
  credential_unavailable: "The connector could not open the vaulted credential.",
  recording_unavailable: "Recording is required and could not be stored, so the session was ended.",
  checkout_ended: "The checkout this session ran under has ended.",
  checkout_revoked: "An administrator revoked access; the session was ended.",
  connector_revoked: "The site's connector serving this session was revoked by an administrator.",
  access_revoked: "Your access to this server was removed (your account, group, the grant or the policy changed).",
  disconnected: "Your browser was away longer than policy allows; the session was ended.",
  protocol_error: "The session was ended because of a protocol error.",
  engine_unavailable: "The connector cannot open desktop (RDP) sessions yet. Ask an admin to enable RDP on it.",
  security_refused: "The server offered no connection security that policy accepts (e.g. NLA is required).",
  internal_error: "The session was ended because of an internal error.",
  target_refused: "The connector refused this server's address: it is outside the site's allowed ranges.",
  credential_refused: "The credential authority refused to release the credential for you.",
  credential_invalid:
    "The vaulted credential cannot be used: it is not a private key the connector can load (for example, an encrypted key). Ask an admin to replace it.",
  input_overflow:
    "The session was ended because the server stopped reading your input and more than 4 MiB of it was waiting.",
  sandbox_unavailable:
    "Policy requires desktop sessions to run sandboxed, and the connector cannot sandbox them (bubblewrap is missing there). Ask an admin to install it.",
};

/** A sentence for an end reason; unknown strings (e.g. from a newer edge) get a neutral sentence. */
export function endReasonText(reason: string | null | undefined): string {
  const parsed = EndReason.safeParse(reason);
  return parsed.success ? END_REASON_TEXT[parsed.data] : "The session has ended.";
}

/** A sentence for a fatal close that arrived without an `ended` message first. */
export function closeCodeText(code: number): string {
  switch (code) {
    case CloseCode.Ended:
      return "The session has ended.";
    case CloseCode.ProtocolError:
      return "The connection was closed because of a protocol error. Reload the page to try again.";
    case CloseCode.VersionMismatch:
      return "This page is out of date for the server. Reload the page.";
    case CloseCode.Forbidden:
      return "You are not (or no longer) allowed to use this session.";
    case CloseCode.NotFound:
      return "This session does not exist or is not ready.";
    case CloseCode.Replaced:
      return "This session was opened in another tab or window, so this view was disconnected.";
    default:
      return `The connection was closed (code ${code}).`;
  }
}
