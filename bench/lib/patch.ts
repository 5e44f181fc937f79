// Text patches applied to a snapshot of the tree (lib/snapshot.ts), for measuring the code with one
// thing changed: `bench:experiment` and the recording-off figure of `npm run bench`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type Edit = { file: string; find: string; replace: string };

/** Applies the edits; each `find` must occur exactly once. Returns what did not apply, if anything. */
export function applyEdits(dir: string, edits: Edit[]): string | undefined {
  for (const edit of edits) {
    const path = join(dir, edit.file);
    const text = readFileSync(path, "utf8");
    const count = text.split(edit.find).length - 1;
    if (count !== 1) return `${edit.file}: expected text found ${count} times`;
    writeFileSync(path, text.replace(edit.find, edit.replace));
  }
  return undefined;
}

/**
 * Sessions not recorded at all: the room is never told to record. Not a product setting (every
 * session is recorded); it exists only to measure what recording costs.
 */
export const NO_RECORDING: Edit[] = [
  // Every session as under a policy with recording off: no recording row, no rec.id in the grant (the
  // connector records nothing), no recording policy for the room (it witnesses and seals nothing).
  {
    file: "worker/routes/sessions.ts",
    find: '    const recorded = recordingMode(policy) !== "off";\n',
    replace: "    const recorded = false;\n",
  },
];
