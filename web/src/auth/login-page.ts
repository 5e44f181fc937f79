// The sign-in page: single sign-on (when configured) or username and password, then the second
// factor when one is enrolled. Failures are said in words from the error code.
import "./auth.css";
import type { Me } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { renderSecondFactor } from "./second-factor.ts";

export function renderLogin(container: HTMLElement, onSignedIn: (me: Me) => void): Cleanup {
  document.title = "Sign in · PSM";
  const username = h("input", {
    id: "login-username",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    maxlength: 64,
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    maxlength: 1024,
  });
  const error = h("p", { id: "login-error", class: "alert", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", id: "login-submit" }, "Sign in");
  const sso = h("div", { class: "login-sso", hidden: true });

  const form = h(
    "form",
    { class: "login-form", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in"),
    h("p", { class: "muted" }, "Privileged Session Manager"),
    sso,
    field("Username", username),
    field("Password", password),
    error,
    submit,
  );

  let disposed = false;
  let stepCleanup: Cleanup | undefined;
  // An OIDC sign-in that ended at the second factor comes back as #/login?mfa=totp,webauthn,...
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const ssoError = params.get("sso_error");

  async function finish(): Promise<void> {
    const me = await api.me();
    if (me && !disposed) onSignedIn(me);
  }

  function secondStep(methods: Parameters<typeof renderSecondFactor>[1]): void {
    const panel = h(
      "div",
      { class: "login-form", "aria-labelledby": "mfa-title" },
      h("h1", { id: "mfa-title" }, "Confirm it is you"),
      h("p", { class: "muted" }, "Your account has a second factor."),
    );
    replace(container, h("section", { class: "login" }, panel));
    stepCleanup = renderSecondFactor(panel, methods, {
      onDone: () => void finish(),
      onRestart: () => {
        stepCleanup?.();
        location.hash = "#/login";
        location.reload();
      },
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      say(error, "Enter your username and password.");
      (username.value.trim() ? password : username).focus();
      return;
    }
    say(error, null);
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const result = await api.login({ username: username.value.trim(), password: password.value });
      if (disposed) return;
      if (result.stage === "full") onSignedIn(result.user);
      else secondStep(result.methods);
    } catch (failure) {
      if (disposed) return;
      say(
        error,
        errorText(failure, {
          unauthorized: "Wrong username or password.",
          bad_request: "Wrong username or password.",
          forbidden: "This account is disabled. Ask an admin.",
          rate_limited: "Too many failed attempts from here. Wait a few minutes and try again.",
        }),
      );
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  const pendingMfa = params.get("mfa");
  if (pendingMfa) {
    secondStep(
      pendingMfa
        .split(",")
        .filter((m): m is "totp" | "webauthn" | "recovery" | "push" | "duo" =>
          ["totp", "webauthn", "recovery", "push", "duo"].includes(m),
        ),
    );
  } else {
    append(container, h("section", { class: "login" }, form));
    if (ssoError) say(error, "Single sign-on did not complete. Try again, or ask an admin.");
    username.focus();
    api
      .oidcConfig()
      .then((config) => {
        if (disposed || !config.enabled) return;
        sso.hidden = false;
        replace(
          sso,
          h("a", { class: "button", id: "login-sso", href: "/api/oidc/start" }, `Sign in with ${config.label}`),
          h("p", { class: "muted" }, "or with a local account:"),
        );
      })
      .catch(() => undefined);
  }
  return () => {
    disposed = true;
    stepCleanup?.();
  };
}
