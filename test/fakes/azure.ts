// A fake Azure for tests: Entra ID's v2 token endpoint (client credentials in the form body) and
// the Resource Manager shapes for Virtual Machines - List (value + nextLink) and Network
// Interfaces - Get, with throttling answered as ARM does (429 + Retry-After). VM i is vm-<i>, named host-<i>, with
// one NIC (nic-<i>) at 10.2.0.<i+4>; tests move and delete VMs through `addresses` and `deleted` between calls.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class FakeAzure {
  readonly tenantId = "00000000-0000-0000-0000-0000000000aa";
  readonly clientId = "11111111-2222-3333-4444-555555555555";
  readonly clientSecret = "fake-azure-secret";
  readonly subscriptionId = "sub-1";
  /** VMs 0 .. vms-1 exist (less those in `deleted`). */
  vms = 5;
  /** Test hook: a VM's primary private address, by index, instead of 10.2.0.<i+4> (the host moved). */
  readonly addresses = new Map<number, string>();
  /** Test hook: VMs deleted from the subscription, by index: out of the list, their NIC a 404. */
  readonly deleted = new Set<number>();
  pageSize = 2;
  throttleNext = 0;
  throttled = 0;
  /** A nextLink pointing off the management origin (a hostile or broken answer). */
  foreignNextLink = false;
  readonly calls: string[] = [];
  private token = "";
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => this.handle(req.method!, req.url!, req.headers, Buffer.concat(chunks).toString(), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }

  private handle(
    method: string,
    rawUrl: string,
    headers: Record<string, string | string[] | undefined>,
    body: string,
    res: import("node:http").ServerResponse,
  ): unknown {
    const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...extra });
      res.end(JSON.stringify(value));
    };
    const url = new URL(rawUrl, this.url);
    if (method === "POST" && url.pathname === `/${this.tenantId}/oauth2/v2.0/token`) {
      const form = new URLSearchParams(body);
      if (form.get("client_id") !== this.clientId || form.get("client_secret") !== this.clientSecret) {
        return json(401, { error: "invalid_client" });
      }
      if (form.get("scope") !== `${this.url}/.default`) return json(400, { error: "invalid_scope" });
      this.token = crypto.randomUUID();
      return json(200, { token_type: "Bearer", expires_in: 3599, access_token: this.token });
    }
    if (headers.authorization !== `Bearer ${this.token}`)
      return json(401, { error: { code: "InvalidAuthenticationToken" } });
    this.calls.push(url.pathname + url.search);
    if (this.throttleNext > 0) {
      this.throttleNext--;
      this.throttled++;
      return json(429, { error: { code: "TooManyRequests", message: "throttled" } }, { "retry-after": "0" });
    }
    const base = `/subscriptions/${this.subscriptionId}`;
    if (url.pathname === `${base}/providers/Microsoft.Compute/virtualMachines`) {
      if (url.searchParams.get("api-version") !== "2024-07-01")
        return json(400, { error: { code: "InvalidApiVersionParameter" } });
      const skip = Number(url.searchParams.get("$skiptoken") ?? 0);
      const present = Array.from({ length: this.vms }, (_, i) => i).filter((i) => !this.deleted.has(i));
      const value = present.slice(skip, skip + this.pageSize).map((i) => this.vm(i));
      const more = skip + this.pageSize < present.length;
      const nextLink = this.foreignNextLink
        ? "http://attacker.invalid/steal"
        : `${this.url}${url.pathname}?api-version=2024-07-01&$skiptoken=${skip + this.pageSize}`;
      return json(200, more ? { value, nextLink } : { value });
    }
    const nic = url.pathname.match(/\/networkInterfaces\/nic-(\d+)$/);
    if (nic && Number(nic[1]) < this.vms && !this.deleted.has(Number(nic[1]))) {
      return json(200, {
        name: `nic-${nic[1]}`,
        properties: {
          ipConfigurations: [
            {
              name: "ipconfig1",
              properties: {
                privateIPAddress: this.addresses.get(Number(nic[1])) ?? `10.2.0.${Number(nic[1]) + 4}`,
                primary: true,
              },
            },
          ],
        },
      });
    }
    json(404, { error: { code: "ResourceNotFound" } });
  }

  private vm(i: number) {
    const rg = `/subscriptions/${this.subscriptionId}/resourceGroups/rg-ops`;
    return {
      id: `${rg}/providers/Microsoft.Compute/virtualMachines/vm-${i}`,
      name: `vm-${i}`,
      location: "westeurope",
      properties: {
        vmId: crypto.randomUUID(),
        storageProfile: { osDisk: { osType: i % 2 ? "Windows" : "Linux" } },
        osProfile: { computerName: `host-${i}` },
        networkProfile: {
          networkInterfaces: [
            { id: `${rg}/providers/Microsoft.Network/networkInterfaces/nic-${i}`, properties: { primary: true } },
          ],
        },
      },
    };
  }
}
