// SFTP transfers (issue 19, the connector's core: connector/sftp/) against a real OpenSSH sshd with a real
// account: a 100 MiB round trip byte for byte, every policy refusal, path escapes by `..` and by symbolic links
// in both directions, interrupted uploads (abort, and the connection dropped), and the window bound that keeps
// a 1 GiB file from growing a buffer. One sshd and one account for the file.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, type ClientChannel } from "ssh2";
import { afterAll, beforeAll, expect, it } from "vitest";
import { hostKeyFingerprint } from "../../connector/host-key.ts";
import { openSftp, RemoteFiles } from "../../connector/sftp/remote.ts";
import {
  type Download,
  openDownload,
  TransferRefused,
  type TransferResult,
  upload,
} from "../../connector/sftp/transfer.ts";
import { FileTransferPolicy } from "../../protocol/index.ts";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";
import { describeWithPeers } from "../support/peers.ts";
import { createTargetUser, missingPeers, newCanary, removeTargetUser } from "../support/stack.ts";

const MiB = 1024 * 1024;

describeWithPeers("SFTP transfer against OpenSSH", missingPeers(), () => {
  let dir = "";
  let sshd: Sshd;
  let user = "";
  let home = "";
  let allowed = "";
  let outside = "";
  let client: Client;
  let remote: RemoteFiles;
  let shell: ClientChannel;
  let policy: FileTransferPolicy;
  const canary = newCanary();
  const clients: Client[] = [];

  const connect = () =>
    new Promise<Client>((resolve, reject) => {
      const c = new Client();
      clients.push(c);
      c.on("error", () => {}); // a dropped connection is what some tests want
      c.once("ready", () => resolve(c));
      c.once("error", reject);
      c.connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: user,
        password: canary,
        readyTimeout: 30_000,
        hostVerifier: (key: Buffer) => hostKeyFingerprint(key) === sshd.hostKeyFingerprint,
      });
    });

  /** Everything in the directory that looks like an upload in progress. */
  const partials = (folder: string) => readdirSync(folder).filter((name) => name.includes(".psm-partial-"));
  const fileSha256 = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const hash = createHash("sha256");
      createReadStream(path)
        .on("data", (chunk) => hash.update(chunk))
        .on("end", () => resolve(hash.digest("hex")))
        .on("error", reject);
    });
  /** Runs a command in the session's shell and resolves when its output comes back: the terminal is not stalled. */
  const shellRoundTrip = (word: string) =>
    new Promise<void>((resolve) => {
      let seen = "";
      const onData = (data: Buffer) => {
        seen += data.toString("utf8");
        if (seen.includes(`${word}-done`)) {
          shell.off("data", onData);
          resolve();
        }
      };
      shell.on("data", onData);
      // The marker is printed joined, so the echoed command line (which has a space in it) does not match.
      shell.write(`echo ${word}-"done"\n`);
    });
  /** Random bytes in chunks, produced only as they are pulled; `pulled` counts what was taken so far. */
  const randomSource = (total: number, chunk = 256 * 1024) => {
    const hash = createHash("sha256");
    const state = { pulled: 0, sha256: "" };
    async function* chunks() {
      while (state.pulled < total) {
        const bytes = randomBytes(Math.min(chunk, total - state.pulled));
        hash.update(bytes);
        state.pulled += bytes.length;
        yield bytes;
      }
      state.sha256 = hash.digest("hex");
    }
    return { state, chunks: chunks() };
  };
  const readAll = async (download: Download) => {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of download) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { bytes, sha256: hash.digest("hex") };
  };
  const refusal = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => new Error("the transfer was not refused"),
      (e: unknown) => e,
    );
    if (!(err instanceof TransferRefused)) throw err;
    return err;
  };
  async function* bytesOf(...chunks: string[]) {
    for (const chunk of chunks) yield Buffer.from(chunk);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-sftp-"));
    user = createTargetUser(canary);
    home = execFileSync("getent", ["passwd", user], { encoding: "utf8" }).split(":")[5]!;
    allowed = join(home, "allowed");
    outside = join(home, "outside");
    // The target's files, made as root and then given to the account.
    for (const folder of [allowed, outside, join(allowed, "denied"), join(allowed, "subdir"), join(home, "allowed2")])
      mkdirSync(folder, { recursive: true });
    writeFileSync(join(outside, "secret.txt"), "outside the allowed root\n");
    writeFileSync(join(allowed, "denied", "kept.txt"), "denied\n");
    writeFileSync(join(allowed, "small.bin"), randomBytes(2 * MiB));
    symlinkSync(outside, join(allowed, "link-out"));
    symlinkSync(join(outside, "secret.txt"), join(allowed, "secret-link"));
    symlinkSync(join(allowed, "denied", "kept.txt"), join(allowed, "denied-link"));
    symlinkSync(join(allowed, "small.bin"), join(allowed, "inside-link"));
    symlinkSync(allowed, join(home, "via-link"));
    execFileSync("mkfifo", [join(allowed, "fifo")]);
    // A 1 GiB file that takes no disk (sparse): the window test reads into it and stops.
    execFileSync("truncate", ["-s", "1G", join(allowed, "sparse-1g")]);
    execFileSync("chown", ["-R", "-h", `${user}:`, home]);
    policy = FileTransferPolicy.parse({
      upload: true,
      download: true,
      maxBytes: 2 * 1024 * MiB,
      allowPaths: [allowed],
      denyPaths: [join(allowed, "denied")],
    });
    sshd = await startSshd({ dir: join(dir, "sshd"), passwordAuthentication: true, allowUsers: [user], sftp: true });
    client = await connect();
    remote = new RemoteFiles(await openSftp(client));
    shell = await new Promise<ClientChannel>((resolve, reject) =>
      client.shell({ term: "dumb" }, (err, stream) => (err ? reject(err) : resolve(stream))),
    );
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await sshd?.stop();
    if (user) removeTargetUser(user);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a 100 MiB file goes up and comes back byte for byte, and the records say so", async () => {
    const size = 100 * MiB;
    const target = join(allowed, "big.bin");
    const source = randomSource(size);
    let maxInFlight = 0;
    let maxAhead = 0;
    let echoed: Promise<void> | undefined;
    let doneAtEcho = -1;
    let doneNow = 0;
    const upStart = performance.now();
    const up = await upload(remote, policy, target, source.chunks, {
      onProgress: ({ done, inFlight }) => {
        doneNow = done;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // Pulled from the source but not yet acknowledged by the target: the upload's read-ahead.
        maxAhead = Math.max(maxAhead, source.state.pulled - done);
        if (!echoed && done >= 10 * MiB)
          echoed = shellRoundTrip("mid-upload").then(() => {
            doneAtEcho = doneNow;
          });
      },
    });
    const upSeconds = (performance.now() - upStart) / 1000;
    await echoed;

    expect(up).toEqual({ direction: "upload", path: target, size, sha256: source.state.sha256 });
    expect(await fileSha256(target)).toBe(source.state.sha256);
    expect(statSync(target).uid).toBe(statSync(home).uid);
    expect(partials(allowed)).toEqual([]);
    expect(maxInFlight).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(2 * MiB);
    // At most the window plus the one chunk being split into requests.
    expect(maxAhead).toBeLessThanOrEqual(2 * MiB + 256 * 1024);
    // The shell answered while the upload was still going (a 2 MiB window keeps its requests from queueing ahead).
    expect(doneAtEcho).toBeGreaterThanOrEqual(10 * MiB);
    expect(doneAtEcho).toBeLessThan(size);

    let maxReadAhead = 0;
    const downStart = performance.now();
    const download = await openDownload(remote, policy, target, {
      onProgress: ({ inFlight }) => {
        maxReadAhead = Math.max(maxReadAhead, inFlight);
      },
    });
    expect(download.size).toBe(size);
    const got = await readAll(download);
    const downSeconds = (performance.now() - downStart) / 1000;
    expect(got).toEqual({ bytes: size, sha256: source.state.sha256 });
    expect(download.result).toEqual<TransferResult>({ direction: "download", path: target, size, sha256: up.sha256 });
    expect(maxReadAhead).toBeLessThanOrEqual(2 * MiB);

    const rate = (seconds: number) => (size / 1e6 / seconds).toFixed(0);
    console.log(
      `SFTP 100 MiB through OpenSSH on loopback: upload ${rate(upSeconds)} MB/s (${upSeconds.toFixed(2)} s), ` +
        `download ${rate(downSeconds)} MB/s (${downSeconds.toFixed(2)} s); mid-upload shell echo answered at ` +
        `${(doneAtEcho / MiB).toFixed(0)} MiB`,
    );
  });

  it("a 1 GiB file: reads stop at the window while the consumer waits, and the terminal carries on", async () => {
    const window = 1 * MiB;
    let requested = 0;
    let maxInFlight = 0;
    const download = await openDownload(remote, policy, join(allowed, "sparse-1g"), {
      windowBytes: window,
      onProgress: ({ done, inFlight }) => {
        requested = done + inFlight;
        maxInFlight = Math.max(maxInFlight, inFlight);
      },
    });
    expect(download.size).toBe(1024 * MiB);
    let taken = 0;
    for await (const chunk of download) {
      taken += chunk.length;
      if (taken >= 8 * MiB) break; // the consumer stops; closing the file
    }
    // While nothing pulls, nothing more is requested; the shell still answers.
    const before = requested;
    await shellRoundTrip("paused-download");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requested).toBe(before);
    expect(requested - taken).toBeLessThanOrEqual(window);
    expect(maxInFlight).toBeLessThanOrEqual(window);
    expect(download.result).toBeUndefined();
    // The handle was closed: the file can be read again from the start.
    const again = await openDownload(remote, policy, join(allowed, "small.bin"));
    expect((await readAll(again)).bytes).toBe(2 * MiB);
  });

  it("an aborted upload of a 1 GiB source leaves nothing: no final name, no partial; the source was never read ahead", async () => {
    const target = join(allowed, "aborted.bin");
    const source = randomSource(1024 * MiB, 64 * 1024);
    const controller = new AbortController();
    let maxAhead = 0;
    let maxInFlight = 0;
    const reason = new Error("the user cancelled");
    const err = await upload(remote, policy, target, source.chunks, {
      signal: controller.signal,
      windowBytes: MiB,
      onProgress: ({ done, inFlight }) => {
        maxAhead = Math.max(maxAhead, source.state.pulled - done);
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (done >= 16 * MiB) controller.abort(reason);
      },
    }).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(source.state.pulled).toBeLessThan(32 * MiB);
    expect(maxInFlight).toBeLessThanOrEqual(MiB);
    expect(maxAhead).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect(existsSync(target)).toBe(false);
    expect(partials(allowed)).toEqual([]);
  });

  it("an aborted upload over an existing file leaves the old file whole; a finished one replaces it, keeping its mode", async () => {
    const target = join(allowed, "replace.txt");
    writeFileSync(target, "old contents\n");
    execFileSync("chown", [`${user}:`, target]);
    execFileSync("chmod", ["640", target]);
    const controller = new AbortController();
    const source = randomSource(64 * MiB);
    await expect(
      upload(remote, policy, target, source.chunks, {
        signal: controller.signal,
        onProgress: ({ done }) => done >= 4 * MiB && controller.abort(new Error("stop")),
      }),
    ).rejects.toThrow("stop");
    expect(readFileSync(target, "utf8")).toBe("old contents\n");
    expect(partials(allowed)).toEqual([]);

    const result = await upload(remote, policy, target, bytesOf("new ", "contents\n"));
    expect(result.size).toBe(13);
    expect(readFileSync(target, "utf8")).toBe("new contents\n");
    expect(statSync(target).mode & 0o777).toBe(0o640);
  });

  it("without posix-rename, an upload still replaces an existing file and leaves no partial", async () => {
    const plain = new RemoteFiles(await openSftp(client), { posixRename: false });
    const target = join(allowed, "plain-rename.txt");
    writeFileSync(target, "before\n");
    execFileSync("chown", [`${user}:`, target]);
    const result = await upload(plain, policy, target, bytesOf("after\n"));
    expect(result).toMatchObject({ path: target, size: 6 });
    expect(readFileSync(target, "utf8")).toBe("after\n");
    expect(partials(allowed)).toEqual([]);
    plain.dispose();
  });

  it("a connection dropped mid-upload never writes the final name; the partial is left, named, for lack of a connection", async () => {
    const dropped = await connect();
    const lost = new RemoteFiles(await openSftp(dropped));
    const target = join(allowed, "dropped.bin");
    const source = randomSource(256 * MiB);
    const err = await refusal(
      upload(lost, policy, target, source.chunks, {
        onProgress: ({ done }) => done >= 8 * MiB && dropped.destroy(),
      }),
    );
    expect(err.reason).toBe("target_error");
    expect(err.message).toBe("the connection to the target was lost");
    // Cleanup needs the connection that is gone: the partial stays, and the error names it.
    expect(err.leftover).toMatch(new RegExp(`^${allowed}/\\.dropped\\.bin\\.psm-partial-[0-9a-f]{12}$`));
    await expect.poll(() => existsSync(err.leftover!), { timeout: 10_000 }).toBe(true);
    expect(statSync(err.leftover!).size).toBeLessThan(256 * MiB);
    expect(existsSync(target)).toBe(false);
    // A call on the dead channel fails at once instead of waiting for an answer that cannot come.
    expect(lost.lost).toBe(true);
    await expect(lost.stat(allowed)).rejects.toMatchObject({ problem: "lost" });
    await rm(err.leftover!);
  });

  it("refuses by policy: each direction off, and too large (stated, streamed, or found on the target)", async () => {
    const before = readdirSync(allowed).sort();
    const off = await refusal(upload(remote, { ...policy, upload: false }, join(allowed, "x.txt"), bytesOf("x")));
    expect([off.reason, off.message]).toEqual(["upload_off", "uploads are off for this session"]);
    const offDown = await refusal(openDownload(remote, { ...policy, download: false }, join(allowed, "small.bin")));
    expect(offDown.reason).toBe("download_off");

    const small = { ...policy, maxBytes: MiB };
    let pulled = false;
    async function* never() {
      pulled = true;
      yield Buffer.alloc(1);
    }
    const stated = await refusal(
      upload(remote, small, join(allowed, "stated.bin"), never(), { declaredSize: MiB + 1 }),
    );
    expect(stated.reason).toBe("too_large");
    expect(pulled).toBe(false);

    // No size stated: the limit stops the stream at the byte that crosses it.
    const streamed = randomSource(3 * MiB, 100_000);
    const tooBig = await refusal(upload(remote, small, join(allowed, "streamed.bin"), streamed.chunks));
    expect(tooBig.reason).toBe("too_large");
    expect(tooBig.message).toBe(`the file is larger than this session's limit of ${MiB} bytes`);
    expect(streamed.state.pulled).toBeLessThanOrEqual(MiB + 100_000);

    const bigDown = await refusal(openDownload(remote, small, join(allowed, "small.bin")));
    expect(bigDown.reason).toBe("too_large");
    // Nothing was created, not even a partial.
    expect(readdirSync(allowed).sort()).toEqual(before);
  });

  it("refuses paths outside the allowed root, in a denied root, and escapes by .. in both directions", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => upload(remote, policy, `${allowed}/../outside/new.txt`, bytesOf("x")), "path_escape"],
      [() => openDownload(remote, policy, `${allowed}/../outside/secret.txt`), "path_escape"],
      [() => openDownload(remote, policy, `${allowed}/subdir/../../outside/secret.txt`), "path_escape"],
      [() => upload(remote, policy, join(home, "allowed2", "x.txt"), bytesOf("x")), "path_outside_allowed"],
      [() => openDownload(remote, policy, join(outside, "secret.txt")), "path_outside_allowed"],
      [() => upload(remote, policy, join(allowed, "denied", "x.txt"), bytesOf("x")), "path_denied"],
      [() => openDownload(remote, policy, join(allowed, "denied", "kept.txt")), "path_denied"],
      [() => openDownload(remote, policy, "allowed/small.bin"), "path_invalid"],
    ];
    for (const [attempt, reason] of cases) expect((await refusal(attempt())).reason).toBe(reason);
    expect(existsSync(join(outside, "new.txt"))).toBe(false);
    expect(existsSync(join(home, "allowed2", "x.txt"))).toBe(false);
    expect(existsSync(join(allowed, "denied", "x.txt"))).toBe(false);
  });

  it("refuses symbolic links that lead out of the allowed root (or into a denied one), in both directions", async () => {
    const secret = readFileSync(join(outside, "secret.txt"), "utf8");
    const cases: [() => Promise<unknown>, string][] = [
      // A link to a file outside, read and written through.
      [() => openDownload(remote, policy, join(allowed, "secret-link")), "path_escape"],
      [() => upload(remote, policy, join(allowed, "secret-link"), bytesOf("overwritten\n")), "path_escape"],
      // A link to a folder outside, as the folder of the file.
      [() => openDownload(remote, policy, join(allowed, "link-out", "secret.txt")), "path_escape"],
      [() => upload(remote, policy, join(allowed, "link-out", "planted.txt"), bytesOf("x")), "path_escape"],
      // A link inside the allowed root to a denied file.
      [() => openDownload(remote, policy, join(allowed, "denied-link")), "path_denied"],
    ];
    for (const [attempt, reason] of cases) {
      const err = await refusal(attempt());
      expect(err.reason).toBe(reason);
      // The message names what was asked for, not where the link leads.
      expect(err.message).not.toContain(outside);
    }
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe(secret);
    expect(existsSync(join(outside, "planted.txt"))).toBe(false);
    expect(partials(outside)).toEqual([]);
    expect(partials(allowed)).toEqual([]);

    // A link that stays inside is followed; the record names the real file.
    const inside = await openDownload(remote, policy, join(allowed, "inside-link"));
    await readAll(inside);
    expect(inside.result).toMatchObject({ path: join(allowed, "small.bin"), size: 2 * MiB });
    // An allowed root that is itself a link: files under it land in (and are recorded at) the real folder.
    const viaLink = { ...policy, allowPaths: [join(home, "via-link")] };
    const through = await upload(remote, viaLink, join(home, "via-link", "through.txt"), bytesOf("through\n"));
    expect(through.path).toBe(join(allowed, "through.txt"));
    expect(readFileSync(join(allowed, "through.txt"), "utf8")).toBe("through\n");
  });

  it("says what is missing, not a file (without opening a FIFO), or not permitted", async () => {
    expect((await refusal(openDownload(remote, policy, join(allowed, "missing.bin")))).reason).toBe("not_found");
    expect((await refusal(upload(remote, policy, join(allowed, "no-dir", "x.txt"), bytesOf("x")))).reason).toBe(
      "not_found",
    );
    expect((await refusal(openDownload(remote, policy, join(allowed, "subdir")))).reason).toBe("not_a_file");
    expect((await refusal(upload(remote, policy, join(allowed, "subdir"), bytesOf("x")))).reason).toBe("not_a_file");
    expect((await refusal(openDownload(remote, policy, join(allowed, "fifo")))).reason).toBe("not_a_file");
    // Had the FIFO been opened, the target's sftp-server would now hang; it answers.
    expect((await remote.stat(allowed)).isDirectory()).toBe(true);

    // What the account may not do is the target's refusal, in our words.
    const rootOnly = join(allowed, "root-only");
    mkdirSync(rootOnly, { mode: 0o755 });
    writeFileSync(join(rootOnly, "private.txt"), "root's\n", { mode: 0o600 });
    const write = await refusal(upload(remote, policy, join(rootOnly, "x.txt"), bytesOf("x")));
    expect([write.reason, write.message]).toEqual([
      "target_error",
      `the target account may not create a file in ${rootOnly}`,
    ]);
    const read = await refusal(openDownload(remote, policy, join(rootOnly, "private.txt")));
    expect([read.reason, read.message]).toEqual([
      "target_error",
      `the target account may not open ${join(rootOnly, "private.txt")}`,
    ]);
    expect(partials(rootOnly)).toEqual([]);
  });

  it("an aborted download stops with the abort's reason and gives no record", async () => {
    const controller = new AbortController();
    const download = await openDownload(remote, policy, join(allowed, "sparse-1g"), { signal: controller.signal });
    const reason = new Error("the page went away");
    const err = await (async () => {
      let taken = 0;
      for await (const chunk of download) {
        taken += chunk.length;
        if (taken >= 4 * MiB) controller.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(download.result).toBeUndefined();
  });
});
