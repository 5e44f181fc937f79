// RDP with NLA, against a second real server: FreeRDP's shadow server (NLA only, NTLM against its SAM
// file) on Xvfb, through the whole product path: wrangler dev (edge), the real connector and its RDP
// engine, and a Node client speaking the browser's session protocol. The vaulted credential logs in
// through NLA under a policy that requires it and the desktop's frames reach the browser side; a wrong
// password ends the session as auth_failed; a certificate that does not match the pin is refused before
// any NLA message reaches the server. No canary password is in a browser-bound byte, a log line or an
// error text. (xrdp, the other RDP server the tests use, offers no NLA: test/e2e/rdp-session.test.ts.)
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rdpUnavailable } from "../../connector/rdp/engine.ts";
import { GuacParser } from "../../protocol/guacamole.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { GuacScreen } from "../support/guac-screen.ts";
import { describeWithPeers } from "../support/peers.ts";
import {
  makeCertificate,
  SHADOW_BACKGROUND,
  SHADOW_SCREEN,
  type ShadowAccount,
  type ShadowRdp,
  shadowMissing,
  startShadowRdp,
} from "../support/shadow-rdp.ts";
import { missingPeers, newCanary, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

type Status = { status: string; endReason: string | null; protocol: string };

describeWithPeers(
  "RDP with NLA against FreeRDP's shadow server",
  missingPeers() ?? rdpUnavailable() ?? shadowMissing(),
  () => {
    let stack: Stack;
    let shadow: ShadowRdp;
    let serverId: string;
    /** The vaulted account: its password is a canary that must never leave the connector. */
    const account: ShadowAccount = {
      username: `psm_nla_${randomBytes(3).toString("hex")}`,
      domain: "PSMTEST",
      password: newCanary(),
    };
    /** A wrong password, vaulted too: a canary as well. */
    const wrongPassword = newCanary();
    const canaries = [account.password, wrongPassword];
    const clients: TerminalClient[] = [];

    beforeAll(async () => {
      stack = await startStack();
      shadow = await startShadowRdp({ dir: join(stack.dir, "shadow"), accounts: [account] });
      // The zone's policy requires NLA: the engine offers nothing else.
      const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
        name: "desktops over NLA only",
        rdpRequireNla: true,
      });
      await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
      ({ id: serverId } = await stack.admin.createServer({
        name: "nla-desktop",
        host: "127.0.0.1",
        port: shadow.port,
        zoneId: stack.zoneId,
        hostKey: shadow.certFingerprint,
        protocol: "rdp",
      }));
    }, 120_000);

    afterAll(async () => {
      if (process.env.PSM_DEBUG)
        console.log(
          (await stack?.logs())
            ?.split("\n")
            .filter((l) => /"event":"(session|rdp)\./.test(l))
            .slice(-40)
            .join("\n"),
          shadow?.log().slice(-3000),
        );
      for (const client of clients) client.close();
      await shadow?.stop();
      await stack?.stop();
    });

    async function credential(name: string, password: string, servers: string[]) {
      const { id } = await stack.admin.createCredential({
        name,
        username: account.username,
        domain: account.domain,
        kind: "password",
        zoneId: stack.zoneId,
        secret: password,
        serverIds: servers,
      });
      return id;
    }

    /** Opens a session as the user, with a browser-side client on its socket drawing the desktop. */
    async function open(server: string, credentialId: string) {
      const { id } = await stack.user.openSession(server, credentialId);
      const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      clients.push(client);
      const screen = new GuacScreen(() => {}); // the connector acknowledges frames, not the page
      const parser = new GuacParser();
      const text = new TextDecoder();
      client.onData = (payload) => {
        for (const ins of parser.push(text.decode(payload, { stream: true }))) screen.apply(ins);
      };
      return { id, client, screen };
    }

    const status = (id: string) => stack.user.request<Status>("GET", `/api/sessions/${id}`);

    async function ended(id: string): Promise<Status> {
      return waitFor(
        `session ${id} to end`,
        async () => {
          const s = await status(id);
          return s.status === "ended" ? s : undefined;
        },
        60_000,
      );
    }

    /** No canary in anything the browser side received (socket and API), nor in any log line. */
    async function expectNoCanary(client?: TerminalClient) {
      const browserBound = [...(client?.received ?? []).map((b) => b.toString("latin1")), ...stack.user.responses];
      const logs = [await stack.logs(), shadow.log()].join("\n");
      for (const canary of canaries) {
        expect(browserBound.join("\n")).not.toContain(canary);
        expect(logs).not.toContain(canary);
      }
    }

    it("logs in through NLA with the vaulted credential; the desktop's frames reach the browser side", async () => {
      const credentialId = await credential("nla password", account.password, [serverId]);
      const handshakesBefore = shadow.nlaHandshakes();
      const opened = Date.now();
      const { id, client, screen } = await open(serverId, credentialId);
      await client.waitForState("connected", 60_000);
      expect((await status(id)).protocol).toBe("rdp");
      // The shadowed display, at the server's size, in its known colour: the desktop itself, not a login screen.
      const background = await waitFor(
        "the shadowed desktop's colour in a frame",
        async () => {
          const p = screen.pixel(SHADOW_SCREEN.width - 10, SHADOW_SCREEN.height - 10);
          const { r, g, b } = SHADOW_BACKGROUND;
          return p && Math.abs(p.r - r) + Math.abs(p.g - g) + Math.abs(p.b - b) < 6 ? p : undefined;
        },
        60_000,
      );
      expect(background).toBeDefined();
      expect([screen.width, screen.height]).toEqual([SHADOW_SCREEN.width, SHADOW_SCREEN.height]);
      console.info(`NLA desktop: first frame with the desktop ${Date.now() - opened} ms after the session was opened`);
      // The server took the logon over CredSSP (it offers nothing else).
      expect(shadow.nlaHandshakes()).toBeGreaterThan(handshakesBefore);

      // The page's Disconnect: the engine ends the RDP connection and the session ends.
      client.type("10.disconnect;");
      await ended(id);
      await expectNoCanary(client);
    }, 120_000);

    it("ends with auth_failed when the server refuses the password during NLA", async () => {
      const credentialId = await credential("nla wrong password", wrongPassword, [serverId]);
      const handshakesBefore = shadow.nlaHandshakes();
      const { id, client } = await open(serverId, credentialId);
      const session = await ended(id);
      expect(session.endReason).toBe("auth_failed");
      expect(await client.waitForEnd(15_000)).toBe("auth_failed");
      // The server saw the NLA attempt (and refused it). FreeRDP 2 retries once when the server drops the
      // connection without an NLA error code, as this server does (docs/rdp.md, NLA).
      const attempts = shadow.nlaHandshakes() - handshakesBefore;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(2);
      await expectNoCanary(client);
    }, 120_000);

    it("refuses a server whose certificate does not match the pin, before any NLA message", async () => {
      // The entry pins another real certificate (as if the server's had been replaced since it was pinned).
      const otherPin = makeCertificate(join(stack.dir, "other.crt"), join(stack.dir, "other.key"), "psm-other");
      expect(otherPin).not.toBe(shadow.certFingerprint);
      const { id: pinnedElsewhere } = await stack.admin.createServer({
        name: "nla-desktop-old-pin",
        host: "127.0.0.1",
        port: shadow.port,
        zoneId: stack.zoneId,
        hostKey: otherPin,
        protocol: "rdp",
      });
      const credentialId = await credential("nla password, old pin", account.password, [pinnedElsewhere]);
      const handshakesBefore = shadow.nlaHandshakes();
      const { id, client, screen } = await open(pinnedElsewhere, credentialId);
      expect((await ended(id)).endReason).toBe("host_key_mismatch");
      expect(await client.waitForEnd(15_000)).toBe("host_key_mismatch");
      expect(screen.frames).toBe(0);
      // Refused during TLS: no NTLM message, so nothing derived from the password, reached the server.
      await new Promise((r) => setTimeout(r, 1000));
      expect(shadow.nlaHandshakes()).toBe(handshakesBefore);
      // The connector's log names the fingerprint it saw (public), which is what an admin re-pins to.
      expect(await stack.logs()).toContain(shadow.certFingerprint);
      await expectNoCanary(client);
    }, 120_000);
  },
);
