// The wire contract of every part: frames, control messages, tokens, API bodies, close codes.
export * from "./api.ts";
export * from "./close.ts";
export * from "./frames.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./tokens.ts";
export * from "./backoff.ts";
export * from "./audit.ts";
export * from "./output-log.ts";
export * from "./connectors.ts";
export * from "./recording.ts";
export * from "./auth.ts";
export * from "./rotation.ts";
export * from "./master-password.ts";
export * from "./edge-keys.ts";
export * from "./seal-rotation.ts";
export * from "./host-key.ts";
