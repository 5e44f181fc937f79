// The sign-in page: username and password, with the failure said in words from the error code.
import type { Me } from "../../protocol/index.ts";
import { api, errorText } from "./api.ts";
import { type Cleanup, append, field, h, say } from "./dom.ts";

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

  const form = h(
    "form",
    { class: "login-form", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in"),
    h("p", { class: "muted" }, "Privileged Session Manager"),
    field("Username", username),
    field("Password", password),
    error,
    submit,
  );

  let disposed = false;
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
      const me = await api.login({ username: username.value.trim(), password: password.value });
      if (!disposed) onSignedIn(me);
    } catch (failure) {
      if (disposed) return;
      say(
        error,
        errorText(failure, {
          unauthorized: "Wrong username or password.",
          bad_request: "Wrong username or password.",
          forbidden: "This account is disabled. Ask an admin.",
        }),
      );
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  append(container, h("section", { class: "login" }, form));
  username.focus();
  return () => {
    disposed = true;
  };
}
