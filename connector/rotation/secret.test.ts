import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generatePassword, generateSshKey, publicBlob } from "./secret.ts";

describe("new secrets", () => {
  it("passwords are long, mixed and free of characters chpasswd or a prompt would mangle", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(28);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[-_.+=@%#]/);
      expect(p).not.toMatch(/[:\s'"\\$`]/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });

  it("keys are Ed25519 in OpenSSH format that ssh2 loads, with their authorized_keys line", () => {
    const key = generateSshKey();
    const parsed = ssh2.utils.parseKey(key.privateKey);
    expect(parsed instanceof Error).toBe(false);
    expect(key.publicLine.startsWith(`ssh-ed25519 ${key.blob} `)).toBe(true);
    expect(publicBlob(key.privateKey)).toBe(key.blob);
  });
});
