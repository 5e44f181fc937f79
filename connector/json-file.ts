// Reading JSON files that hold secrets (the connector's state with its private keys, config.json with the EmpowerID
// and cloud secrets, seal-key and recovery-key files). V8's JSON.parse error quotes the text around the fault, and
// the connector's errors go to stderr, so to the journal: a broken file must be named, never quoted.
import { readFile } from "node:fs/promises";

/** `text` parsed, or an error that names `path` only. */
export function parseSecretJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
}

/** The file at `path`, parsed (its read errors are Node's, which name the path, not the contents). */
export async function readSecretJson(path: string): Promise<unknown> {
  return parseSecretJson(await readFile(path, "utf8"), path);
}
