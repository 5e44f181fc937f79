// Protocol version and size limits shared by every hop. Every constant states its unit.

/** Bumped on any incompatible change to a frame or message. */
export const PROTOCOL_VERSION = 1;

/** Largest terminal payload in one DATA frame: 64 KiB. Senders split larger writes. */
export const MAX_DATA_PAYLOAD = 64 * 1024;

/** Largest binary frame on any socket: the DATA payload plus its 1-byte header. */
export const MAX_BINARY_FRAME = MAX_DATA_PAYLOAD + 1;

/** Largest JSON control message: 16 KiB (a grant in `open` is ~1.5 KiB). */
export const MAX_CONTROL_MESSAGE = 16 * 1024;

/**
 * Largest message the ConnectorHub sends a connector: 64 KiB. Audit batches for the syslog sink
 * (protocol/audit-stream.ts AUDIT_BATCH_BYTES) are the large ones; everything else fits MAX_CONTROL_MESSAGE.
 */
export const MAX_HUB_MESSAGE = 64 * 1024;

/**
 * Output window the browser grants the connector: 1 MiB. The connector never has more
 * than this many output bytes unacknowledged, so a browser that stops reading stalls the
 * ssh2 stream (and so the remote program) instead of growing any buffer on the way.
 */
export const OUTPUT_WINDOW = 1024 * 1024;

/** The browser returns credit once it has rendered at least this many bytes: 64 KiB. */
export const CREDIT_BATCH = 64 * 1024;

/** Terminal size bounds, in character cells. */
export const MAX_COLS = 1000;
export const MAX_ROWS = 500;

/** Heartbeat period for connector control sockets and browsers: 15 s. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** A connector silent for this long is treated as gone: 45 s. */
export const HEARTBEAT_TIMEOUT_MS = 45_000;

/**
 * A browser's session socket pings every 3 s (answered by the edge's auto-response, which wakes nothing) and
 * treats 10 s of silence as a stalled connection: the page shows it and redials, instead of staying green.
 */
export const BROWSER_PING_INTERVAL_MS = 3_000;
export const BROWSER_SILENCE_MS = 10_000;

/** A session grant must be used within this long of issue: 60 s. */
export const GRANT_TTL_SECONDS = 60;

/** A connector's proof-of-key token lives this long: 60 s. */
export const CONNECTOR_TOKEN_TTL_SECONDS = 60;

/**
 * A connector whose data socket drops has this long (6 s) to redial and resume before the room
 * ends the session as connector_lost; the connector stops trying after the same time.
 */
export const CONNECTOR_RESUME_GRACE_MS = 6_000;
/**
 * Input the connector holds for a target that stopped reading it (ssh2's channel window shut, the RDP
 * bridge's pipe full): 4 MiB. Past it the session ends with `input_overflow` rather than grow memory.
 */
export const INPUT_HOLD_BYTES = 4 * 1024 * 1024;

/**
 * The room keeps this much recent output (1 MiB window + 256 KiB) by offset, so a browser that
 * drops resumes from it: never more than the window is unacknowledged, plus one overdrawn chunk.
 */
export const RESUME_LOG_BYTES = OUTPUT_WINDOW + 256 * 1024;

// ---- HTTP request bodies ---------------------------------------------------------------------
// Checked before a body is parsed: a declared Content-Length over the limit is refused unread, and
// a body without one (chunked) is counted while it is read and refused at the first byte past the
// limit (413 too_large). Routes that authenticate check that first, so a stranger's body is never read.

/** Any JSON route not named below: 64 KiB (the largest ordinary body, a sealed credential, is ~20 KiB). */
export const MAX_JSON_BODY = 64 * 1024;

/** Routes anyone may call before signing in (login, bootstrap, connector enrollment): 8 KiB. */
export const MAX_SIGN_IN_BODY = 8 * 1024;

/** A connector's inventory report: up to 1,000 servers of at most ~1.4 KiB each, so 2 MiB. */
export const MAX_INVENTORY_BODY = 2 * 1024 * 1024;

/** A server CSV import: the CSV is at most 1 Mi characters, plus JSON escaping, so 2 MiB. */
export const MAX_SERVER_IMPORT_BODY = 2 * 1024 * 1024;
