// Azure discovery against a fake ARM + Entra ID (test/fakes/azure.ts): every page via nextLink,
// the primary NIC's private address, 429s waited out, links off the management origin refused.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeAzure } from "../../test/fakes/azure.ts";
import { discoverAzure } from "./azure.ts";
import { AzureSourceConfig } from "./config.ts";

let fake: FakeAzure;
beforeEach(async () => {
  fake = await new FakeAzure().start();
});
afterEach(() => fake.stop());

const config = (over: Record<string, unknown> = {}) =>
  AzureSourceConfig.parse({
    tenantId: fake.tenantId,
    clientId: fake.clientId,
    clientSecret: fake.clientSecret,
    subscriptionIds: [fake.subscriptionId],
    authorityUrl: fake.url,
    managementUrl: fake.url,
    ...over,
  });

describe("Azure discovery", () => {
  it("lists every VM across pages with its primary private address", async () => {
    const found = await discoverAzure(config());
    expect(found).toHaveLength(5);
    expect(found[1]).toEqual({
      source: "azure",
      sourceId: "/subscriptions/sub-1/resourceGroups/rg-ops/providers/Microsoft.Compute/virtualMachines/vm-1",
      name: "host-1",
      host: "10.2.0.5",
      port: 22,
      os: "Windows",
    });
    expect(fake.calls.filter((c) => c.includes("virtualMachines")).length).toBe(3);
  });

  it("waits out throttling (429 Retry-After)", async () => {
    fake.throttleNext = 3;
    expect(await discoverAzure(config())).toHaveLength(5);
    expect(fake.throttled).toBe(3);
  });

  it("refuses a nextLink off the management origin (the token stays home)", async () => {
    fake.foreignNextLink = true;
    await expect(discoverAzure(config())).rejects.toThrow(/refusing to follow a link off/);
  });

  it("fails clearly with a wrong client secret", async () => {
    await expect(discoverAzure(config({ clientSecret: "nope" }))).rejects.toThrow(/HTTP 401/);
  });
});
