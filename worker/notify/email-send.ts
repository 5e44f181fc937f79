// Wraps the send_email binding as a SendRawEmail. The only file that imports cloudflare:email (workerd-only),
// so Node unit tests of the message builder never load it.
import { EmailMessage } from "cloudflare:email";
import type { SendRawEmail } from "./email.ts";

/** Sends one raw RFC 5322 message; `from` is the envelope sender and must equal the From header. */
export async function sendViaBinding(binding: SendEmail, from: string, to: string, raw: string): Promise<void> {
  await binding.send(new EmailMessage(from, to, raw));
}

export function emailSender(binding: SendEmail): SendRawEmail {
  return (from, to, raw) => sendViaBinding(binding, from, to, raw);
}
