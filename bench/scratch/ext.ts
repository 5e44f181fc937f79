import { startStack } from "../../test/support/stack.ts";
import { openOurs } from "../lib/clients.ts";
import { startTarget } from "../lib/target.ts";
const stack = await startStack();
const target = await startTarget(stack);
try {
  const pipe = await openOurs(stack, target);
  console.log(
    "client extensions:",
    JSON.stringify(pipe.client.ws.extensions),
    Object.keys((pipe.client.ws as any)._extensions ?? {}),
  );
  await pipe.close();
  // connector side: raw upgrade to see what workerd answers to a deflate offer
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(stack.edge.url.replace("http", "ws") + "/api/sessions/x/ws", {
    headers: { Cookie: stack.user.sessionCookie, Origin: stack.edge.url },
  });
  ws.on("upgrade", (res) => console.log("upgrade headers", res.headers));
  ws.on("unexpected-response", (_q, res) => console.log("status", res.statusCode));
  await new Promise((r) => setTimeout(r, 1000));
} finally {
  await target.stop();
  await stack.stop();
}
