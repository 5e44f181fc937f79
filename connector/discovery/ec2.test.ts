// EC2 discovery against a fake EC2 query API (test/fakes/ec2.ts): every page, only running
// instances, names from the Name tag, throttling retried by the SDK, bad keys a clear failure.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeEc2 } from "../../test/fakes/ec2.ts";
import { Ec2SourceConfig } from "./config.ts";
import { discoverEc2 } from "./ec2.ts";

let fake: FakeEc2;
beforeEach(async () => {
  fake = await new FakeEc2().start();
  fake.instances = Array.from({ length: 7 }, (_, i) => ({
    id: `i-0${i}abcdef`,
    ...(i === 3 ? {} : { name: `app-${i}` }),
    privateIp: `10.1.0.${i + 10}`,
    publicIp: `198.51.100.${i + 10}`,
    state: i === 5 ? ("stopped" as const) : ("running" as const),
    platform: "Linux/UNIX",
  }));
  fake.pageSize = 2;
});
afterEach(() => fake.stop());

const config = (over: Record<string, unknown> = {}) =>
  Ec2SourceConfig.parse({
    regions: ["eu-west-1"],
    endpoint: fake.url,
    accessKeyId: fake.accessKeyId,
    secretAccessKey: fake.secretAccessKey,
    ...over,
  });

describe("EC2 discovery", () => {
  it("reads every page and keeps running instances with their private address", async () => {
    const found = await discoverEc2(config());
    expect(fake.requests.length).toBe(3); // 6 running, 2 a page
    expect(fake.requests[0]!.get("Filter.1.Name")).toBe("instance-state-name");
    expect(fake.requests[1]!.get("NextToken")).toBe("2");
    expect(found).toHaveLength(6);
    expect(found[0]).toEqual({
      source: "ec2",
      sourceId: "eu-west-1/i-00abcdef",
      name: "app-0",
      host: "10.1.0.10",
      port: 22,
      os: "Linux/UNIX",
    });
    expect(found.find((s) => s.sourceId.endsWith("i-03abcdef"))!.name).toBe("i-03abcdef");
    expect(found.some((s) => s.sourceId.endsWith("i-05abcdef"))).toBe(false);
  });

  it("uses the public address when asked", async () => {
    expect((await discoverEc2(config({ address: "public" })))[0]!.host).toBe("198.51.100.10");
  });

  it("rides out throttling (RequestLimitExceeded) with the SDK's retries", async () => {
    fake.throttleNext = 2;
    expect(await discoverEc2(config())).toHaveLength(6);
    expect(fake.throttled).toBe(2);
  }, 30_000);

  it("gives up after maxAttempts and says why", async () => {
    fake.throttleNext = 100;
    await expect(discoverEc2(config({ maxAttempts: 2 }))).rejects.toThrow(/Request limit exceeded/);
  }, 30_000);

  it("fails clearly with keys AWS does not know", async () => {
    await expect(discoverEc2(config({ accessKeyId: "AKIAWRONGWRONGWRONG0" }))).rejects.toThrow(/validate/);
  });
});
