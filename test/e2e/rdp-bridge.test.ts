// The RDP engine against a real xrdp + xorgxrdp on loopback, driven from Node as the connector
// drives it: the vaulted-style credential over stdin, the first frame's background colour, keystrokes
// that create a file in the remote xterm, and a certificate pin mismatch refused before login.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rdpUnavailable } from "../../connector/rdp/engine.ts";
import { type RdpConnectOptions, type RdpFailure, RdpStream } from "../../connector/rdp/rdp-stream.ts";
import { encodeInstruction, GuacParser } from "../../protocol/guacamole.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { DESKTOP_BACKGROUND, startXrdp, type Xrdp, xrdpMissing } from "../../scripts/stack/xrdp.ts";
import { GuacScreen } from "../support/guac-screen.ts";
import { describeWithPeers } from "../support/peers.ts";
import { createTargetUser, newCanary, removeTargetUser } from "../support/stack.ts";

type Session = {
  stream: RdpStream;
  screen: GuacScreen;
  logs: string[];
  sent: string[];
  closed: Promise<RdpFailure | undefined>;
};

describeWithPeers("RDP engine against a real xrdp", xrdpMissing() ?? rdpUnavailable(), () => {
  let dir: string;
  let xrdp: Xrdp;
  let user: string;
  let canary: string;
  const sessions: Session[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-rdp-"));
    canary = newCanary();
    user = createTargetUser(canary);
    xrdp = await startXrdp({ dir: join(dir, "xrdp") });
  });

  afterAll(async () => {
    for (const s of sessions) s.stream.close();
    await Promise.all(sessions.map((s) => s.closed));
    removeTargetUser(user);
    await xrdp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function open(overrides: Partial<RdpConnectOptions> = {}): Session {
    const stream = new RdpStream();
    const sent: string[] = [];
    const logs: string[] = [];
    const screen = new GuacScreen((ack) => stream.write(Buffer.from(ack)));
    const parser = new GuacParser();
    const decoder = new TextDecoder();
    stream.on("data", (bytes: Buffer) => {
      const text = decoder.decode(bytes, { stream: true });
      sent.push(text);
      for (const ins of parser.push(text)) screen.apply(ins);
    });
    stream.on("log", (line: string) => logs.push(line));
    const closed = new Promise<RdpFailure | undefined>((resolve) =>
      stream.once("close", (info: { failure?: RdpFailure }) => resolve(info.failure)),
    );
    stream.start({
      host: "127.0.0.1",
      port: xrdp.port,
      certFingerprint: xrdp.certFingerprint,
      username: user,
      password: Buffer.from(canary),
      domain: "",
      width: 1024,
      height: 768,
      security: "any",
      clipboard: { copy: true, paste: true, maxBytes: 4096 },
      keyboardLayout: "en-us",
      ...overrides,
    });
    const session = { stream, screen, logs, sent, closed };
    sessions.push(session);
    return session;
  }

  function typeText(stream: RdpStream, text: string): void {
    let out = "";
    for (const ch of text) {
      const keysym = ch === "\n" ? 0xff0d : ch.codePointAt(0)!;
      out += encodeInstruction("key", keysym, 1) + encodeInstruction("key", keysym, 0);
    }
    stream.write(Buffer.from(out));
  }

  it("logs in with the credential, paints the desktop, and takes keystrokes", async () => {
    const started = Date.now();
    const s = open();
    await waitFor("the desktop size", async () => (s.screen.width > 0 ? true : undefined), 60_000);
    expect(s.screen.width).toBe(1024);
    expect(s.screen.height).toBe(768);
    // The X root window shows the known background once the session's desktop is up.
    const bg = await waitFor(
      "desktop background in a frame",
      async () => {
        const p = s.screen.pixel(1000, 740);
        return p &&
          Math.abs(p.r - DESKTOP_BACKGROUND.r) +
            Math.abs(p.g - DESKTOP_BACKGROUND.g) +
            Math.abs(p.b - DESKTOP_BACKGROUND.b) <
            6
          ? p
          : undefined;
      },
      60_000,
    );
    expect(bg).toBeDefined();
    console.info(
      `RDP first desktop frame ${Date.now() - started} ms after start; bridge RSS ${s.stream.rssBytes()} bytes`,
    );
    // Keys go to the window under the pointer (no window manager): point at the xterm, then type.
    const marker = `psm-rdp-${randomBytes(4).toString("hex")}`;
    const file = join("/home", user, marker);
    s.stream.write(Buffer.from(encodeInstruction("mouse", 100, 100, 0)));
    await waitFor(
      "the typed command's file",
      async () => {
        if (existsSync(file)) return true;
        typeText(s.stream, `echo "A>b|C" > ~/${marker}\n`);
        await new Promise((r) => setTimeout(r, 1500));
        return existsSync(file) ? true : undefined;
      },
      45_000,
    );
    // Shifted characters arrive as themselves (the engine holds Shift for them).
    await waitFor("file content", async () => ((await readFile(file, "utf8")).trim() === "A>b|C" ? true : undefined));
    expect(s.screen.opcodes.get("cursor")).toBeGreaterThan(0);
    // The credential is nowhere in what went toward the browser, nor in the engine's log.
    expect(s.sent.join("")).not.toContain(canary);
    expect(s.logs.join("")).not.toContain(canary);
    s.stream.close();
    expect(await s.closed).toBeUndefined();
  });

  /** Waits for a file the remote shell writes, retyping the command until it appears. */
  async function runInXterm(s: Session, command: string, file: string): Promise<string> {
    s.stream.write(Buffer.from(encodeInstruction("mouse", 100, 100, 0)));
    await waitFor(
      `${file} from the remote shell`,
      async () => {
        if (existsSync(file)) return true;
        typeText(s.stream, `${command}\n`);
        await new Promise((r) => setTimeout(r, 1500));
        return existsSync(file) ? true : undefined;
      },
      45_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // the shell may still be writing
    return readFile(file, "utf8");
  }

  /** The desktop's clipboard text, read with xclip in the remote xterm into a fresh file. */
  function readClipboard(s: Session, name: string): Promise<string> {
    return runInXterm(s, `xclip -o -selection clipboard > ~/${name}`, join("/home", user, name));
  }

  function paste(s: Session, text: string): void {
    const data = Buffer.from(text).toString("base64");
    s.stream.write(
      Buffer.from(
        encodeInstruction("clipboard", 7, "text/plain") +
          encodeInstruction("blob", 7, data) +
          encodeInstruction("end", 7),
      ),
    );
  }

  it("lets the clipboard through each way as policy allows, within the size cap", async () => {
    const tag = randomBytes(3).toString("hex");
    const home = join("/home", user);
    const allowed = open({ clipboard: { copy: true, paste: true, maxBytes: 64 } });
    await waitFor("the desktop size", async () => (allowed.screen.width > 0 ? true : undefined), 60_000);
    // Paste: the browser's text becomes the desktop's clipboard (it takes the selection asynchronously,
    // so the desktop's clipboard is read until it shows the text).
    paste(allowed, `pasted-${tag}`);
    let reads = 0;
    await waitFor(
      "the pasted text on the desktop",
      async () => ((await readClipboard(allowed, `in-1-${tag}-${reads++}`)) === `pasted-${tag}` ? true : undefined),
      45_000,
    );
    // Over the cap (64 bytes): not delivered; the desktop keeps what it had, however long we wait.
    paste(allowed, "x".repeat(100));
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 700));
      expect(await readClipboard(allowed, `in-2-${tag}-${i}`)).toBe(`pasted-${tag}`);
    }
    // Copy: what the desktop copies reaches the browser.
    await runInXterm(
      allowed,
      `printf copied-${tag} | xclip -selection clipboard; touch ~/out-1-${tag}`,
      join(home, `out-1-${tag}`),
    );
    await waitFor("the copied text", async () =>
      allowed.screen.clipboard.includes(`copied-${tag}`) ? true : undefined,
    );
    allowed.stream.close();
    await allowed.closed;

    const blocked = open({ clipboard: { copy: false, paste: false, maxBytes: 64 } });
    await waitFor("the desktop size", async () => (blocked.screen.width > 0 ? true : undefined), 60_000);
    paste(blocked, `blocked-${tag}`);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 700));
      expect(await readClipboard(blocked, `in-3-${tag}-${i}`)).not.toContain(`blocked-${tag}`);
    }
    await runInXterm(
      blocked,
      `printf secret-${tag} | xclip -selection clipboard; touch ~/out-2-${tag}`,
      join(home, `out-2-${tag}`),
    );
    // A copy would arrive within milliseconds of the barrier file; give it a second to be sure.
    await new Promise((r) => setTimeout(r, 1000));
    expect(blocked.screen.clipboard).toEqual([]);
    expect(blocked.sent.join("")).not.toContain("9.clipboard");
    blocked.stream.close();
    await blocked.closed;
  });

  it("refuses a certificate that does not match the pin, before any login", async () => {
    const logBefore = await xrdp.log();
    const loginsBefore = logBefore.split("created session").length;
    const s = open({ certFingerprint: `SHA256:${"A".repeat(43)}` });
    expect(await s.closed).toBe("certificate_mismatch");
    expect(s.screen.frames).toBe(0);
    // sesman never saw a login attempt for this connection: the credential was not sent.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await xrdp.log()).split("created session").length).toBe(loginsBefore);
    // The engine logs the fingerprint it saw (public), which is what an admin re-pins to.
    expect(s.logs.join("")).toContain(xrdp.certFingerprint);
  });

  it("fails NLA-only policy against a server that offers only TLS", async () => {
    const s = open({ security: "nla" });
    expect(await s.closed).toBe("security_refused");
  });
});
