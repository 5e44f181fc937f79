// Builds the connector as a product (docs/connector.md, "Install from the package"): connector/cli.ts bundled
// by esbuild into one ESM file for Node 20, the prebuilt RDP bridge beside it, the systemd unit template and
// install.sh, and ssh2 (the one dependency that cannot be bundled: it loads its native crypto binding by a
// path relative to itself) copied in with its own dependencies, so the tarball installs with no registry.
// `tsx scripts/build-connector.ts` stages build/connector/package/; `--pack` also runs `npm pack` there.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { AGENT } from "../connector/control.ts";
import { DEFAULT_STATE_DIR, SERVICE_USER, systemdUnit } from "../connector/service.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "connector", "package");
const OUT = join(ROOT, "build", "connector");
const STAGE = join(OUT, "package");
const BRIDGE = join(ROOT, "build", "rdp", "psm-rdp-bridge");
/** ws's native masking and UTF-8 checks: it uses its JavaScript versions when these are absent. */
const OPTIONAL_ABSENT = new Set(["bufferutil", "utf-8-validate"]);

type PackageJson = {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as PackageJson;

/** Stages the package; returns the bundle's size in bytes. */
async function stage(): Promise<{ pkg: PackageJson; bundleBytes: number }> {
  const pkg = readJson(join(SOURCE, "package.json"));
  // The version the connector reports to the edge (hello, health, metrics) is the package's version.
  if (AGENT !== `psm-connector/${pkg.version}`)
    throw new Error(`connector/package/package.json says ${pkg.version}, connector/control.ts says ${AGENT}`);
  const root = readJson(join(ROOT, "package.json"));
  const runtime = Object.keys(pkg.dependencies ?? {});
  for (const dep of runtime)
    if (pkg.dependencies?.[dep] !== root.dependencies?.[dep])
      throw new Error(
        `${dep}: the connector package pins ${pkg.dependencies?.[dep]}, the project ${root.dependencies?.[dep]}`,
      );
  if (!existsSync(BRIDGE)) throw new Error(`${BRIDGE} is missing: npm run build:rdp first (docs/rdp.md)`);

  rmSync(STAGE, { recursive: true, force: true });
  mkdirSync(join(STAGE, "dist"), { recursive: true });
  const bundle = join(STAGE, "dist", "psm-connector.mjs");
  const result = await build({
    // The CLI, and the recorder thread's entry beside it (connector/recording/recorder-thread.ts starts it by name).
    entryPoints: {
      "psm-connector": join(ROOT, "connector", "cli.ts"),
      "recorder-worker": join(ROOT, "connector", "recording", "recorder-worker.ts"),
    },
    outdir: join(STAGE, "dist"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Only the package's dependencies stay outside the bundle; everything else is in this one file.
    external: runtime,
    // Bundled CommonJS (ssh2's callers, ws, the AWS SDK) calls require(); an ES module has none of its own.
    banner: {
      js: '#!/usr/bin/env node\nimport { createRequire as __psmCreateRequire } from "node:module";\nconst require = __psmCreateRequire(import.meta.url);',
    },
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  // Whatever the bundle still imports must be Node itself, a dependency the package ships, or an optional
  // speed-up its library loads inside try/catch and does without.
  // (`node:` is Node's own scheme, including modules newer than Node 20, such as undici's lazy node:sqlite.)
  const builtin = (path: string) => path.startsWith("node:") || builtinModules.includes(path);
  for (const output of Object.values(result.metafile.outputs))
    for (const imported of output.imports)
      if (
        imported.external &&
        !builtin(imported.path) &&
        !runtime.includes(imported.path) &&
        !OPTIONAL_ABSENT.has(imported.path)
      )
        throw new Error(`the bundle imports ${imported.path}, which the package does not ship`);
  chmodSync(bundle, 0o755);
  copyFileSync(BRIDGE, join(STAGE, "dist", "psm-rdp-bridge"));
  chmodSync(join(STAGE, "dist", "psm-rdp-bridge"), 0o755);

  // The unit, from the same code as `psm-connector install`; install.sh fills in node and the prefix.
  const unit = systemdUnit({
    node: "@NODE@",
    cli: "@PREFIX@/dist/psm-connector.mjs",
    workingDirectory: "@PREFIX@",
    stateDir: DEFAULT_STATE_DIR,
    user: SERVICE_USER,
    bundled: true,
  });
  writeFileSync(join(STAGE, "psm-connector.service.in"), unit);
  copyFileSync(join(SOURCE, "package.json"), join(STAGE, "package.json"));
  copyFileSync(join(SOURCE, "install.sh"), join(STAGE, "install.sh"));
  chmodSync(join(STAGE, "install.sh"), 0o755);
  copyFileSync(join(SOURCE, "README.md"), join(STAGE, "README.md"));

  // ssh2 and what it needs, as npm installed them here (with ssh2's native crypto binding built for this
  // platform's Node 20; ssh2 falls back to JavaScript where that binding does not load).
  const copied = new Set<string>();
  const copyDep = (name: string, optional: boolean) => {
    if (copied.has(name)) return;
    const from = join(ROOT, "node_modules", name);
    if (!existsSync(from)) {
      if (optional) return;
      throw new Error(`node_modules/${name} is missing: npm ci first`);
    }
    copied.add(name);
    cpSync(from, join(STAGE, "node_modules", name), { recursive: true });
    const dep = readJson(join(from, "package.json"));
    for (const d of Object.keys(dep.dependencies ?? {})) copyDep(d, false);
    for (const d of Object.keys(dep.optionalDependencies ?? {})) copyDep(d, true);
  };
  for (const dep of runtime) copyDep(dep, false);
  return { pkg, bundleBytes: statSync(bundle).size };
}

/** `npm pack` of the staged package; returns the tarball's path. */
function pack(pkg: PackageJson): string {
  const name = execFileSync("npm", ["pack", "--pack-destination", OUT, "--loglevel", "error"], {
    cwd: STAGE,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .pop();
  if (name !== `${pkg.name}-${pkg.version}.tgz`) throw new Error(`npm pack wrote ${name}`);
  return join(OUT, name);
}

const { pkg, bundleBytes } = await stage();
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
console.log(`bundle: ${join(STAGE, "dist", "psm-connector.mjs")} (${mib(bundleBytes)})`);
if (process.argv.includes("--pack")) {
  const tarball = pack(pkg);
  console.log(`package: ${tarball} (${mib(statSync(tarball).size)})`);
}
