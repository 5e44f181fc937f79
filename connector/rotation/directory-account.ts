// Changing and checking a directory account's password with ldapts, only over TLS (LDAPS, or StartTLS
// before any bind): OpenLDAP by RFC 3062 Password Modify, Active Directory by a `unicodePwd` modify.
// As the account itself (the old password proves it), or through a rotation credential that may reset
// passwords. The new password is then checked by a bind of its own.
import { readFile } from "node:fs/promises";
import { Client, InvalidCredentialsError } from "ldapts";
import type { RotationAccount } from "../../protocol/rotation.ts";
import { RotationFailure } from "./failure.ts";
import { adPasswordChanges, PASSWORD_MODIFY_OID, passwordModifyRequest } from "./directory-password.ts";

export type DirectoryAccount = Extract<RotationAccount, { type: "ldap" | "ad" }>;
export type DirectoryLogin = { dn: string; password: string };

const TIMEOUT_MS = 15_000;

/** A bound client, or a RotationFailure. Plain `ldap://` without StartTLS is refused: no password in clear. */
async function bound(account: DirectoryAccount, login: DirectoryLogin, caFile?: string): Promise<Client> {
  const ldaps = account.url.startsWith("ldaps://");
  if (!ldaps && !account.startTls) throw new RotationFailure("unsupported");
  const tls = caFile ? { ca: [await readFile(caFile)] } : {};
  const client = new Client({
    url: account.url,
    timeout: TIMEOUT_MS,
    connectTimeout: TIMEOUT_MS,
    ...(ldaps ? { tlsOptions: tls } : {}),
  });
  try {
    if (!ldaps) await client.startTLS(tls);
    await client.bind(login.dn, login.password);
    return client;
  } catch (err) {
    await client.unbind().catch(() => {});
    throw new RotationFailure(err instanceof InvalidCredentialsError ? "auth_failed" : "target_unreachable");
  }
}

export async function directoryLogsIn(account: DirectoryAccount, password: string, caFile?: string): Promise<boolean> {
  try {
    await (await bound(account, { dn: account.dn, password }, caFile)).unbind().catch(() => {});
    return true;
  } catch (err) {
    if (err instanceof RotationFailure && err.code === "auth_failed") return false;
    throw err;
  }
}

export async function changeDirectoryPassword(
  account: DirectoryAccount,
  current: string,
  next: string,
  opts: { via?: DirectoryLogin; caFile?: string; changing?: () => void } = {},
): Promise<void> {
  const client = await bound(account, opts.via ?? { dn: account.dn, password: current }, opts.caFile);
  try {
    opts.changing?.();
    if (account.type === "ldap") {
      const self = !opts.via;
      await client.exop(
        PASSWORD_MODIFY_OID,
        passwordModifyRequest({
          userIdentity: account.dn,
          ...(self ? { oldPassword: current } : {}),
          newPassword: next,
        }),
      );
    } else {
      await client.modify(
        account.dn,
        adPasswordChanges(opts.via ? { newPassword: next } : { oldPassword: current, newPassword: next }),
      );
    }
  } catch {
    throw new RotationFailure("change_refused");
  } finally {
    await client.unbind().catch(() => {});
  }
  if (!(await directoryLogsIn(account, next, opts.caFile))) throw new RotationFailure("verify_failed");
}
