import { describe, expect, it } from "vitest";
import { generateSealKey, publicJwk } from "./keys.ts";
import { backupSealKey, generateRecoveryKey, restoreSealKey } from "./seal-backup.ts";

describe("seal key backup", () => {
  it("round-trips through the recovery key and nothing else", async () => {
    const sealKey = await generateSealKey();
    const recovery = await generateRecoveryKey();
    const backup = await backupSealKey({ siteId: "s", sealKey }, recovery.publicKey);
    expect(JSON.stringify(backup)).not.toContain(String(sealKey.d));
    expect(await restoreSealKey(backup, recovery.privateKey)).toEqual(sealKey);
    await expect(restoreSealKey(backup, (await generateRecoveryKey()).privateKey)).rejects.toThrow(
      /another recovery key/,
    );
  });

  it("refuses a backup whose key is not the site key it names, and a private recovery key given to backup", async () => {
    const recovery = await generateRecoveryKey();
    const backup = await backupSealKey({ siteId: "s", sealKey: await generateSealKey() }, recovery.publicKey);
    const swapped = { ...backup, sealPublicKey: publicJwk(await generateSealKey()) };
    await expect(restoreSealKey(swapped, recovery.privateKey)).rejects.toThrow(/site's key/);
    await expect(backupSealKey({ siteId: "s", sealKey: await generateSealKey() }, recovery.privateKey)).rejects.toThrow(
      /public half/,
    );
  });
});
