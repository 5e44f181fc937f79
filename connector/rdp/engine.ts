// Where the RDP engine (the native psm-rdp-bridge) is, and whether this connector can run RDP
// sessions at all. The bridge is built by `npm install` when FreeRDP's development files exist.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Built by connector/rdp/bridge/Makefile (run from npm's postinstall, or `npm run build:rdp`). */
export const DEFAULT_BRIDGE = fileURLToPath(new URL("../../build/rdp/psm-rdp-bridge", import.meta.url));

export const HOW_TO_ENABLE_RDP =
  "apt-get install freerdp2-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev pkg-config build-essential, then npm run build:rdp";

/** The bridge binary: PSM_RDP_BRIDGE overrides the build output (a path, never a secret). */
export function bridgePath(): string {
  return process.env.PSM_RDP_BRIDGE || DEFAULT_BRIDGE;
}

/** Why RDP sessions cannot run on this connector, or undefined when they can. */
export function rdpUnavailable(): string | undefined {
  const path = bridgePath();
  if (!existsSync(path)) return `the RDP engine is not built (${path} is missing): ${HOW_TO_ENABLE_RDP}`;
  return undefined;
}
