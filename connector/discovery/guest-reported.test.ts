// Found by a red-team review (2026-12-06): what one discovered guest says cannot stop a whole site's discovery. vCenter's guest identity
// (host name, IP address) is what VMware Tools inside the guest reports, so whoever is root in one VM chooses it.
// Attack: one VM reports an address the edge's report schema refuses. The connector sends every source's hosts in
// chunks of 1,000 and the edge takes a chunk whole or not at all (InventoryReport, 400): every host of the site
// stops being seen, and after the site's retire days the sweep retires every enabled discovered server of every
// source and revokes what stands on them. Guarantee: a host the edge would refuse is dropped (and counted in the
// log) by the connector; the others are still reported.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InventoryReport, type DiscoveredServerReport } from "../../protocol/index.ts";
import { FakeVcenter } from "../../test/fakes/vcenter.ts";
import { DiscoveryConfig } from "./config.ts";
import { discoverOnce } from "./runner.ts";

let fake: FakeVcenter;
beforeEach(async () => {
  fake = await new FakeVcenter().start();
  fake.vms = [
    { vm: "vm-10", name: "db1", host: "host-1", on: true, tools: true, ip: "10.3.0.10" },
    { vm: "vm-12", name: "app1", host: "host-2", on: true, tools: true, ip: "10.3.0.12" },
    // Root in this guest made VMware Tools report this as its address.
    { vm: "vm-66", name: "tenant", host: "host-2", on: true, tools: true, ip: "10.3.0.66 evil" },
  ];
});
afterEach(() => fake.stop());

describe("discovery with one hostile guest", () => {
  it("still reports every other host in a form the edge accepts", async () => {
    const accepted: DiscoveredServerReport[] = [];
    const logged: string[] = [];
    const config = DiscoveryConfig.parse({
      vcenter: [{ url: fake.url, username: fake.username, password: fake.password }],
      keyscan: false,
      rdpProbe: false,
    });
    await discoverOnce(config, {
      allowed: [],
      log: (event, fields) => logged.push(`${event} ${JSON.stringify(fields ?? {})}`),
      // The edge's check of POST /connector/inventory: the whole chunk, or a 400 and nothing taken.
      report: async (servers) => {
        const parsed = InventoryReport.safeParse({ servers });
        if (!parsed.success) throw new Error("the edge refused the inventory report (HTTP 400)");
        accepted.push(...parsed.data.servers);
      },
    }).catch(() => undefined);
    expect(accepted.map((s) => s.host).sort()).toEqual(["10.3.0.10", "10.3.0.12"]);
    expect(logged).toContain('discovery.source_done {"source":"vcenter[0]","found":3,"dropped":1}');
  });
});
