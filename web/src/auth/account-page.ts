// The account page (#/account): second factors (authenticator app with a QR code, security keys and
// passkeys, recovery codes shown once), sign-in approvals for another device (number matching), the
// master password asked at connect, the local password, and the keyboard layout of remote desktops.
import { MASTER_PASSWORD_MIN_LENGTH } from "../../../protocol/master-password.ts";
import { startRegistration } from "@simplewebauthn/browser";
import type { MfaMethod, MfaStatus } from "../../../protocol/index.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";
import { renderPushDevices } from "./push-device.ts";
import { qrSvg } from "./qr-code.ts";
import { renderNotifyPreferences } from "./notify-preferences.ts";
import { renderKeyboardLayout } from "./keyboard-layout-setting.ts";
import { renderSecondFactor } from "./second-factor.ts";

/** How often the page looks for sign-in requests to approve, ms. */
const PUSH_POLL_MS = 2000;

export function renderAccount(container: HTMLElement): Cleanup {
  document.title = "Account · PSM";
  let disposed = false;
  let pushTimer: ReturnType<typeof setTimeout> | undefined;
  /** The ids of the sign-in requests on screen ("" for none yet). */
  let shownRequests: string | null = null;
  let stepCleanup: Cleanup | undefined;
  const status = h("p", { id: "account-status", class: "note", role: "status", hidden: true });
  const error = h("p", { id: "account-error", class: "alert", role: "alert", hidden: true });
  const factors = h("section", { class: "card", "aria-labelledby": "factors-title" });
  const approvals = h("section", { class: "card", id: "push-approvals", "aria-labelledby": "approvals-title" });
  const secrets = h("section", { class: "card", "aria-labelledby": "secrets-title" });
  const notices = h("section", { class: "card", id: "notify-preferences", "aria-labelledby": "notify-title" });
  const noticesCleanup = renderNotifyPreferences(notices);
  const keyboard = h("section", {
    class: "card",
    id: "keyboard-layout-card",
    "aria-labelledby": "keyboard-layout-title",
  });
  const keyboardCleanup = renderKeyboardLayout(keyboard);
  const stepUp = h("div", { id: "account-step-up" });
  container.append(
    h("h1", {}, "Account and security"),
    status,
    error,
    stepUp,
    approvals,
    factors,
    secrets,
    notices,
    keyboard,
  );
  // Notified devices (Web Push, push-device.ts) come right after the sign-in requests they announce.
  const notify = h("section", { class: "card", id: "push-devices", "aria-labelledby": "push-devices-title" });
  approvals.after(notify);
  const notifyCleanup = renderPushDevices(notify);

  const methodsOf = (s: MfaStatus): MfaMethod[] => [
    ...(s.webauthn.length ? (["webauthn"] as const) : []),
    ...(s.totp ? (["totp"] as const) : []),
    ...(s.recoveryCodesLeft ? (["recovery"] as const) : []),
    ...(s.duo ? (["duo"] as const) : []),
  ];

  /** Runs a factor change; when the edge asks for a fresh second factor first, asks for it and retries. */
  async function guarded(action: () => Promise<void>, current: MfaStatus): Promise<void> {
    try {
      await action();
    } catch (failure) {
      if (!(failure instanceof ApiError && failure.code === "step_up_required")) throw failure;
      say(status, "Confirm it is you first.", "info");
      await new Promise<void>((resolve) => {
        stepCleanup = renderSecondFactor(stepUp, methodsOf(current), {
          // Duo's prompt leaves the page and comes back here; the change is then made again by hand.
          returnTo: "#/account",
          onDone: () => {
            stepCleanup?.();
            replace(stepUp);
            resolve();
          },
          onRestart: () => location.reload(),
        });
      });
      await action();
    }
  }

  function showRecoveryCodes(codes: string[]): void {
    const list = h(
      "ol",
      { id: "recovery-codes", class: "recovery-codes" },
      ...codes.map((c) => h("li", {}, h("code", {}, c))),
    );
    const ok = h("button", { type: "button", id: "recovery-saved" }, "I have saved them");
    ok.addEventListener("click", () => void load());
    replace(
      factors,
      h("h2", { id: "factors-title" }, "Recovery codes"),
      h(
        "p",
        {},
        "Save these codes somewhere safe. Each works once if you lose your device. They will not be shown again.",
      ),
      list,
      ok,
    );
  }

  async function enrolTotp(s: MfaStatus): Promise<void> {
    await guarded(async () => {
      const { secret, uri } = await api.totpEnrol();
      const code = h("input", {
        id: "totp-confirm-code",
        inputmode: "numeric",
        maxlength: 6,
        autocomplete: "one-time-code",
      });
      const form = h(
        "form",
        { novalidate: true },
        field("Code shown by the app", code),
        h("button", { type: "submit", id: "totp-confirm" }, "Turn on"),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const { recoveryCodes } = await api.totpConfirm(code.value.trim());
          showRecoveryCodes(recoveryCodes);
        } catch (failure) {
          say(
            error,
            errorText(failure, { code_not_accepted: "That code was not right. Check your app and try the next one." }),
          );
        }
      });
      replace(
        factors,
        h("h2", { id: "factors-title" }, "Set up an authenticator app"),
        h("p", {}, "Scan this code with your authenticator app, or type the key by hand."),
        qrSvg(uri, "QR code for your authenticator app"),
        h("p", {}, "Key: ", h("code", { id: "totp-secret" }, secret)),
        form,
      );
      code.focus();
    }, s);
  }

  async function addKey(s: MfaStatus, name: string): Promise<void> {
    await guarded(async () => {
      const optionsJSON = await api.keyRegisterOptions();
      const response = await startRegistration({ optionsJSON: optionsJSON as never });
      await api.keyRegister(name || "Security key", response);
      const fresh = await api.mfaStatus();
      // The first factor comes with recovery codes.
      if (!s.totp && !s.webauthn.length && !fresh.recoveryCodesLeft)
        showRecoveryCodes((await api.regenerateRecovery()).recoveryCodes);
      else await load();
      say(status, "Security key added.", "ok");
    }, s);
  }

  function renderFactors(s: MfaStatus): void {
    const keyName = h("input", { id: "key-name", maxlength: 64, placeholder: "e.g. YubiKey, laptop" });
    const addKeyButton = h("button", { type: "button", id: "key-add" }, "Add security key or passkey");
    addKeyButton.addEventListener("click", () => void addKey(s, keyName.value.trim()).catch(fail));
    const keys = s.webauthn.map((k) => {
      const remove = h("button", { type: "button", class: "button-quiet" }, "Remove");
      remove.addEventListener("click", () => void guarded(() => api.keyRemove(k.id).then(load), s).catch(fail));
      return h(
        "li",
        { "data-key": k.name },
        `${k.name} · added ${new Date(k.createdAt).toLocaleDateString()} `,
        remove,
      );
    });
    const totpButton = h(
      "button",
      { type: "button", id: s.totp ? "totp-remove" : "totp-enrol" },
      s.totp ? "Remove authenticator app" : "Set up authenticator app",
    );
    totpButton.addEventListener(
      "click",
      () => void (s.totp ? guarded(() => api.totpRemove().then(load), s) : enrolTotp(s)).catch(fail),
    );
    const regen = h(
      "button",
      { type: "button", class: "button-quiet", id: "recovery-regenerate" },
      "New recovery codes",
    );
    regen.addEventListener(
      "click",
      () => void guarded(async () => showRecoveryCodes((await api.regenerateRecovery()).recoveryCodes), s).catch(fail),
    );
    replace(
      factors,
      h("h2", { id: "factors-title" }, "Second factors"),
      h("p", { id: "totp-state" }, s.totp ? "Authenticator app: on." : "Authenticator app: off."),
      totpButton,
      h("h3", {}, "Security keys and passkeys"),
      keys.length ? h("ul", { id: "key-list" }, ...keys) : h("p", { class: "muted" }, "None yet."),
      field("Name of the new key", keyName),
      addKeyButton,
      s.totp || s.webauthn.length ? h("p", {}, `Recovery codes left: ${s.recoveryCodesLeft}. `, regen) : null,
    );
  }

  function renderSecrets(s: MfaStatus): void {
    const mpNext = h("input", { id: "mp-next", type: "password", autocomplete: "new-password", minlength: 12 });
    const mpForm = h(
      "form",
      { novalidate: true, id: "master-password-form" },
      field(
        s.masterPasswordSet ? "New master password" : "Master password",
        mpNext,
        "At least 12 characters. Asked when you connect to servers whose policy requires it. It never leaves this browser: only a salted hash (and, at connect, a copy sealed to the server's site) does.",
      ),
      h("button", { type: "submit" }, s.masterPasswordSet ? "Change master password" : "Set master password"),
    );
    mpForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        if (mpNext.value.length < MASTER_PASSWORD_MIN_LENGTH) {
          say(error, "Use at least 12 characters.");
          return;
        }
        await api.setMasterPassword(mpNext.value);
        say(status, "Master password saved.", "ok");
        await load();
      } catch (failure) {
        say(
          error,
          errorText(failure, {
            step_up_required: "Confirm with your second factor first (sign in again), then change it.",
          }),
        );
      }
    });
    const pwCurrent = h("input", { id: "pw-current", type: "password", autocomplete: "current-password" });
    const pwNext = h("input", { id: "pw-next", type: "password", autocomplete: "new-password", minlength: 12 });
    const pwForm = h(
      "form",
      { novalidate: true },
      field("Current password", pwCurrent),
      field("New password", pwNext, "At least 12 characters. Signs you out everywhere else."),
      h("button", { type: "submit" }, "Change password"),
    );
    pwForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api.changePassword(pwCurrent.value, pwNext.value);
        say(status, "Password changed. Your other sign-ins were ended.", "ok");
        pwCurrent.value = pwNext.value = "";
      } catch (failure) {
        say(
          error,
          errorText(failure, {
            forbidden: "The current password was wrong.",
            bad_request: "Use at least 12 characters.",
          }),
        );
      }
    });
    replace(
      secrets,
      h("h2", { id: "secrets-title" }, "Passwords"),
      h("h3", {}, "Master password"),
      mpForm,
      s.oidc ? null : h("h3", {}, "Sign-in password"),
      s.oidc ? null : pwForm,
    );
  }

  async function pollApprovals(): Promise<void> {
    if (disposed) return;
    try {
      const pending = await api.pushPending();
      // Rebuilt only when the requests change, so a number being typed is not wiped by the next poll.
      const ids = pending.map((p) => p.id).join(",");
      if (ids === shownRequests) return schedule();
      shownRequests = ids;
      const items = pending.map((p) => {
        // The number is typed, never offered: approving by habit, or by guessing among a few, fails.
        const input = h("input", {
          class: "push-number-input",
          inputmode: "numeric",
          pattern: "[0-9]{2}",
          maxlength: 2,
          autocomplete: "off",
          required: true,
          "aria-label": "The number the other device shows",
        });
        const approve = h("button", { type: "submit", class: "push-approve" }, "Approve");
        const form = h("form", { class: "push-answer" }, input, approve);
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const n = Number(input.value.trim());
          if (!Number.isInteger(n) || n < 10 || n > 99) return say(status, "Type the two-digit number.", "error");
          const state = await api.pushAnswer(p.id, n).catch(fail);
          say(
            status,
            state?.status === "approved" ? "Sign-in approved." : "Wrong number: that sign-in was denied.",
            state?.status === "approved" ? "ok" : "error",
          );
        });
        const deny = h("button", { type: "button", class: "button-quiet push-deny" }, "It was not me");
        deny.addEventListener("click", () => void api.pushDeny(p.id).catch(fail));
        return h(
          "li",
          { class: "push-request" },
          h(
            "p",
            {},
            `A sign-in is waiting${p.country ? ` from ${p.country}` : ""}${p.ip ? ` (${p.ip})` : ""}. Type the number it shows:`,
          ),
          h("div", { class: "push-choices" }, form, deny),
        );
      });
      replace(
        approvals,
        h("h2", { id: "approvals-title" }, "Sign-in requests"),
        items.length ? h("ul", {}, ...items) : h("p", { class: "muted" }, "None waiting."),
      );
    } catch {
      // A transient failure: the next poll tries again.
    }
    schedule();
  }

  function schedule(): void {
    pushTimer = setTimeout(() => void pollApprovals(), PUSH_POLL_MS);
  }

  function fail(failure: unknown): undefined {
    if (!disposed) say(error, errorText(failure));
    return undefined;
  }

  async function load(): Promise<void> {
    say(error, null);
    const s = await api.mfaStatus();
    if (disposed) return;
    renderFactors(s);
    renderSecrets(s);
  }

  void load().catch(fail);
  void pollApprovals();
  return () => {
    disposed = true;
    clearTimeout(pushTimer);
    stepCleanup?.();
    notifyCleanup();
    noticesCleanup();
    keyboardCleanup();
  };
}
