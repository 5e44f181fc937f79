// Builds the native RDP engine (connector/rdp/bridge) on `npm install`. Never fails the install:
// without a C toolchain or FreeRDP's development files it says so, and RDP is reported unavailable.
import { spawnSync } from "node:child_process";

const how =
  "to enable RDP: apt-get install freerdp2-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev pkg-config build-essential, then npm run build:rdp";
const have = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

if (process.platform !== "linux") {
  console.warn(`psm-rdp-bridge not built: the RDP engine runs on Linux only (${process.platform})`);
} else if (!have("make") || !have("cc") || !have("pkg-config")) {
  console.warn(`psm-rdp-bridge not built: make, cc or pkg-config missing; ${how}`);
} else {
  const result = spawnSync("make", ["-s", "-C", "connector/rdp/bridge"], { stdio: "inherit" });
  if (result.status !== 0) console.warn(`psm-rdp-bridge build failed (RDP stays unavailable); ${how}`);
}
