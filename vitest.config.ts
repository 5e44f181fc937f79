// Three projects in one `vitest run`: pure units on Node, the edge inside the Workers runtime
// (workerd via @cloudflare/vitest-pool-workers), and end-to-end tests with real peers on Node.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const edgeSecrets = {
  // Fixed keys for the Workers-runtime tests only; every real run generates its own.
  EDGE_SIGNING_KEY: JSON.stringify({
    kty: "OKP",
    crv: "Ed25519",
    x: "XYQaEo_0jlJWuP-g0SN3IWYyMO7GsMVoRyBKxUQDSDw",
    d: "kTkrPC73IlVsxsIDcWEwz3meVYKC9wCEWuFLnbzCFkE",
  }),
  // A rotation in progress: the next key is announced; the retired one (its private half is in
  // worker/edge-keys.workers.test.ts) still verifies old manifests.
  EDGE_SIGNING_KEY_NEXT: JSON.stringify({
    kty: "OKP",
    crv: "Ed25519",
    x: "yg13WtiY0Gw8qBhM8neRQFVcPHzANDHGw8scV1WCZLA",
    d: "X8m4ZID9FWyTbq7NvTw2Wh6Aa6hc4udqjxUXUyzeFnw",
  }),
  EDGE_SIGNING_KEYS_RETIRED: JSON.stringify([
    { kty: "OKP", crv: "Ed25519", x: "hEt4aP3GUK8TerSb5DXT6HT8ZGlpyLw8W-rr-pth35g" },
  ]),
  USER_TOKEN_SECRET: "test-user-token-secret-0123456789abcdef",
  BOOTSTRAP_TOKEN: "test-bootstrap-token-0123456789",
  // Nothing listens on port 9: deliveries fail and stay in the outbox, which is what the tests read.
  NOTIFY_WEBHOOK_URL: "http://127.0.0.1:9/hook",
  NOTIFY_WEBHOOK_SECRET: "test-webhook-secret",
  // Web Push's VAPID key (a private P-256 JWK); worker/push.workers.test.ts verifies the JWTs signed with it.
  PUSH_VAPID_KEY: JSON.stringify({
    kty: "EC",
    crv: "P-256",
    x: "sccMkpb77M1QroLjWhTlTtvGDVT0qv19jtVeMwthHsU",
    y: "VKSBtxHtntkoEDIR6kHASj8JNOyj6RqfWcnc0u2_6B4",
    d: "f033Rrh1_Cr63Ss7xYZwpbmUoNENXTV9liY0S77x-14",
  }),
  PUSH_VAPID_SUBJECT: "mailto:security@psm.test",
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          // Property runs (fast-check) take seconds on a loaded 2-core machine; 5 s was flaky there.
          testTimeout: 30_000,
          include: [
            "protocol/**/*.test.ts",
            "keys/**/*.test.ts",
            "connector/**/*.test.ts",
            "durable/timers.test.ts",
            "durable/output-stream.test.ts",
            "durable/room/**/*.test.ts",
            "durable/audit-chain.test.ts",
            "durable/replay.test.ts",
            "durable/desktop-pointer.test.ts",
            "durable/recording/**/*.test.ts",
            "recording/**/*.test.ts",
            // The browser's own logic, without a browser (what needs the page is tested in Chromium, test/e2e).
            "web/src/**/*.test.ts",
            "scripts/**/*.test.ts",
            "worker/access/**/*.test.ts",
            "worker/notify/**/*.test.ts",
            "worker/auth/**/*.test.ts",
            "worker/scim/**/*.test.ts",
          ],
          exclude: ["**/*.workers.test.ts", "**/node_modules/**"],
        },
      },
      {
        plugins: [
          cloudflareTest(async () => ({
            main: "./worker/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ...edgeSecrets, TEST_MIGRATIONS: await readD1Migrations("./worker/migrations") },
            },
          })),
        ],
        test: {
          name: "workers",
          // Pure tests of worker/access and worker/notify run in the unit project; here only what needs workerd.
          include: [
            "worker/**/*.workers.test.ts",
            "durable/**/*.workers.test.ts",
            // The adversarial suite's attacks that need only the edge (docs/security.md).
            "test/adversarial/**/*.workers.test.ts",
          ],
          setupFiles: ["./worker/test/apply-migrations.ts"],
          // Flows log in (PBKDF2, 100,000 iterations) and relay through rooms: 5 s is too tight on a busy 2-core CI.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          // test/adversarial: attacks on the running product with real peers, one file per theme.
          include: ["test/e2e/**/*.test.ts", "test/adversarial/**/*.test.ts"],
          exclude: ["**/*.workers.test.ts", "**/node_modules/**"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Each file starts its own edge, sshd and connector; two cores run two at a time.
          fileParallelism: false,
          // Under CI one more try for a failed test (its file's peers stay up; vitest prints the retry), as
          // Playwright's own CI default does: a whole run of real peers on two loaded cores has failed on a single
          // slow step twice (a page load over 30 s, a dropped DevTools push). A test that fails for a reason fails
          // both tries; locally a failure stops at once.
          retry: process.env.CI ? 1 : 0,
        },
      },
    ],
  },
});
