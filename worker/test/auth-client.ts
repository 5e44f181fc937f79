// A test "browser" for the auth routes inside workerd: keeps the session and device cookies and
// sends a fixed client address (CF-Connecting-IP), as Cloudflare would.
import { SELF } from "cloudflare:test";
import { DEVICE_COOKIE, SESSION_COOKIE } from "../../protocol/index.ts";
import { ORIGIN } from "./harness.ts";

export type Browser = ReturnType<typeof browser>;

export function browser(ip: string) {
  const jar: { session?: string; device?: string } = {};
  const send = async (path: string, init: { method?: string; body?: unknown; cookie?: string } = {}) => {
    const cookie = init.cookie ?? [jar.session, jar.device].filter(Boolean).join("; ");
    const res = await SELF.fetch(`${ORIGIN}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", "CF-Connecting-IP": ip, ...(cookie ? { cookie } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      if (pair.startsWith(`${SESSION_COOKIE}=`))
        jar.session = pair.length > SESSION_COOKIE.length + 1 ? pair : undefined;
      if (pair.startsWith(`${DEVICE_COOKIE}=`)) jar.device = pair;
    }
    return res;
  };
  const json = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await send(path, init);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    jar,
    send,
    json,
    login: (username: string, password: string) => send("/api/login", { body: { username, password } }),
  };
}
