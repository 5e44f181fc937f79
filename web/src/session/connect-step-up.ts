// Step-up: asks the edge what this connect needs (a second factor, the master password) and why, shows the reasons
// in plain words, collects the proof in a dialog, then opens the session. Resolves to the session, or null when the
// user cancelled or the edge refused. The dialog itself (`withStepUp`) also serves joining a shared session at an
// invitation (shared-page.ts), where the joiner's own second factor is asked.
import type { z } from "zod";
import type { MfaMethod, SessionCreated as SessionCreatedSchema, StepUpDecision } from "../../../protocol/index.ts";
import { sealSecret } from "../../../keys/seal.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, say } from "../shared/dom.ts";

type SessionCreated = z.infer<typeof SessionCreatedSchema>;
import { renderSecondFactor } from "../auth/second-factor.ts";

/** A task's answer when the connector refused the master password: the dialog asks for it again. */
export const WRONG_MASTER_PASSWORD = Symbol("wrong master password");

/** What the step-up dialog does once the proof is in. */
export interface StepUpTask<T> {
  /** The dialog's heading: "Confirm it is you to connect to web-1". */
  title: string;
  /** The submit button's word ("Connect", "Join"); lower-cased in "You cannot connect until this is fixed". */
  action: string;
  /**
   * Carries it out, with the master password when the decision asked for it; `progress` shows a line in the
   * dialog while it works. A failure other than rate_limited or step_up_required closes the dialog and rejects.
   */
  run(masterPassword: string | undefined, progress: (text: string) => void): Promise<T | typeof WRONG_MASTER_PASSWORD>;
}

export async function connectWithStepUp(checkoutId: string, serverName: string): Promise<SessionCreated | null> {
  const decision = await api.stepUp(checkoutId);
  if (decision.decision === "allow") return api.createSession({ checkoutId });
  return withStepUp(decision, {
    title: `Confirm it is you to connect to ${serverName}`,
    action: "Connect",
    async run(masterPassword, progress) {
      if (!masterPassword) return api.createSession({ checkoutId });
      // Sealed here to the site's key: only the site's connector opens it, and checks it before connecting.
      if (!decision.sealKey) throw new Error("no seal key for this server's site");
      const created = await api.createSession({
        checkoutId,
        masterPasswordSealed: await sealSecret(decision.sealKey, masterPassword),
      });
      progress("Checking your master password…");
      return (await connectorVerdict(created.id)) === "master_password_wrong" ? WRONG_MASTER_PASSWORD : created;
    },
  });
}

/** The connector's answer on the master password: the session connected, ended, or still works on it (20 s). */
async function connectorVerdict(sessionId: string): Promise<string> {
  for (let i = 0; i < 80; i++) {
    const s = await api.session(sessionId);
    if (s.status === "ended") return s.endReason ?? "ended";
    if (s.status === "active") return "connected";
    await new Promise((r) => setTimeout(r, 250));
  }
  return "pending";
}

