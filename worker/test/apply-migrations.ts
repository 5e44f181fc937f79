// Applies the D1 migrations before the Workers-runtime tests (each test file gets isolated storage).
import { applyD1Migrations, env } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
