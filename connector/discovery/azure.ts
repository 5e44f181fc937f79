// Azure discovery over the Resource Manager REST API: virtual machines of each subscription
// (following nextLink), each VM's primary NIC for its private address. Authenticates as an Entra ID
// application (client credentials, scope https://management.azure.com/.default).
import { z } from "zod";
import type { DiscoveredServerReport } from "../../protocol/index.ts";
import { ClientCredentials } from "../oauth-client.ts";
import { getJson } from "./arm-fetch.ts";
import type { AzureSourceConfig } from "./config.ts";

const Vm = z.object({
  id: z.string(),
  name: z.string(),
  properties: z.object({
    vmId: z.string().optional(),
    storageProfile: z.object({ osDisk: z.object({ osType: z.string().optional() }).optional() }).optional(),
    osProfile: z.object({ computerName: z.string().optional() }).optional(),
    networkProfile: z
      .object({
        networkInterfaces: z
          .array(z.object({ id: z.string(), properties: z.object({ primary: z.boolean().optional() }).optional() }))
          .default([]),
      })
      .optional(),
  }),
});
const VmList = z.object({ value: z.array(Vm), nextLink: z.string().optional() });
const Nic = z.object({
  properties: z.object({
    ipConfigurations: z.array(
      z.object({
        properties: z.object({ privateIPAddress: z.string().optional(), primary: z.boolean().optional() }),
      }),
    ),
  }),
});

export async function discoverAzure(config: AzureSourceConfig): Promise<DiscoveredServerReport[]> {
  const oauth = new ClientCredentials({
    tokenUrl: new URL(`/${encodeURIComponent(config.tenantId)}/oauth2/v2.0/token`, config.authorityUrl).href,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scope: new URL("/.default", config.managementUrl).href,
    clientAuth: "post",
    timeoutMs: 30_000,
  });
  const opts = {
    origin: config.managementUrl,
    headers: async () => ({ authorization: `Bearer ${await oauth.accessToken()}` }),
  };
  const found: DiscoveredServerReport[] = [];
  for (const sub of config.subscriptionIds) {
    let url: string | undefined = new URL(
      `/subscriptions/${encodeURIComponent(sub)}/providers/Microsoft.Compute/virtualMachines?api-version=${config.apiVersion}`,
      config.managementUrl,
    ).href;
    while (url) {
      const page: z.infer<typeof VmList> = await getJson(url, VmList, opts);
      for (const vm of page.value) {
        const nics = vm.properties.networkProfile?.networkInterfaces ?? [];
        const nicRef = nics.find((n) => n.properties?.primary) ?? nics[0];
        if (!nicRef) continue;
        const nic = await getJson(
          new URL(`${nicRef.id}?api-version=${config.networkApiVersion}`, config.managementUrl).href,
          Nic,
          opts,
        );
        const ipc = nic.properties.ipConfigurations;
        const ip = (ipc.find((c) => c.properties.primary) ?? ipc[0])?.properties.privateIPAddress;
        if (!ip) continue;
        const os = vm.properties.storageProfile?.osDisk?.osType;
        found.push({
          source: "azure",
          sourceId: vm.id.slice(0, 512),
          name: (vm.properties.osProfile?.computerName ?? vm.name).slice(0, 253),
          host: ip,
          port: config.sshPort,
          ...(os ? { os } : {}),
        });
      }
      url = page.nextLink;
    }
  }
  return found;
}
