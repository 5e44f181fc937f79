// Filters in the URL: a page's filter is its hash route's query (#/audit?user=alice&server=web), so a reload
// or a shared link shows the same rows. Written with replaceState: no hashchange, so the page is not redrawn.

/** The route's query (after the "?" of the hash), as fields: only these keys, only non-empty values. */
export function readFilter<K extends string>(keys: readonly K[]): Partial<Record<K, string>> {
  const hash = location.hash.replace(/^#/, "");
  const at = hash.indexOf("?");
  const params = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = params.get(key)?.trim();
    if (value) out[key] = value;
  }
  return out;
}

/** Puts the filter into the URL of `route` ("/audit"), leaving out empty values; the history entry is replaced. */
export function writeFilter(route: string, values: Record<string, string | undefined>): void {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value?.trim()) params.set(key, value.trim());
  const text = params.toString();
  const hash = `#${route}${text ? `?${text}` : ""}`;
  if (location.hash !== hash) history.replaceState(history.state, "", hash);
}
