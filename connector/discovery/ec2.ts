// AWS EC2 discovery with @aws-sdk/client-ec2: running instances of each configured region, every
// page (DescribeInstances NextToken), with the SDK's retry strategy absorbing throttling
// (RequestLimitExceeded). AWS credentials come from config.json or the SDK's default chain.
import { EC2Client, type Instance, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import type { DiscoveredServerReport } from "../../protocol/index.ts";
import type { Ec2SourceConfig } from "./config.ts";

/** Instances per DescribeInstances page: 1,000 (the API's maximum). */
const PAGE_SIZE = 1000;

export function instanceToServer(
  region: string,
  i: Instance,
  config: Pick<Ec2SourceConfig, "address" | "sshPort">,
): DiscoveredServerReport | undefined {
  const host = config.address === "public" ? i.PublicIpAddress : i.PrivateIpAddress;
  if (!i.InstanceId || !host) return undefined;
  const name = i.Tags?.find((t) => t.Key === "Name")?.Value || i.InstanceId;
  const os = i.PlatformDetails ?? i.Platform;
  return {
    source: "ec2",
    sourceId: `${region}/${i.InstanceId}`,
    name: name.slice(0, 253),
    host,
    port: config.sshPort,
    ...(os ? { os: String(os).slice(0, 128) } : {}),
  };
}

export async function discoverEc2(config: Ec2SourceConfig): Promise<DiscoveredServerReport[]> {
  const found: DiscoveredServerReport[] = [];
  for (const region of config.regions) {
    const client = new EC2Client({
      region,
      maxAttempts: config.maxAttempts,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
    });
    try {
      const pages = paginateDescribeInstances(
        { client, pageSize: PAGE_SIZE },
        { Filters: [{ Name: "instance-state-name", Values: ["running"] }] },
      );
      for await (const page of pages) {
        for (const r of page.Reservations ?? []) {
          for (const i of r.Instances ?? []) {
            const server = instanceToServer(region, i, config);
            if (server) found.push(server);
          }
        }
      }
    } finally {
      client.destroy();
    }
  }
  return found;
}
