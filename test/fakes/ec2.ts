// A fake EC2 query API for tests: DescribeInstances with the published XML shape
// (reservationSet/instancesSet/tagSet, nextToken pagination, the instance-state-name filter) and
// throttling answered as AWS does (HTTP 503, RequestLimitExceeded). Requests must carry SigV4 for
// the configured key id. AWS cannot run here; this follows its documented responses.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeInstance = {
  id: string;
  name?: string;
  privateIp: string;
  publicIp?: string;
  state: "running" | "stopped";
  platform: string;
};

export class FakeEc2 {
  readonly accessKeyId = "AKIAFAKEFAKEFAKE0001";
  readonly secretAccessKey = "fake/secret/key/for/tests/only/000000000";
  /** Test hook: what DescribeInstances answers from; tests change it between calls (a host moves, stops, starts). */
  instances: FakeInstance[] = [];
  /** The next this-many requests are throttled. */
  throttleNext = 0;
  pageSize = 0; // 0: honour MaxResults
  requests: URLSearchParams[] = [];
  throttled = 0;
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        const xml = (status: number, body: string) => {
          res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
          res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
        };
        if (!String(req.headers.authorization ?? "").startsWith(`AWS4-HMAC-SHA256 Credential=${this.accessKeyId}/`)) {
          return xml(401, error("AuthFailure", "AWS was not able to validate the provided access credentials"));
        }
        if (this.throttleNext > 0) {
          this.throttleNext--;
          this.throttled++;
          return xml(503, error("RequestLimitExceeded", "Request limit exceeded."));
        }
        if (form.get("Action") !== "DescribeInstances") return xml(400, error("InvalidAction", "unsupported"));
        this.requests.push(form);
        xml(200, this.describe(form));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }

  private describe(form: URLSearchParams): string {
    let states: string[] | undefined;
    for (let n = 1; form.has(`Filter.${n}.Name`); n++) {
      if (form.get(`Filter.${n}.Name`) === "instance-state-name") {
        states = [];
        for (let v = 1; form.has(`Filter.${n}.Value.${v}`); v++) states.push(form.get(`Filter.${n}.Value.${v}`)!);
      }
    }
    const matching = this.instances.filter((i) => !states || states.includes(i.state));
    const size = this.pageSize || Number(form.get("MaxResults") ?? 1000);
    const start = Number(form.get("NextToken") ?? 0);
    const page = matching.slice(start, start + size);
    const next = start + size < matching.length ? `<nextToken>${start + size}</nextToken>` : "";
    // One reservation per two instances, as launches group them.
    const reservations: FakeInstance[][] = [];
    for (let i = 0; i < page.length; i += 2) reservations.push(page.slice(i, i + 2));
    return `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>${crypto.randomUUID()}</requestId>
  <reservationSet>${reservations
    .map(
      (r, k) =>
        `<item><reservationId>r-${start + k}</reservationId><ownerId>123456789012</ownerId><instancesSet>${r
          .map(
            (i) =>
              `<item><instanceId>${i.id}</instanceId><instanceState><code>${i.state === "running" ? 16 : 80}</code><name>${i.state}</name></instanceState><privateIpAddress>${i.privateIp}</privateIpAddress>${i.publicIp ? `<ipAddress>${i.publicIp}</ipAddress>` : ""}<platformDetails>${i.platform}</platformDetails><tagSet>${i.name ? `<item><key>Name</key><value>${i.name}</value></item>` : ""}<item><key>team</key><value>ops</value></item></tagSet></item>`,
          )
          .join("")}</instancesSet></item>`,
    )
    .join("")}</reservationSet>
  ${next}
</DescribeInstancesResponse>`;
  }
}

function error(code: string, message: string): string {
  return `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${crypto.randomUUID()}</RequestID></Response>`;
}
