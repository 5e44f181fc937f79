// The embedded SSH demo target: real shell on a real pty, resizes, exit status, and key-only auth.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2, { type ClientChannel } from "ssh2";
import { describe, expect, it } from "vitest";
import { hostKeyFingerprint } from "../../connector/host-key.ts";
import { ed25519KeyPair } from "../../connector/rotation/secret.ts";
import { type EmbeddedTarget, startEmbeddedTarget } from "./embedded-target.ts";

const { Client } = ssh2;
const USER = "demo";

/** A client key pair ssh2 can parse. */
function keyPair() {
  const { private: privateKey, public: publicKey } = ed25519KeyPair("test");
  return { privateKey, publicKey };
}

async function withTarget(fn: (target: EmbeddedTarget, privateKey: string, dir: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "embedded-target-"));
  const { privateKey, publicKey } = keyPair();
  const target = await startEmbeddedTarget({ dir: join(dir, "demo"), authorizedKey: publicKey, username: USER });
  try {
    await fn(target, privateKey, dir);
  } finally {
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function connect(target: EmbeddedTarget, privateKey: string): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.connect({
      host: "127.0.0.1",
      port: target.port,
      username: USER,
      privateKey,
      hostVerifier: (key: Buffer) => hostKeyFingerprint(key) === target.hostKeyFingerprint,
    });
  });
}

// Collects a channel's output and waits until it matches.
function recorder(channel: ClientChannel) {
  let output = "";
  channel.on("data", (d: Buffer) => {
    output += d.toString("utf8");
  });
  return {
    output: () => output,
    waitFor: async (pattern: RegExp, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}; output so far:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe("embedded SSH target", () => {
  it("runs a shell on a pty of the requested size, follows resizes and reports the exit status", async () => {
    await withTarget(async (target, privateKey) => {
      const client = await connect(target, privateKey);
      try {
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
          client.shell({ term: "xterm-256color", rows: 30, cols: 100 }, (err, ch) => (err ? reject(err) : resolve(ch))),
        );
        const exit = new Promise<number>((resolve) => channel.on("exit", (code: number) => resolve(code)));
        const out = recorder(channel);
        channel.write("stty size; echo hello-$((6*7))\n");
        await out.waitFor(/hello-42/);
        expect(out.output()).toContain("30 100");
        expect(out.output()).toContain("hello-42");

        channel.setWindow(40, 120, 0, 0);
        channel.write("stty size\n");
        await out.waitFor(/40 120/);
        expect(out.output()).toContain("40 120");

        channel.write("exit 3\n");
        expect(await exit).toBe(3);
      } finally {
        client.end();
      }
    });
  }, 30_000);

  it("rejects a key other than the authorized one", async () => {
    await withTarget(async (target) => {
      const err = await connect(target, keyPair().privateKey).then(
        () => undefined,
        (e: Error & { level?: string }) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err?.level).toBe("client-authentication");
    });
  }, 30_000);

  it("keeps its host key, private to its owner, across restarts", async () => {
    await withTarget(async (target, _privateKey, dir) => {
      const keyFile = join(dir, "demo", "embedded_ssh_host_ed25519_key");
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const again = await startEmbeddedTarget({
        dir: join(dir, "demo"),
        authorizedKey: keyPair().publicKey,
        username: USER,
      });
      await again.stop();
      expect(again.hostKeyFingerprint).toBe(target.hostKeyFingerprint);
      expect(target.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    });
  }, 30_000);
});
