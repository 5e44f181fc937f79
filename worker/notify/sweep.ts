// The outbox sweep wired to the real platform (global fetch, the send_email binding): call it from the
// scheduled handler, e.g. `ctx.waitUntil(sweepNotifications(env))`.
import { emailSender } from "./email-send.ts";
import { deliverDue, type NotifyEnv, type SweepCounts } from "./outbox.ts";

export function sweepNotifications(env: NotifyEnv, now = Date.now()): Promise<SweepCounts> {
  return deliverDue(env, now, {
    fetch: (input, init) => fetch(input, init),
    sendEmail: env.EMAIL ? emailSender(env.EMAIL) : undefined,
  });
}
