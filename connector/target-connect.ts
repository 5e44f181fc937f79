// Resolves a session's target once and checks every address against the site's policy; the SSH
// connection then goes to the checked address, never to the name again, so a DNS answer that
// changes between check and connect (rebinding) cannot move the session to a refused address.
import { lookup as dnsLookup } from "node:dns/promises";
import { checkTargetAddress, type Cidr, formatIp, parseIp, type TargetVerdict } from "./target-policy.ts";

export class TargetRefused extends Error {
  override name = "TargetRefused";
  constructor(
    readonly host: string,
    readonly reason: Exclude<TargetVerdict, { ok: true }>["reason"] | "unresolvable",
  ) {
    super(`target ${host} refused: ${reason}`);
  }
}

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;
const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** The address to connect to, or TargetRefused. A name with any refused address is refused whole. */
export async function resolveTarget(
  host: string,
  allowed: readonly Cidr[],
  lookup: Lookup = systemLookup,
): Promise<string> {
  const literal = parseIp(host);
  const addresses = literal
    ? [formatIp(literal)]
    : await lookup(host).then(
        (list) => list.map((a) => a.address),
        () => {
          throw new TargetRefused(host, "unresolvable");
        },
      );
  if (addresses.length === 0) throw new TargetRefused(host, "unresolvable");
  let first: string | undefined;
  for (const address of addresses) {
    const verdict = checkTargetAddress(address, allowed);
    if (!verdict.ok) throw new TargetRefused(host, verdict.reason);
    first ??= verdict.address;
  }
  return first!;
}
