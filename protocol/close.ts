// Application websocket close codes. 40xx are fatal: a client never reconnects after one.
// 41xx are transient: reconnect with capped backoff.

export const CloseCode = {
  /** The session is over; an `ended` message with the reason was sent first. */
  Ended: 4000,
  /** A frame or message failed validation, or broke the handshake order. */
  ProtocolError: 4001,
  /** The peer speaks another protocol version. */
  VersionMismatch: 4002,
  /** The socket is not (or no longer) allowed. */
  Forbidden: 4003,
  /** No such session, or it is not ready for this role. */
  NotFound: 4004,
  /** Another socket took this role over (the same user opened the session elsewhere). */
  Replaced: 4005,
  /** The edge is restarting or the peer moved; try again. */
  TryAgain: 4100,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export function isFatalClose(code: number): boolean {
  return code >= 4000 && code < 4100;
}
