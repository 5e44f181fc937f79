// The end-to-end stack plus a real xrdp desktop: the stack's target account (canary password) logs
// on over RDP too, through a server entry of kind "rdp" pinned to xrdp's certificate.
import { join } from "node:path";
import { rdpUnavailable } from "../../connector/rdp/engine.ts";
import { startXrdp, type Xrdp, xrdpMissing } from "../../scripts/stack/xrdp.ts";
import { missingPeers, type Stack, startStack } from "./stack.ts";

export type RdpStack = {
  stack: Stack;
  xrdp: Xrdp;
  serverId: string;
  credentialId: string;
  logs: () => Promise<string>;
  stop: () => Promise<void>;
};

export const rdpPeersMissing = (): string | undefined => missingPeers() ?? xrdpMissing() ?? rdpUnavailable();

/** The Windows domain the RDP credential carries (xrdp ignores it; the grant and engine pass it on). */
export const RDP_TEST_DOMAIN = "PSMTEST";

/** `vars`: edge settings for wrangler dev (e.g. an S3 recording store), as startStack takes them. */
export async function startRdpStack(options: { vars?: Record<string, string> } = {}): Promise<RdpStack> {
  const stack = await startStack(options.vars ? { vars: options.vars } : {});
  let xrdp: Xrdp | undefined;
  try {
    xrdp = await startXrdp({ dir: join(stack.dir, "xrdp") });
    const server = await stack.admin.createServer({
      name: "desktop",
      host: "127.0.0.1",
      port: xrdp.port,
      zoneId: stack.zoneId,
      hostKey: xrdp.certFingerprint,
      protocol: "rdp",
    });
    const cred = await stack.admin.createCredential({
      name: "desktop password",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: stack.canary,
      serverIds: [server.id],
      domain: RDP_TEST_DOMAIN,
    });
    const started = xrdp;
    return {
      stack,
      xrdp: started,
      serverId: server.id,
      credentialId: cred.id,
      logs: async () => [await stack.logs(), await started.log()].join("\n"),
      stop: async () => {
        // The stack removes the account (and its desktop processes) before xrdp goes.
        await stack.stop();
        await started.stop();
      },
    };
  } catch (err) {
    await xrdp?.stop();
    await stack.stop();
    throw err;
  }
}
