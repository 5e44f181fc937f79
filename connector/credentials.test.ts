// The sealed provider checks the master password before it releases anything: the browser's sealed copy
// against the verifier the edge sealed into the grant, both opened here only.
import { describe, expect, it } from "vitest";
import type { GrantClaims } from "../protocol/index.ts";
import { masterPasswordVerifier } from "../protocol/master-password.ts";
import { CredentialUnavailable, MasterPasswordRefused, SealedProvider } from "./credentials.ts";
import { generateSealKey, publicJwk } from "./keys.ts";
import { sealSecret } from "./seal.ts";
import { setupFailureReason } from "./session-hooks.ts";

async function grantWith(cred: Partial<GrantClaims["cred"]>, site: Awaited<ReturnType<typeof generateSealKey>>) {
  return {
    cred: {
      id: "c",
      username: "root",
      kind: "password",
      sealed: await sealSecret(publicJwk(site), "target-secret"),
      ...cred,
    },
  } as GrantClaims;
}

describe("master password at the connector", () => {
  it("releases the credential only for the password the verifier was made from", async () => {
    const site = await generateSealKey();
    const provider = new SealedProvider(() => site);
    const mpv = await sealSecret(publicJwk(site), await masterPasswordVerifier("the-right-master-1", 100_000));
    const release = (mp?: string) =>
      grantWith({ ...(mp ? { mp } : {}), mpv }, site).then((grant) =>
        provider.release({ sessionId: "s", grant, terminate: () => {} }),
      );
    const ok = await release(await sealSecret(publicJwk(site), "the-right-master-1"));
    expect(ok.secret.toString()).toBe("target-secret");
    const wrong = await release(await sealSecret(publicJwk(site), "the-wrong-master")).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(MasterPasswordRefused);
    expect(setupFailureReason(wrong)).toBe("master_password_wrong");
    await expect(release()).rejects.toBeInstanceOf(MasterPasswordRefused);
    // Sealed to another site's key: it does not open here.
    const other = await generateSealKey();
    await expect(release(await sealSecret(publicJwk(other), "the-right-master-1"))).rejects.toBeInstanceOf(
      CredentialUnavailable,
    );
  });

  it("asks nothing when the grant carries no verifier (the policy does not ask for it)", async () => {
    const site = await generateSealKey();
    const grant = await grantWith({}, site);
    const released = await new SealedProvider(() => site).release({ sessionId: "s", grant, terminate: () => {} });
    expect(released.secret.toString()).toBe("target-secret");
  });
});
