// Vite build of the browser app: web/ is the root, the bundle goes to web/dist (served as Worker assets).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const webRoot = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: webRoot,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    rolldownOptions: {
      // The service worker is its own entry, built to /sw.js (a fixed name: browsers update it in place). It imports
      // only web/src/sw-core.ts, so it comes out as one file with no import: a classic script (web/src/shared/pwa.ts).
      input: { index: join(webRoot, "index.html"), sw: join(webRoot, "src/sw.ts") },
      output: {
        entryFileNames: (chunk) => (chunk.name === "sw" ? "sw.js" : "assets/[name]-[hash].js"),
        // zod and web/src/zod-config.ts share one chunk, so the config runs when zod loads, before any
        // schema is built in another chunk: no eval probe, so no violation of the CSP (web/public/_headers).
        codeSplitting: { groups: [{ name: "zod", test: /node_modules[\\/]zod[\\/]|web[\\/]src[\\/]zod-config\.ts/ }] },
      },
    },
  },
  server: {
    // The app imports ../protocol, which lies outside web/.
    fs: { allow: [repoRoot] },
    // `vite` dev server in front of `wrangler dev` (default port 8787), sockets included.
    proxy: { "/api": { target: "http://127.0.0.1:8787", ws: true, changeOrigin: false } },
  },
});
