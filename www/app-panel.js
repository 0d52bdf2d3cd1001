// The app panel: what the app shows now (the representation the paused run asks about, else the
// last one the run received), the person's answers to it, the polling authenticator's Cancel and
// the simulated other device. It reads the run's state (main.js) and answers through `actions`.

import { renderAppView, renderOtherDevice } from "./app-view.js";
import * as dom from "./dom.js";
import { isProblem, parse, problemName, representationOf } from "./haapi.js";
import { h, replace } from "./render.js";
import { APP } from "./strings.js";

export function isPendingPoll(rep) {
  const m = parse(rep ?? {});
  return m.type === "polling-step" && (m.properties.status ?? "pending") === "pending";
}

/** Polls sent in the wait the trace ends with (the pending polling-steps after the first). */
export function pollsSoFar(trace) {
  let pending = 0;
  for (let i = trace.steps.length - 1; i >= 0 && isPendingPoll(representationOf(trace.steps[i])); i -= 1) pending += 1;
  return Math.max(0, pending - 1);
}

/**
 * `state`: the run's state (`question`, `trace`, `config`, `inRun`, `typed`, `answerProblem`,
 * `otherDeviceMessage`). `actions`: `answer(answer)`, `cancelPolling()`, `decide(approve)`.
 * Returns `{ render(), focus() }`.
 */
export function createAppPanel(state, actions) {
  const simulated = () => (state.config?.server?.mode ?? "simulator") === "simulator";

  /** The demo account to hint at, in simulator mode: the configured first user, else the simulator's default. */
  function demoAccount() {
    if (!simulated()) return null;
    const user = state.config?.server?.simulator?.authentication?.users?.[0];
    return { userName: user?.userName ?? "demo", password: user?.password ?? "Password1" };
  }

  /** The HAAPI representation the app shows now: the question's, else the last one the trace holds. */
  function current() {
    if (state.question) return state.question.representation;
    for (let i = state.trace.steps.length - 1; i >= 0; i -= 1) {
      const rep = representationOf(state.trace.steps[i]);
      if (rep) return rep;
    }
    return null;
  }

  /** What to do after a problem: the failed step's advice, then the page's for its type. */
  function adviceFor(problem) {
    if (!problem) return [];
    const failed = state.trace.steps.findLast((s) => s.status === "failed" && s.error?.code === "HAAPI_PROBLEM");
    return [...(failed?.notes?.slice(-1) ?? []), APP.problemAdvice[problemName(problem)]].filter(Boolean);
  }

  /** Values to show in the form: the configuration's (authentication.inputs), or what the person typed. */
  function prefillFor(question) {
    const inputs = state.config?.authentication?.inputs ?? {};
    const out = {};
    for (const f of question.fields ?? []) {
      if (f.hasValue && typeof inputs[f.name] === "string") out[f.name] = inputs[f.name];
      else if (f.type !== "password" && typeof state.typed[f.name] === "string") out[f.name] = state.typed[f.name];
    }
    return out;
  }

  function render() {
    const q = state.question;
    const rep = current();
    dom.appSection.classList.toggle("is-asking", Boolean(q));
    if (!rep) {
      replace(dom.appView, h("p", { class: "muted app-idle" }, APP.idle));
      renderOtherDevice(dom.otherDevice, { visible: false });
      return;
    }
    const polling = state.inRun && !q && isPendingPoll(rep);
    const note = h("p", { class: "hint app-note", role: "status" }, state.answerProblem);
    const view = renderAppView(rep, {
      live: true,
      question: q,
      problem: q?.problem ?? null,
      advice: adviceFor(q?.problem ?? (isProblem(rep) ? rep : null)),
      polling: polling ? { polls: pollsSoFar(state.trace), active: true } : null,
      prefill: q?.kind === "form" ? prefillFor(q) : {},
      demo: demoAccount(),
      onAnswer: (answer) => actions.answer(answer),
      onCancelPolling: () => actions.cancelPolling(),
      onLink: (link) => {
        note.textContent = APP.link(link.rel, link.href);
      },
    });
    const giveUp = q ? h("p", { class: "app-give-up" },
      h("button", { type: "button", class: "small quiet", onclick: () => actions.answer({ giveUp: true }) }, APP.giveUp),
      h("span", { class: "muted small" }, ` ${APP.giveUpHint}`)) : null;
    replace(dom.appView, view, note, giveUp);
    renderOtherDevice(dom.otherDevice, { visible: polling && simulated(), onDecide: (approve) => actions.decide(approve), message: state.otherDeviceMessage });
  }

  /** Focus on the app view's first control that needs the person (an empty field, else a button). */
  function focus() {
    const empty = Array.from(dom.appView.querySelectorAll("input:not([disabled])")).find((i) => i.value === "");
    const target = empty ?? dom.appView.querySelector("input:not([disabled]), button.app-option:not([disabled]), button.primary:not([disabled]), button:not([disabled])");
    (target ?? dom.appSection).focus();
    dom.appSection.scrollIntoView({ block: "nearest" });
  }

  return { render, focus };
}
