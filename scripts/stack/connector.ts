// Enrolls and runs a real psm-connector process against a local edge.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./edge.ts";
import { type Proc, startProcess, waitFor } from "./process.ts";

const CLI = join(ROOT, "connector", "cli.ts");
const nodeArgs = (args: string[]) => ["--import", "tsx", CLI, ...args];

/** Runs one `psm-connector` command to its end; its stdout, or an error with its output. */
export async function connectorCommand(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, nodeArgs(args), { cwd: ROOT });
  return stdout;
}

export async function enrollConnector(
  edgeUrl: string,
  token: string,
  stateDir: string,
  name = "local",
  /** The site's seal key (a JWK file), for the site's second and later connectors. */
  sealKeyFile?: string,
): Promise<void> {
  const proc = startProcess(
    process.execPath,
    nodeArgs([
      "enroll",
      "--url",
      edgeUrl,
      `--token=${token}`,
      "--state",
      stateDir,
      "--name",
      name,
      ...(sealKeyFile ? ["--seal-key", sealKeyFile] : []),
    ]),
    {
      name: "enroll",
      cwd: ROOT,
    },
  );
  const code = await new Promise<number | null>((resolve) => proc.child.once("exit", resolve));
  if (code !== 0) throw new Error(`enroll failed: ${proc.output()}`);
  // Local stacks put their SSH targets on loopback, which a connector refuses unless told.
  // Metrics on any free loopback port: several connectors share one test machine.
  await writeConnectorConfig(stateDir, { allowedTargets: LOOPBACK_TARGETS, metricsPort: 0 });
}

/** Loopback, named on purpose: what a development or test stack's targets listen on. */
export const LOOPBACK_TARGETS = ["127.0.0.0/8", "::1/128"];

/** Writes the connector's config.json (see connector/config.ts). */
export async function writeConnectorConfig(stateDir: string, config: Record<string, unknown>): Promise<void> {
  await writeFile(join(stateDir, "config.json"), JSON.stringify(config, null, 2), { mode: 0o600 });
}

export async function runConnector(
  stateDir: string,
  opts: {
    echo?: boolean;
    netns?: string /** Extra environment (tests: short recording chunks). */;
    env?: Record<string, string>;
    /** Flags for node itself, ahead of the script (bench: `--cpu-prof`, which NODE_OPTIONS refuses). */
    nodeFlags?: string[];
  } = {},
): Promise<Proc> {
  const args = [...(opts.nodeFlags ?? []), ...nodeArgs(["run", "--state", stateDir])];
  const env = { ...process.env, ...opts.env };
  const proc = opts.netns
    ? startProcess("ip", ["netns", "exec", opts.netns, process.execPath, ...args], {
        name: "connector",
        cwd: ROOT,
        echo: opts.echo,
        env,
      })
    : startProcess(process.execPath, args, { name: "connector", cwd: ROOT, echo: opts.echo, env });
  try {
    await waitFor("connector to reach its hub", async () => {
      if (proc.child.exitCode !== null) throw new Error("the connector exited");
      return proc.output().includes('"control.connected"') ? true : undefined;
    });
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n--- the connector printed ---\n${proc.output().slice(-6_000)}`);
  }
  return proc;
}
