// #/duo: where Duo's prompt sends the browser back (through /api/mfa/duo/callback, which passes on Duo's
// code and state). Posts them to the edge, which finishes the sign-in or the step-up, then goes back to the
// page that started it (the sign-in: the home page). The code leaves the address bar at once.
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, h, replace } from "../shared/dom.ts";

export function renderDuoReturn(container: HTMLElement, onFinished: (returnTo: string | null) => void): Cleanup {
  let disposed = false;
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  history.replaceState(null, "", "#/duo");
  const status = h("p", { id: "duo-status", role: "status" }, "Finishing with Duo…");
  const panel = h(
    "div",
    { class: "login-form", "aria-labelledby": "duo-title" },
    h("h1", { id: "duo-title" }, "Duo"),
    status,
  );
  replace(container, h("section", { class: "login" }, panel));

  const failed = (text: string) => {
    if (disposed) return;
    replace(
      panel,
      h("h1", { id: "duo-title" }, "Duo"),
      h("p", { id: "duo-error", class: "alert", role: "alert" }, text),
      h("p", {}, h("a", { href: "#/login", id: "duo-back" }, "Back")),
    );
  };

  const state = params.get("state");
  const code = params.get("code");
  if (params.get("error") || !state || !code) {
    failed(params.get("error") === "denied" ? "Duo did not confirm it is you." : "Duo did not complete. Try again.");
  } else {
    api.duoFinish(state, code).then(
      (finished) => {
        if (!disposed) onFinished(finished.returnTo);
      },
      (failure: unknown) =>
        failed(errorText(failure, { unauthorized: "Duo did not confirm it is you. Sign in again." })),
    );
  }
  return () => {
    disposed = true;
  };
}
