// GETs for cloud REST APIs (Azure Resource Manager, vCenter): JSON validated with zod, throttling
// (429/503) waited out per Retry-After up to a bound, and paging links kept on the API's origin so
// a token is never sent elsewhere.
import type { z } from "zod";

/** Throttled calls are retried at most 5 times, waiting Retry-After (at most 30 s) or 1 s, 2 s, 4 s... */
const MAX_RETRIES = 5;
const MAX_WAIT_MS = 30_000;

export class CloudApiError extends Error {
  override name = "CloudApiError";
}

export async function getJson<T extends z.ZodType>(
  url: string,
  schema: T,
  opts: {
    origin: string;
    headers: () => Promise<Record<string, string>>;
    timeoutMs?: number;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<z.infer<T>> {
  if (new URL(url).origin !== new URL(opts.origin).origin) {
    throw new CloudApiError(`refusing to follow a link off ${new URL(opts.origin).origin}`);
  }
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    const headers = await opts.headers(); // an OAuth failure surfaces as itself
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: "application/json", ...headers },
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new CloudApiError(`${new URL(url).pathname}: ${(err as Error).name}`);
    }
    if ((res.status === 429 || res.status === 503) && attempt < MAX_RETRIES) {
      await res.body?.cancel();
      const retryAfter = Number(res.headers.get("retry-after"));
      await sleep(
        Number.isFinite(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter * 1000, MAX_WAIT_MS) : 1000 * 2 ** attempt,
      );
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new CloudApiError(`${new URL(url).pathname} answered HTTP ${res.status}`);
    }
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new CloudApiError(`${new URL(url).pathname}: unexpected answer shape`);
    return parsed.data;
  }
}
