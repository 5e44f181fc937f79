// The commands timeline (issue 19, docs/governance.md): every command line run, alerted on or denied in a
// session, searched by the text it contains, user, server, outcome and time, newest first with a cursor; each
// with where to open its recording at that moment. The audit log's right: auditors and admins.
import {
  COMMAND_ACTIONS,
  type CommandListEntry,
  commandRow,
  CommandsPage,
  CommandsQuery,
} from "../../protocol/index.ts";
import { ledger } from "../audit.ts";
import { ledgerFilter, withContext } from "../audit-filter.ts";
import { requireUser } from "../auth/user-token.ts";
import { newApi, route } from "../openapi.ts";
import { requireAuditor } from "./audit.ts";

export const commands = newApi();

commands.openapi(
  route({
    method: "get",
    path: "/commands",
    summary: "Command lines run in sessions, newest first: search by text, user, server, outcome and time",
    tags: ["audit"],
    middleware: [requireUser],
    query: CommandsQuery,
    response: CommandsPage,
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    const { q, user, server, action, from, to, before, limit } = c.req.valid("query");
    const filter = await ledgerFilter(c.env.DB, { user, server, from, to });
    if (!filter) return c.json({ commands: [], next: null }, 200);
    const entries = await ledger(c.env).commands({
      ...filter,
      actions: action ? [COMMAND_ACTIONS[action]] : Object.values(COMMAND_ACTIONS),
      text: q || undefined,
      before,
      limit,
    });
    const rows = (await withContext(c.env.DB, entries))
      .map(commandRow)
      .filter((r): r is CommandListEntry => r !== null);
    // A full page may have more behind it; the cursor is the last entry read (not the last row kept).
    const next = entries.length === limit ? entries.at(-1)!.idx : null;
    return c.json({ commands: rows, next }, 200);
  },
);
