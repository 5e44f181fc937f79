import { describe, expect, it } from "vitest";
import { waitFor } from "./process.ts";

describe("waitFor", () => {
  it("returns the first answer a probe gives", async () => {
    let calls = 0;
    await expect(waitFor("three calls", async () => (++calls === 3 ? "ready" : undefined), 5_000)).resolves.toBe(
      "ready",
    );
    expect(calls).toBe(3);
  });

  it("fails at its deadline even when a probe never settles, naming what it waited for", async () => {
    const started = Date.now();
    await expect(waitFor("a held request", () => new Promise<never>(() => {}), 300)).rejects.toThrow(
      "timed out waiting for a held request: the last probe did not answer",
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("says what the last failing probe said", async () => {
    await expect(
      waitFor(
        "a refused port",
        async () => {
          throw new Error("ECONNREFUSED");
        },
        250,
      ),
    ).rejects.toThrow("timed out waiting for a refused port: ECONNREFUSED");
  });
});
