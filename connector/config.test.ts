// The connector's secret-bearing JSON files (config.json, connector.json with its private keys, seal-key files) as
// the connector reads them: what an invalid file's error says, and what it must not.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_FILE, loadConfig } from "./config.ts";
import { readSecretJson } from "./json-file.ts";
import { loadState } from "./state.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "psm-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "eid-client-secret-5f3a9c0d7e21";

describe("config.json", () => {
  it.each([
    ["a quote inside the secret left unescaped", `"${SECRET.slice(0, 10)}"${SECRET.slice(10)}"`],
    ["the secret left unquoted", SECRET],
  ])(
    "attack: a config.json broken near the EmpowerID client secret (%s) — guarantee: the error (stderr, the journal) quotes none of it",
    async (_name, value) => {
      writeFileSync(
        join(dir, CONFIG_FILE),
        `{"credentialProvider":"empowerid","empowerid":{"baseUrl":"https://eid.example.com","clientId":"psm","clientSecret":${value}}}`,
      );
      const err = (await loadConfig(dir).catch((e) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toContain(join(dir, CONFIG_FILE));
      expect(err.message).toContain("not valid JSON");
      for (let i = 0; i + 4 <= SECRET.length; i++) expect(err.message).not.toContain(SECRET.slice(i, i + 4));
    },
  );

  it("an invalid setting names the field, not its value", async () => {
    writeFileSync(
      join(dir, CONFIG_FILE),
      JSON.stringify({ empowerid: { baseUrl: "https://eid.example.com", clientId: "psm", clientSecret: 42 } }),
    );
    const err = (await loadConfig(dir).catch((e) => e)) as Error;
    expect(err.message).toContain("empowerid.clientSecret");
  });

  it("attack: a connector.json broken next to its private key — guarantee: the error quotes none of the key", async () => {
    const d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    writeFileSync(join(dir, "connector.json"), `{"identityKey":{"kty":"OKP","crv":"Ed25519","d":"${d}",}}`);
    const err = (await loadState(dir).catch((e) => e)) as Error;
    expect(err.message).toContain("not valid JSON");
    for (let i = 0; i + 4 <= d.length; i++) expect(err.message).not.toContain(d.slice(i, i + 4));
    // A seal-key or recovery-key file handed to the CLI, the same way.
    writeFileSync(join(dir, "seal.json"), `{"kty":"EC","d":${d}}`);
    const keyErr = (await readSecretJson(join(dir, "seal.json")).catch((e) => e)) as Error;
    expect(keyErr.message).toBe(`${join(dir, "seal.json")} is not valid JSON`);
  });
});
