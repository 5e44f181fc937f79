// Imported first by main.ts, before any schema exists: zod parses without compiling code at runtime.
// Its JIT probes `new Function("")`, which the app's CSP (script-src without 'unsafe-eval') refuses and
// reports as a violation; jitless parsing needs no eval at all.
import { z } from "zod";

z.config({ jitless: true });
