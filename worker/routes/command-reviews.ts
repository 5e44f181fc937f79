// Command review (issue 19, docs/governance.md): the commands a `review` rule holds at the connector, listed for
// the people who may answer them (the session's approver or moderator group, never the user, counted by person;
// edge-shared/command-reviews.ts), and their answer, which the session's room carries to the connector. Anyone
// signed in may ask for the list: it is empty for everyone else, and a review they may not answer is "not found".
import { z } from "zod";
import { CommandReviewDecided, CommandReviewList, DecideCommandReviewRequest } from "../../protocol/index.ts";
import { reviewable } from "../../edge-shared/command-reviews.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const commandReviews = newApi();
const tags = ["sessions"];

commandReviews.openapi(
  route({
    method: "get",
    path: "/command-reviews",
    summary: "Held commands the caller may allow or refuse, oldest first",
    tags,
    middleware: [requireUser],
    response: CommandReviewList,
  }),
  async (c) => {
    const reviews = await reviewable(c.env.DB, c.get("user").id, Date.now());
    return c.json({ reviews: reviews.map(({ open: _, ...review }) => review) }, 200);
  },
);

const ReviewParams = z.object({
  sessionId: z.string().min(1).max(64),
  id: z.string().regex(/^[0-9a-f]{16}$/),
});

commandReviews.openapi(
  route({
    method: "post",
    path: "/command-reviews/{sessionId}/{id}",
    summary: "Allow or refuse a held command",
    tags,
    middleware: [requireUser],
    params: ReviewParams,
    body: DecideCommandReviewRequest,
    response: CommandReviewDecided,
  }),
  async (c) => {
    const user = c.get("user");
    const { sessionId, id } = c.req.valid("param");
    // Who may answer is settled before anything about the review is revealed.
    const [review] = await reviewable(c.env.DB, user.id, Date.now(), { sessionId, id });
    if (!review) throw new ApiFailure("not_found", `${user.username} may not review ${sessionId}/${id}`);
    const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(sessionId));
    // Answered already (by another reviewer), timed out, withdrawn, or the session ended: the room decides last.
    const decided =
      review.open && (await room.decideReview(id, c.req.valid("json").allow, { id: user.id, name: user.username }));
    if (!decided) throw new ApiFailure("conflict", `review ${sessionId}/${id} is no longer pending`);
    return c.json({ decided: true as const }, 200);
  },
);
