// Session control against a real sshd: an admin's kill ends the session for the user, closes the
// SSH connection and hangs up the processes under the pty, within 2 seconds, also when the user's
// browser is gone; and the kill is audited.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

/** Running, as opposed to gone or a zombie (this machine's init may be slow to reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

describeWithPeers("session control", missingPeers(), () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Opens a session and starts a long-running background process under its pty. */
  async function sessionWithSleeper() {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    const pidFile = `/tmp/psm-sleeper-${id}.pid`;
    client.type(`sleep 1000000 & echo $! > ${pidFile}; echo sleeper-$((20+22))\n`);
    await client.waitForOutput("sleeper-42");
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    expect(alive(pid)).toBe(true);
    return { id, client, pid };
  }

  it("kills a watched session within 2 seconds: the user hears why, the pty's processes hang up", async () => {
    const { id, client, pid } = await sessionWithSleeper();
    const started = performance.now();
    await stack.admin.request("POST", `/api/sessions/${id}/kill`, { reason: "unexpected sudo activity" });
    expect(await client.waitForEnd(2000)).toBe("killed");
    const ended = client.messages.find((m) => m.type === "ended");
    expect(ended).toMatchObject({ note: "unexpected sudo activity" });
    const userSaw = performance.now() - started;
    await until(() => !alive(pid), 2000);
    const processGone = performance.now() - started;
    console.log(
      `kill latency: user informed after ${userSaw.toFixed(0)} ms, pty process gone after ${processGone.toFixed(0)} ms`,
    );
    expect(processGone).toBeLessThan(2000);
    const audit = await stack.admin.request<
      { action: string; actor: { name: string } | null; data: { note?: string } }[]
    >("GET", `/api/audit?action=session.killed`);
    expect(audit[0]).toMatchObject({
      action: "session.killed",
      actor: { name: "admin" },
      data: { note: "unexpected sudo activity" },
    });
    await expect(stack.admin.request("POST", `/api/sessions/${id}/kill`, { reason: "again" })).rejects.toThrow(
      /HTTP 409/,
    );
  });

  it("kills a session whose browser is offline", async () => {
    const { id, client, pid } = await sessionWithSleeper();
    client.close();
    await client.waitForClose();
    const started = performance.now();
    await stack.admin.request("POST", `/api/sessions/${id}/kill`, { reason: "left unattended" });
    await until(() => !alive(pid), 2000);
    console.log(`kill with no browser: pty process gone after ${(performance.now() - started).toFixed(0)} ms`);
    const live = await stack.admin.request<{ id: string }[]>("GET", "/api/sessions/live");
    expect(live.map((s) => s.id)).not.toContain(id);
  });

  it("lists live sessions for admins, with whether a browser is attached", async () => {
    const { id, client } = await sessionWithSleeper();
    const live = await stack.admin.request<{ id: string; user: string; server: string; browserAttached: boolean }[]>(
      "GET",
      "/api/sessions/live",
    );
    expect(live.find((s) => s.id === id)).toMatchObject({ user: "alice", server: "target", browserAttached: true });
    await expect(stack.user.request("GET", "/api/sessions/live")).rejects.toThrow(/HTTP 403/);
    client.type("exit\n");
    await client.waitForEnd();
  });
});
