import { describe, expect, it } from "vitest";
import { parseServerCsv } from "./server-csv.ts";

const KEY = `SHA256:${"a".repeat(43)}`;

describe("server CSV import", () => {
  it("reads valid rows with quoting, tags and default port", () => {
    const csv = `name,host,port,host_key,tags\r\ndb1,10.0.0.1,2222,${KEY},prod;db\n"web-1",web1.example,,${KEY},"a;b"\n`;
    const { servers, errors } = parseServerCsv(csv);
    expect(errors).toEqual([]);
    expect(servers).toEqual([
      { line: 2, name: "db1", host: "10.0.0.1", port: 2222, hostKey: KEY, tags: ["prod", "db"] },
      { line: 3, name: "web-1", host: "web1.example", port: 22, hostKey: KEY, tags: ["a", "b"] },
    ]);
  });

  it("reports each bad line and keeps the good ones", () => {
    const csv = `name,host,port,host_key\nok,h,22,${KEY}\nbad,h,99999,${KEY}\nnokey,h,22,nope\n\n`;
    const { servers, errors } = parseServerCsv(csv);
    expect(servers.map((s) => s.name)).toEqual(["ok"]);
    expect(errors.map((e) => e.line)).toEqual([3, 4]);
  });

  it("refuses a file without the required columns", () => {
    expect(parseServerCsv("name,address\nx,y\n").errors[0]).toMatchObject({ line: 1 });
  });
});