/** The step-up dialog for a decision that is not "allow": resolves to the task's result, or null when cancelled. */
export function withStepUp<T>(decision: StepUpDecision, task: StepUpTask<T>): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const dialog = h("dialog", { id: "step-up", class: "step-up", "aria-labelledby": "step-up-title" });
    let cleanup: Cleanup | undefined;
    const close = (value: T | null, error?: unknown) => {
      cleanup?.();
      dialog.close();
      dialog.remove();
      if (error) reject(error);
      else resolve(value);
    };
    void render(dialog, decision, task, close, (c) => {
      cleanup = c;
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function render<T>(
  dialog: HTMLDialogElement,
  decision: StepUpDecision,
  task: StepUpTask<T>,
  close: (value: T | null, error?: unknown) => void,
  setCleanup: (c: Cleanup) => void,
): Promise<void> {
  const error = h("p", { id: "step-up-error", class: "alert", role: "alert", hidden: true });
  const reasons = h(
    "ul",
    { id: "step-up-reasons" },
    ...decision.reasons.map((r) => h("li", { "data-reason": r.code }, r.text)),
  );
  const cancel = h("button", { type: "button", class: "button-quiet", id: "step-up-cancel" }, "Cancel");
  cancel.addEventListener("click", () => close(null));
  dialog.append(h("h2", { id: "step-up-title" }, task.title), reasons);

  if (decision.decision === "deny") {
    // What is missing is set up on the Account page: a working link, not directions.
    const account = h("a", { href: "#/account", id: "step-up-account" }, "Open your Account page to set it up");
    account.addEventListener("click", () => close(null));
    dialog.append(h("p", {}, `You cannot ${task.action.toLowerCase()} until this is fixed. `, account, "."), cancel);
    return;
  }

  let mfaDone = !decision.mfa;
  const mfaPart = h("div", { id: "step-up-mfa" });
  if (decision.mfa) {
    const status = await api.mfaStatus();
    const methods: MfaMethod[] = [
      ...(status.webauthn.length ? (["webauthn"] as const) : []),
      ...(status.totp ? (["totp"] as const) : []),
      ...(status.recoveryCodesLeft ? (["recovery"] as const) : []),
      ...(status.duo ? (["duo"] as const) : []),
      "push",
    ];
    setCleanup(
      renderSecondFactor(mfaPart, methods, {
        keyOnly: decision.mfa === "webauthn",
        // Duo's prompt leaves this page: it comes back here, and the next Connect finds the fresh factor.
        returnTo: location.hash,
        onDone: () => {
          mfaDone = true;
          mfaPart.replaceChildren(h("p", { class: "note" }, "Second factor confirmed."));
          if (!decision.masterPassword) void submit();
        },
        onRestart: () => close(null),
      }),
    );
  }

  const master = h("input", { id: "step-up-master", type: "password", autocomplete: "off", maxlength: 1024 });
  const confirm = h("input", { id: "step-up-master-confirm", type: "password", autocomplete: "off", maxlength: 1024 });
  const go = h("button", { type: "submit", id: "step-up-connect" }, task.action);
  const form = h(
    "form",
    { novalidate: true },
    decision.masterPassword
      ? decision.masterPasswordSet
        ? field("Master password", master)
        : h(
            "div",
            {},
            h(
              "p",
              {},
              "Choose your master password. You will be asked for it when you connect to servers like this one.",
            ),
            field("New master password", master, "At least 12 characters."),
            field("Repeat it", confirm),
          )
      : null,
    error,
    h("div", { class: "actions" }, go, cancel),
  );

  async function submit(): Promise<void> {
    say(error, null);
    if (!mfaDone) return say(error, "Confirm with your second factor first.");
    const mp = decision.masterPassword ? master.value : undefined;
    if (decision.masterPassword && !decision.masterPasswordSet) {
      if (master.value.length < 12) return say(error, "Use at least 12 characters.");
      if (master.value !== confirm.value) return say(error, "The two entries differ.");
      try {
        await api.setMasterPassword(master.value);
        decision.masterPasswordSet = true;
      } catch (failure) {
        return say(error, errorText(failure));
      }
    }
    go.disabled = true;
    try {
      const done = await task.run(mp, (text) => say(error, text, "ok"));
      if (done === WRONG_MASTER_PASSWORD) {
        go.disabled = false;
        master.value = "";
        return say(error, "Wrong master password.");
      }
      close(done);
    } catch (failure) {
      go.disabled = false;
      master.value = "";
      if (failure instanceof ApiError && (failure.code === "rate_limited" || failure.code === "step_up_required"))
        return say(
          error,
          errorText(failure, { rate_limited: "Too many wrong master passwords. Wait and try again later." }),
        );
      close(null, failure);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit();
  });
  dialog.append(mfaPart, form);
  (decision.masterPassword
    ? master
    : mfaPart.querySelector<HTMLButtonElement | HTMLInputElement>("button, input")
  )?.focus();
}
