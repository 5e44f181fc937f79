// Parses the server import CSV: header `name,host,port,host_key,tags` (tags `;`-separated),
// RFC 4180 quoting. Each line is validated on its own; bad lines are reported, good ones kept.
import { CreateServerRequest } from "../../protocol/index.ts";

export type ParsedServer = { line: number; name: string; host: string; port: number; hostKey: string; tags: string[] };
export type CsvResult = { servers: ParsedServer[]; errors: { line: number; error: string }[] };

const COLUMNS = ["name", "host", "port", "host_key", "tags"] as const;

function splitRecords(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || record.length) records.push([...record, field]);
  return records;
}

export function parseServerCsv(text: string): CsvResult {
  const [header, ...rows] = splitRecords(text.replace(/^\uFEFF/, ""));
  const names = (header ?? []).map((h) => h.trim().toLowerCase());
  const missing = COLUMNS.filter((c) => c !== "tags" && !names.includes(c));
  if (missing.length) return { servers: [], errors: [{ line: 1, error: `missing column(s): ${missing.join(", ")}` }] };
  const at = (row: string[], col: string) => (row[names.indexOf(col)] ?? "").trim();
  const result: CsvResult = { servers: [], errors: [] };
  rows.forEach((row, i) => {
    const line = i + 2;
    if (row.every((f) => f.trim() === "")) return;
    const candidate = {
      name: at(row, "name"),
      host: at(row, "host"),
      port: Number(at(row, "port") || 22),
      zoneId: "csv",
      hostKey: at(row, "host_key"),
      tags: at(row, "tags")
        ? at(row, "tags")
            .split(";")
            .map((t) => t.trim())
            .filter(Boolean)
        : [],
    };
    const parsed = CreateServerRequest.safeParse(candidate);
    if (!parsed.success) {
      result.errors.push({
        line,
        error: parsed.error.issues.map((iss) => `${iss.path.join(".")}: ${iss.message}`).join("; "),
      });
      return;
    }
    const { name, host, port, hostKey, tags } = parsed.data;
    result.servers.push({ line, name, host, port, hostKey, tags });
  });
  return result;
}
