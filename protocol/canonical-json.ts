// Canonical JSON (RFC 8785 in effect): the bytes the audit chain hashes (durable/audit-chain.ts) and the connector
// sends a SIEM (connector/audit-syslog.ts), one definition for both.

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth and no whitespace: the same
 * bytes for the same value whatever order its keys were built in. Otherwise follows JSON.stringify
 * (RFC 8785 in effect): `toJSON` is honoured, undefined/function/symbol fields are omitted (and are
 * `null` inside arrays), non-finite numbers are `null`, BigInt throws. Hand-written rather than a
 * `JSON.stringify` replacer because JS objects list integer-like keys first whatever we insert.
 * Parsing the output and serializing again gives the same string, so an entry read back from
 * storage hashes as it did when written.
 */
export function canonicalJson(value: unknown): string {
  const out = serialize(value);
  if (out === undefined) throw new TypeError("canonicalJson: value has no JSON form");
  return out;
}

function serialize(value: unknown): string | undefined {
  const v =
    value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function"
      ? (value as { toJSON: () => unknown }).toJSON()
      : value;
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
    case "boolean":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : "null";
    case "bigint":
      throw new TypeError("canonicalJson: BigInt has no JSON form");
    case "object": {
      if (Array.isArray(v)) return `[${v.map((item) => serialize(item) ?? "null").join(",")}]`;
      const fields: string[] = [];
      for (const key of Object.keys(v).sort()) {
        const field = serialize((v as Record<string, unknown>)[key]);
        if (field !== undefined) fields.push(`${JSON.stringify(key)}:${field}`);
      }
      return `{${fields.join(",")}}`;
    }
    default:
      return undefined; // undefined, function, symbol
  }
}
