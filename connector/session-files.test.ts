// The connector's side of a session's file requests (connector/session-files.ts) without a target: what it holds
// for a peer that asks too much. Transfers against a real sshd are test/e2e/sftp-transfer.test.ts.
import { describe, expect, it } from "vitest";
import type { ConnectorToRoom } from "../protocol/index.ts";
import { SessionFiles } from "./session-files.ts";

const POLICY = { upload: true, download: true, maxBytes: 1 << 20, allowPaths: ["/home/alice"], denyPaths: [] };

describe("SessionFiles", () => {
  it("attack: a room that forwards many listings at once — guarantee: one runs at a time, the rest are refused busy", async () => {
    const sent: ConnectorToRoom[] = [];
    // No SSH connection: a listing that runs fails with target_error, which is enough to see which ones ran.
    const files = new SessionFiles(() => undefined, POLICY, {
      send: (msg) => sent.push(msg),
      sendFrame: () => true,
      marker: () => {},
      log: () => {},
    });
    for (let id = 1; id <= 100; id++) files.request({ type: "ft_list", id, path: "/home/alice" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const reasons = new Map(sent.map((m) => [(m as { id: number }).id, (m as { reason?: string }).reason]));
    expect(reasons.get(1)).toBe("target_error");
    expect([...reasons].filter(([, r]) => r === "busy")).toHaveLength(99);
    // Once it is answered, the next listing runs.
    files.request({ type: "ft_list", id: 101, path: "/home/alice" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent.at(-1)).toMatchObject({ type: "ft_refused", id: 101, reason: "target_error" });
  });
});
