// VMware vCenter discovery over its REST API (/api, vSphere 7.0 U2+): a session from Basic auth,
// powered-on VMs listed host by host (the VM list has no cursor and refuses more than 4,000 results,
// so each host is one page), and each VM's guest identity (host name, IP, OS) from VMware Tools.
import { z } from "zod";
import type { DiscoveredServerReport } from "../../protocol/index.ts";
import { CloudApiError, getJson } from "./arm-fetch.ts";
import type { VcenterSourceConfig } from "./config.ts";

const Hosts = z.array(z.object({ host: z.string(), name: z.string() }));
const Vms = z.array(z.object({ vm: z.string(), name: z.string(), power_state: z.string() }));
const GuestIdentity = z.object({
  host_name: z.string().optional(),
  ip_address: z.string().optional(),
  full_name: z.object({ default_message: z.string() }).optional(),
});

export async function discoverVcenter(config: VcenterSourceConfig): Promise<DiscoveredServerReport[]> {
  const base = new URL(config.url);
  const login = await fetch(new URL("/api/session", base), {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`).toString("base64")}` },
    signal: AbortSignal.timeout(30_000),
  }).catch((err: Error) => {
    throw new CloudApiError(`vCenter unreachable: ${err.name}`);
  });
  if (!login.ok) throw new CloudApiError(`vCenter login answered HTTP ${login.status}`);
  const session = z
    .string()
    .min(1)
    .safeParse(await login.json().catch(() => undefined));
  if (!session.success) throw new CloudApiError("vCenter login answer is not a session id");
  const opts = { origin: base.origin, headers: async () => ({ "vmware-api-session-id": session.data }) };
  try {
    const found: DiscoveredServerReport[] = [];
    const hosts = await getJson(new URL("/api/vcenter/host", base).href, Hosts, opts);
    for (const h of hosts) {
      const vms = await getJson(
        new URL(`/api/vcenter/vm?hosts=${encodeURIComponent(h.host)}&power_states=POWERED_ON`, base).href,
        Vms,
        opts,
      );
      for (const vm of vms) {
        // No VMware Tools, no guest identity (vCenter answers 503): such a VM has no address to report.
        const guest = await getJson(
          new URL(`/api/vcenter/vm/${encodeURIComponent(vm.vm)}/guest/identity`, base).href,
          GuestIdentity,
          opts,
        ).catch(() => undefined);
        if (!guest?.ip_address) continue;
        found.push({
          source: "vcenter",
          sourceId: `${base.host}/${vm.vm}`,
          name: (guest.host_name || vm.name).slice(0, 253),
          host: guest.ip_address,
          port: config.sshPort,
          ...(guest.full_name ? { os: guest.full_name.default_message.slice(0, 128) } : {}),
        });
      }
    }
    return found;
  } finally {
    await fetch(new URL("/api/session", base), {
      method: "DELETE",
      headers: { "vmware-api-session-id": session.data },
    }).catch(() => {});
  }
}
