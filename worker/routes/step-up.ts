// What connecting on a checkout will ask for (adaptive step-up, with reasons in words), and setting
// one's master password (its PBKDF2 verifier, derived in the browser; set by the user on first use).
import { MasterPasswordSet, Ok, StepUpDecision } from "../../protocol/index.ts";
import { loadRow } from "../access/checkouts.ts";
import { masterPasswordVerifierOf, setMasterPasswordVerifier } from "../access/user-store.ts";
import { actorOf, record } from "../audit.ts";
import { auditStepUp, stepUpDecision } from "../auth/connect-gate.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { hasSecondFactor, requireRecentMfa } from "./mfa.ts";

export const stepUp = newApi();

stepUp.openapi(
  route({
    method: "get",
    path: "/checkouts/{id}/step-up",
    summary: "What connecting on this checkout will ask for, and why",
    tags: ["sessions"],
    middleware: [requireUser],
    params: IdParam,
    response: StepUpDecision,
  }),
  async (c) => {
    const row = await loadRow(c.env.DB, c.req.valid("param").id);
    if (!row || row.user_id !== c.get("user").id) throw new ApiFailure("not_found");
    const decision = await stepUpDecision(c, row);
    await auditStepUp(c, row, decision, "asked");
    return c.json(decision, 200);
  },
);

stepUp.openapi(
  route({
    method: "post",
    path: "/me/master-password",
    summary: "Set or change one's master password (its verifier only; needs a recent second factor)",
    tags: ["auth"],
    middleware: [requireUser],
    body: MasterPasswordSet,
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const { verifier } = c.req.valid("json");
    // The edge cannot check an old master password (it never holds one): a fresh second factor proves the user.
    const had = await masterPasswordVerifierOf(c.env.DB, user.id);
    // With none enrolled, the account password alone would replace the secret that is there to back it up: a
    // master password once set is changed with a second factor, or reset by an admin (POST /users/:id/reset-mfa).
    if (had && !(await hasSecondFactor(c.env.DB, user.id)))
      throw new ApiFailure("second_factor_needed", `master password change for ${user.id} without a second factor`);
    await requireRecentMfa(c);
    await setMasterPasswordVerifier(c.env.DB, user.id, verifier);
    await record(c.env, {
      actor: actorOf(user),
      action: "auth.credentials_changed",
      target: { type: "user", id: user.id, name: user.username },
      refs: { userId: user.id },
      data: { what: had ? "master_password_changed" : "master_password_set" },
    });
    return c.json({ ok: true }, 200);
  },
);
