// Network namespaces for isolation tests: namespaces and veth pairs the test creates and deletes,
// addresses only inside them, and a relay that carries one TCP port from a namespace to this one's
// loopback through a unix socket (a file, so it crosses namespaces without any route between them).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Proc, startProcess, waitFor } from "../../scripts/stack/process.ts";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";

export function missingNetns(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  if (!existsSync("/usr/sbin/ip") && !existsSync("/sbin/ip")) return "iproute2 (ip) is not installed";
  try {
    const probe = `psmprobe${randomBytes(3).toString("hex")}`;
    execFileSync("ip", ["netns", "add", probe], { stdio: "ignore" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "ignore" });
  } catch {
    return "this kernel or container does not allow network namespaces";
  }
  return undefined;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
const inNs = (ns: string, ...args: string[]) => ip("netns", "exec", ns, "ip", ...args);

/** Two namespaces joined by one veth pair, each end with one address of a /30; loopback up in both. */
export function createLink(prefix: string): {
  a: string;
  b: string;
  addrA: string;
  addrB: string;
  remove: () => void;
} {
  const tag = randomBytes(3).toString("hex");
  const [a, b] = [`${prefix}a${tag}`, `${prefix}b${tag}`];
  const third = randomBytes(1)[0]!;
  const [addrA, addrB] = [`10.213.${third}.1`, `10.213.${third}.2`];
  ip("netns", "add", a);
  ip("netns", "add", b);
  const remove = () => {
    for (const ns of [a, b]) {
      try {
        ip("netns", "del", ns);
      } catch {}
    }
  };
  try {
    // The veth pair is created inside namespace a, and its peer end moved to b: nothing in ours.
    inNs(a, "link", "add", `v${tag}a`, "type", "veth", "peer", "name", `v${tag}b`);
    inNs(a, "link", "set", `v${tag}b`, "netns", b);
    inNs(a, "addr", "add", `${addrA}/30`, "dev", `v${tag}a`);
    inNs(b, "addr", "add", `${addrB}/30`, "dev", `v${tag}b`);
    for (const [ns, dev] of [
      [a, `v${tag}a`],
      [b, `v${tag}b`],
    ] as const) {
      inNs(ns, "link", "set", "lo", "up");
      inNs(ns, "link", "set", dev, "up");
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { a, b, addrA, addrB, remove };
}

/** A namespace with only loopback, up. */
export function createIsolatedNamespace(prefix: string): { name: string; remove: () => void } {
  const name = `${prefix}${randomBytes(3).toString("hex")}`;
  ip("netns", "add", name);
  inNs(name, "link", "set", "lo", "up");
  return {
    name,
    remove: () => {
      try {
        ip("netns", "del", name);
      } catch {}
    },
  };
}

const nodeIn = (ns: string | undefined, script: string, name: string): Proc =>
  ns
    ? startProcess("ip", ["netns", "exec", ns, process.execPath, "-e", script], { name })
    : startProcess(process.execPath, ["-e", script], { name });

/**
 * Makes 127.0.0.1:port in namespace `from` reach 127.0.0.1:port in namespace `to` (undefined: this
 * one) through a unix socket: a file, so it crosses namespaces without any route between them.
 */
export async function relayPort(opts: { port: number; from?: string; to?: string; dir: string }): Promise<{
  stop: () => Promise<void>;
}> {
  const path = join(opts.dir, `relay-${opts.port}-${randomBytes(3).toString("hex")}.sock`);
  const pipe = `const d=()=>{a.destroy();b.destroy()};a.pipe(b).pipe(a);a.on("error",d);b.on("error",d)`;
  const exit = `process.on("SIGTERM",()=>process.exit(0))`;
  const toSide = nodeIn(
    opts.to,
    `const net=require("node:net");${exit};net.createServer(a=>{const b=net.connect(${opts.port},"127.0.0.1");${pipe}}).listen(${JSON.stringify(path)},()=>console.log("relay-ready"))`,
    "relay-to",
  );
  const fromSide = nodeIn(
    opts.from,
    `const net=require("node:net");${exit};net.createServer(a=>{const b=net.connect(${JSON.stringify(path)});${pipe}}).listen(${opts.port},"127.0.0.1",()=>console.log("relay-ready"))`,
    "relay-from",
  );
  for (const side of [toSide, fromSide]) {
    await waitFor("relay", async () => {
      if (side.child.exitCode !== null) throw new Error(`relay exited: ${side.output()}`);
      return side.output().includes("relay-ready") ? true : undefined;
    });
  }
  return { stop: async () => void (await Promise.all([fromSide.stop(), toSide.stop()])) };
}

/**
 * A stack's site served only from a namespace: the stack's own loopback connector stops; a veth pair joins the
 * connector's namespace (`link.a`) to the target's (`link.b`), where a private sshd listens for the stack's target
 * account; the edge's port is relayed into the connector's namespace (from `edgeNetns` when the edge runs in one).
 */
export async function namespacedTarget(
  stack: { dir: string; targetUser: string; edge: { url: string }; connector: { stop: () => Promise<void> } },
  opts: { prefix: string; sshPort: number; edgeNetns?: string },
): Promise<{ link: ReturnType<typeof createLink>; sshd: Sshd; stop: () => Promise<void> }> {
  await stack.connector.stop();
  const link = createLink(opts.prefix);
  let sshd: Sshd | undefined;
  let relay: { stop: () => Promise<void> } | undefined;
  const stop = async () => {
    await relay?.stop();
    await sshd?.stop();
    link.remove();
  };
  try {
    sshd = await startSshd({
      dir: join(stack.dir, `sshd-${opts.prefix}`),
      passwordAuthentication: true,
      allowUsers: [stack.targetUser],
      port: opts.sshPort,
      netns: { name: link.b, listenAddress: link.addrB },
    });
    relay = await relayPort({
      port: Number(new URL(stack.edge.url).port),
      from: link.a,
      to: opts.edgeNetns,
      dir: stack.dir,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { link, sshd, stop };
}
