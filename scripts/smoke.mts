import { startStack } from "../test/support/stack.ts";
import { TerminalClient } from "../test/support/terminal-client.ts";
const stack = await startStack();
try {
  const s = await stack.user.createSession(stack.serverId, stack.credentialId);
  console.log("session", s);
  await new Promise((r) => setTimeout(r, 2000));
  const t = await TerminalClient.open(stack.edge.url, s.id, stack.user.sessionCookie);
  await t.waitForState("connected");
  t.type("whoami; echo hi-$((2+3))\n");
  await t.waitForOutput("hi-5");
  console.log("OUTPUT", JSON.stringify(t.output));
  t.type("exit\n");
  console.log("end", await t.waitForEnd());
} catch (e) {
  console.error("FAIL", e);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(await stack.logs());
} finally {
  await stack.stop();
}
