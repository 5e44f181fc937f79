// vCenter discovery against a fake vCenter REST API (test/fakes/vcenter.ts): host-by-host paging,
// powered-on VMs with VMware Tools only, throttling waited out, the session logged out after.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeVcenter } from "../../test/fakes/vcenter.ts";
import { VcenterSourceConfig } from "./config.ts";
import { discoverVcenter } from "./vcenter.ts";

let fake: FakeVcenter;
beforeEach(async () => {
  fake = await new FakeVcenter().start();
  fake.vms = [
    { vm: "vm-10", name: "db1", host: "host-1", on: true, tools: true, ip: "10.3.0.10" },
    { vm: "vm-11", name: "db2", host: "host-1", on: false, tools: true, ip: "10.3.0.11" },
    { vm: "vm-12", name: "app1", host: "host-2", on: true, tools: true, ip: "10.3.0.12" },
    { vm: "vm-13", name: "appliance", host: "host-2", on: true, tools: false, ip: "10.3.0.13" },
  ];
});
afterEach(() => fake.stop());

const config = (over: Record<string, unknown> = {}) =>
  VcenterSourceConfig.parse({ url: fake.url, username: fake.username, password: fake.password, ...over });

describe("vCenter discovery", () => {
  it("lists powered-on VMs host by host with their guest identity, then logs out", async () => {
    const found = await discoverVcenter(config());
    expect(found.map((s) => s.name)).toEqual(["db1.lab.example", "app1.lab.example"]);
    expect(found[0]).toEqual({
      source: "vcenter",
      sourceId: `${new URL(fake.url).host}/vm-10`,
      name: "db1.lab.example",
      host: "10.3.0.10",
      port: 22,
      os: "Ubuntu Linux (64-bit)",
    });
    expect(fake.loggedOut).toBe(1);
    expect(fake.sessions.size).toBe(0);
  });

  it("waits out 503 throttling", async () => {
    fake.throttleNext = 2;
    expect(await discoverVcenter(config())).toHaveLength(2);
    expect(fake.throttled).toBe(2);
  }, 30_000);

  it("fails clearly on a wrong password", async () => {
    await expect(discoverVcenter(config({ password: "wrong" }))).rejects.toThrow(/login answered HTTP 401/);
  });
});
