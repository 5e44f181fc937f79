// The second-factor step, shared by sign-in and step-up at connect: a security key (WebAuthn), an
// authenticator app code (TOTP), a recovery code, approval from another signed-in device with
// number matching, or Duo (the page goes to Duo's prompt and comes back at #/duo, see duo-return.ts).
// Resolves through onDone once the edge accepted one.
import { startAuthentication } from "@simplewebauthn/browser";
import type { MfaMethod } from "../../../protocol/index.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, say } from "../shared/dom.ts";

/** How often the waiting device asks whether the push was answered, ms. */
const PUSH_POLL_MS = 1500;

export function renderSecondFactor(
  container: HTMLElement,
  methods: readonly MfaMethod[],
  opts: { onDone: () => void; onRestart: () => void; keyOnly?: boolean; returnTo?: string },
): Cleanup {
  let disposed = false;
  let pushTimer: ReturnType<typeof setTimeout> | undefined;
  const error = h("p", { id: "mfa-error", class: "alert", role: "alert", hidden: true });
  const info = h("p", { id: "mfa-info", class: "note", role: "status", hidden: true });

  const failed = (failure: unknown) => {
    if (disposed) return;
    if (failure instanceof ApiError && failure.code === "code_not_accepted") {
      say(error, "That was not accepted. Try again; after several wrong answers you must sign in again.");
    } else if (failure instanceof ApiError && failure.status === 401 && failure.code === "unauthorized") {
      say(error, "That was not accepted. Try again; after several wrong answers you must sign in again.");
    } else if (failure instanceof DOMException) {
      say(error, "The security key did not answer (cancelled or timed out). Try again.");
    } else say(error, errorText(failure));
  };
  const done = () => {
    if (!disposed) opts.onDone();
  };

  const parts: HTMLElement[] = [];
  if (methods.includes("webauthn")) {
    const button = h("button", { type: "button", id: "mfa-key" }, "Use security key or passkey");
    button.addEventListener("click", async () => {
      say(error, null);
      button.disabled = true;
      try {
        const optionsJSON = await api.keyAuthOptions();
        const response = await startAuthentication({ optionsJSON: optionsJSON as never });
        await api.keyAuthenticate(response);
        done();
      } catch (failure) {
        failed(failure);
      } finally {
        button.disabled = false;
      }
    });
    parts.push(button);
  }
  if (!opts.keyOnly && methods.includes("duo")) {
    const button = h("button", { type: "button", id: "mfa-duo" }, "Use Duo");
    button.addEventListener("click", async () => {
      say(error, null);
      button.disabled = true;
      try {
        const started = await api.duoStart(opts.returnTo);
        // To Duo's prompt; it sends the browser back to #/duo.
        if (started.next === "redirect") return location.assign(started.url);
        // Duo is down and the organisation lets sign-in go on without it.
        say(info, "Duo cannot be reached; your organisation lets you sign in without it for now.", "info");
        done();
      } catch (failure) {
        button.disabled = false;
        failed(failure);
      }
    });
    parts.push(button);
  }
  if (!opts.keyOnly && methods.includes("totp")) {
    const code = h("input", {
      id: "mfa-code",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: 6,
    });
    const form = h(
      "form",
      { class: "mfa-totp", novalidate: true },
      field("Code from your authenticator app", code),
      h("button", { type: "submit", id: "mfa-code-submit" }, "Verify"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!/^\d{6}$/.test(code.value.trim())) return say(error, "Enter the 6-digit code.");
      say(error, null);
      try {
        await api.totpVerify(code.value.trim());
        done();
      } catch (failure) {
        code.value = "";
        failed(failure);
      }
    });
    parts.push(form);
  }
  if (!opts.keyOnly && methods.includes("push")) {
    const button = h("button", { type: "button", id: "mfa-push", class: "button-quiet" }, "Approve on another device");
    const number = h("p", { id: "mfa-push-number", class: "push-number", hidden: true });
    button.addEventListener("click", async () => {
      say(error, null);
      try {
        const started = await api.pushStart();
        number.hidden = false;
        number.textContent = String(started.number);
        say(info, `On a device where you are signed in, open Account and type ${started.number}.`, "info");
        const poll = async () => {
          if (disposed) return;
          try {
            const state = await api.pushState(started.id);
            if (state.status === "approved") return done();
            if (state.status !== "pending") {
              number.hidden = true;
              say(info, null);
              return say(error, state.status === "denied" ? "The request was denied." : "The request expired.");
            }
          } catch (failure) {
            return failed(failure);
          }
          pushTimer = setTimeout(poll, PUSH_POLL_MS);
        };
        pushTimer = setTimeout(poll, PUSH_POLL_MS);
      } catch (failure) {
        failed(failure);
      }
    });
    parts.push(h("div", { class: "mfa-push" }, button, number));
  }
  if (!opts.keyOnly && methods.includes("recovery")) {
    const code = h("input", { id: "mfa-recovery", autocomplete: "off", maxlength: 32 });
    const form = h(
      "form",
      { class: "mfa-recovery", novalidate: true },
      field("Recovery code", code, "Each code works once."),
      h("button", { type: "submit", class: "button-quiet", id: "mfa-recovery-submit" }, "Use recovery code"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say(error, null);
      try {
        await api.recovery(code.value.trim());
        done();
      } catch (failure) {
        failed(failure);
      }
    });
    parts.push(h("details", {}, h("summary", {}, "Lost your device?"), form));
  }
  const restart = h("button", { type: "button", class: "button-quiet", id: "mfa-restart" }, "Start over");
  restart.addEventListener("click", () => opts.onRestart());
  container.append(h("div", { class: "second-factor", id: "second-factor" }, ...parts, info, error, restart));
  return () => {
    disposed = true;
    clearTimeout(pushTimer);
  };
}
