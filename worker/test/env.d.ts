// Types `env` from cloudflare:test as the Worker's own: the generated bindings (Cloudflare.Env, from
// worker/worker-configuration.d.ts) plus the hand-typed secrets, and the test-only migrations.
import type { Secrets } from "../env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends Secrets {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    }
  }
}
