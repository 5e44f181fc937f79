// A fake vCenter REST API (/api, vSphere 7.0 U2+ shapes) for tests: POST/DELETE /api/session,
// GET /api/vcenter/host, GET /api/vcenter/vm (hosts and power_states filters, 4,000-result cap),
// GET /api/vcenter/vm/{vm}/guest/identity (503 without VMware Tools), and 503 throttling.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeVm = { vm: string; name: string; host: string; on: boolean; tools: boolean; ip: string };

export class FakeVcenter {
  readonly username = "svc-psm@vsphere.local";
  readonly password = "fake-vcenter-password";
  hosts = ["host-1", "host-2"];
  /** Test hook: the inventory; tests change it between calls (a VM's address moves, it powers off or on). */
  vms: FakeVm[] = [];
  throttleNext = 0;
  throttled = 0;
  sessions = new Set<string>();
  loggedOut = 0;
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      const url = new URL(req.url!, this.url);
      if (url.pathname === "/api/session" && req.method === "POST") {
        const basic = Buffer.from(`${this.username}:${this.password}`).toString("base64");
        if (req.headers.authorization !== `Basic ${basic}`) return json(401, { error_type: "UNAUTHENTICATED" });
        const id = crypto.randomUUID().replace(/-/g, "");
        this.sessions.add(id);
        return json(201, id);
      }
      const sid = String(req.headers["vmware-api-session-id"] ?? "");
      if (!this.sessions.has(sid)) return json(401, { error_type: "UNAUTHENTICATED" });
      if (url.pathname === "/api/session" && req.method === "DELETE") {
        this.sessions.delete(sid);
        this.loggedOut++;
        res.writeHead(204).end();
        return;
      }
      if (this.throttleNext > 0) {
        this.throttleNext--;
        this.throttled++;
        return json(503, { error_type: "SERVICE_UNAVAILABLE" });
      }
      if (url.pathname === "/api/vcenter/host")
        return json(
          200,
          this.hosts.map((h) => ({ host: h, name: `${h}.lab`, connection_state: "CONNECTED" })),
        );
      if (url.pathname === "/api/vcenter/vm") {
        const hosts = url.searchParams.getAll("hosts");
        const on = url.searchParams.get("power_states") === "POWERED_ON";
        const list = this.vms.filter((v) => (!hosts.length || hosts.includes(v.host)) && (!on || v.on));
        if (list.length > 4000) return json(400, { error_type: "UNABLE_TO_ALLOCATE_RESOURCE" });
        return json(
          200,
          list.map((v) => ({
            vm: v.vm,
            name: v.name,
            power_state: v.on ? "POWERED_ON" : "POWERED_OFF",
            cpu_count: 2,
            memory_size_MiB: 4096,
          })),
        );
      }
      const m = url.pathname.match(/^\/api\/vcenter\/vm\/([^/]+)\/guest\/identity$/);
      const vm = m && this.vms.find((v) => v.vm === decodeURIComponent(m[1]!));
      if (vm) {
        if (!vm.tools)
          return json(503, {
            error_type: "SERVICE_UNAVAILABLE",
            messages: [{ default_message: "VMware Tools is not running" }],
          });
        return json(200, {
          name: "UBUNTU_64",
          family: "LINUX",
          full_name: { id: "x", default_message: "Ubuntu Linux (64-bit)", args: [] },
          host_name: `${vm.name}.lab.example`,
          ip_address: vm.ip,
        });
      }
      json(404, { error_type: "NOT_FOUND" });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }
}
