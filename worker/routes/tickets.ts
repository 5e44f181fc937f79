// One-time websocket tickets (worker/auth/socket-ticket.ts): the page asks, then opens the socket with it.
import { SocketTicket, SocketTicketRequest } from "../../protocol/index.ts";
import { issueTicket } from "../auth/socket-ticket.ts";
import { requireUser } from "../auth/user-token.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const tickets = newApi();

tickets.openapi(
  route({
    method: "post",
    path: "/sessions/{id}/ticket",
    summary: "A one-time, 30-second ticket to open this session's socket",
    tags: ["sessions"],
    middleware: [requireUser],
    params: IdParam,
    body: SocketTicketRequest,
    response: SocketTicket,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    // Who may use the socket is decided at the upgrade, with the ticket's user, like for a cookie.
    return c.json(await issueTicket(c, `${c.req.valid("json").socket}:${id}`), 200);
  },
);
