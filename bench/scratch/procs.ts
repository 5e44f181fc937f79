import { startStack } from "../../test/support/stack.ts";
const stack = await startStack();
try {
  const { execSync } = await import("node:child_process");
  console.log(execSync(`ps -o pid,pgid,ppid,rss,args -g ${stack.edge.proc.child.pid}`).toString());
  console.log(stack.edge.proc.child.spawnargs.join(" "));
  const insp = stack.edge.proc.child.spawnargs[stack.edge.proc.child.spawnargs.indexOf("--inspector-port") + 1];
  const res = await fetch(`http://127.0.0.1:${insp}/json`);
  console.log(await res.text());
} finally {
  await stack.stop();
}
