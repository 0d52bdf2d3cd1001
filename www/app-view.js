// "What an app would draw": a HAAPI representation rendered as a mobile app's screen, generated
// from the representation itself (its type, actions, fields, links, messages, properties and
// problem members), the way Curity's UI kits draw any authenticator without knowing it. Nothing
// here knows the simulator's authenticators.
//
// The same drawing serves twice: live in the app panel (where a person answers the run's
// question: types into the form, picks an authenticator, follows a redirect, cancels polling),
// and static in the inspector, next to the representation's JSON.
//
// Text only ever goes through textContent (h), never innerHTML: a server's strings stay text.

import { actionOfKind, isHiddenField, parse } from "./haapi.js";
import { h, replace } from "./render.js";
import { APP } from "./strings.js";

let ids = 0;

/** A field's input type in the app: password fields masked, others plain text. */
function inputType(field) {
  if (field.type === "password") return "password";
  if (field.type === "email") return "email";
  if (field.type === "tel") return "tel";
  return "text";
}

function messageList(messages) {
  if (messages.length === 0) return null;
  return h("div", { class: "app-messages" }, messages.map((m) => {
    const level = m.classList.includes("error") ? "error" : m.classList.includes("warning") ? "warning" : "info";
    return h("p", { class: ["app-message", `app-message-${level}`], dataset: { classList: m.classList.join(" ") } }, m.text);
  }));
}

function linkList(links, { onLink, live }) {
  const shown = links.filter((l) => l.rel !== "authorization-response" && l.rel !== "self");
  if (shown.length === 0) return null;
  return h("ul", { class: "app-links" }, shown.map((link) => h("li", {},
    h("button", {
      type: "button",
      class: "link app-link",
      dataset: { rel: link.rel },
      title: link.href,
      disabled: !live || null,
      onclick: (event) => onLink?.(link, event),
    }, link.title ?? link.rel))));
}

/** A problem: its title, messages, the fields to correct, and what to do. */
export function renderProblem(problem, { advice = [], level = 4, live = false } = {}) {
  const m = parse(problem);
  const heading = `h${level}`;
  return h("div", { class: "app-problem", role: live ? "alert" : null, dataset: { problem: m.problem ?? m.type } },
    h(heading, { class: "app-problem-title" }, m.title ?? m.problem ?? "Problem"),
    h("p", { class: "muted small" }, h("code", {}, m.type), m.code ? [" · ", h("code", {}, m.code)] : null),
    messageList(m.messages),
    m.invalidFields.length ? h("div", {}, h("p", { class: "app-label" }, APP.invalid),
      h("ul", { class: "app-invalid" }, m.invalidFields.map((f) => h("li", {}, h("code", {}, f.name), f.detail ? `: ${f.detail}` : f.reason ? `: ${f.reason}` : "")))) : null,
    advice.length ? h("div", { class: "app-advice", dataset: { advice: "true" } }, h("p", { class: "app-label" }, APP.whatToDo), h("ul", {}, advice.map((a) => h("li", {}, a)))) : null);
}

/**
 * A form action. `answerable`: the run waits on this form (the inputs and the button work).
 * `question`: the run's form question (which fields have a value). `prefill`: values to show.
 */
function renderForm(action, { answerable, question, prefill = {}, invalid = [], onAnswer, demo, idPrefix }) {
  const form = action.form;
  const visible = form.fields.filter((f) => !isHiddenField(f));
  const hidden = form.fields.filter(isHiddenField);
  const questionField = (name) => question?.fields?.find((f) => f.name === name);
  const errors = new Map();
  const rows = visible.map((field) => {
    const id = `${idPrefix}-${field.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const problem = invalid.find((f) => f.name === field.name);
    const error = h("p", { class: "app-field-error", id: `${id}-error`, hidden: !problem || null }, problem ? problem.detail ?? problem.reason ?? "" : "");
    errors.set(field.name, error);
    const q = questionField(field.name);
    const value = prefill[field.name] ?? (field.type !== "password" ? field.value : null) ?? "";
    const input = h("input", {
      id,
      name: field.name,
      type: inputType(field),
      value: value || null,
      placeholder: field.placeholder,
      autocomplete: "off",
      spellcheck: "false",
      autocapitalize: "off",
      disabled: !answerable || null,
      "aria-invalid": problem ? "true" : null,
      "aria-describedby": `${id}-error`,
      dataset: { field: field.name, hasValue: q?.hasValue ? "true" : null },
    });
    return h("div", { class: "app-field" }, h("label", { for: id }, field.label ?? field.name), input, error);
  });
  const button = h("button", { type: "submit", class: "primary app-submit", disabled: !answerable || null },
    form.actionTitle ?? action.title ?? APP.submit);
  const el = h("form", { class: "app-form", novalidate: true, dataset: { actionKind: action.kind ?? "" }, "aria-label": action.title ?? form.actionTitle ?? APP.submit },
    rows,
    hidden.length ? h("p", { class: "muted small app-hidden-note" }, APP.hidden(hidden.map((f) => `${f.name}${f.value !== null ? `=${f.value}` : ""}`))) : null,
    demo && visible.some((f) => f.type === "password") ? h("p", { class: "hint app-demo-hint", dataset: { demoHint: "true" } }, APP.demoHint(demo.userName, demo.password)) : null,
    h("div", { class: "app-actions" }, button));
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!answerable) return;
    const values = {};
    let first = null;
    for (const field of visible) {
      const input = el.elements.namedItem(field.name);
      const value = input?.value ?? "";
      const error = errors.get(field.name);
      const has = questionField(field.name)?.hasValue;
      if (value === "" && !has) {
        error.textContent = APP.required(field.label ?? field.name);
        error.hidden = false;
        input?.setAttribute("aria-invalid", "true");
        first ??= input;
        continue;
      }
      error.hidden = true;
      input?.removeAttribute("aria-invalid");
      if (value !== "") values[field.name] = value;
    }
    if (first) {
      first.focus();
      return;
    }
    onAnswer?.({ values }, event);
  });
  return el;
}

function renderSelector(action, { answerable, question, onAnswer }) {
  return h("div", { class: "app-selector", role: "group", "aria-label": action.title ?? "Authenticators" },
    action.title ? h("p", { class: "app-label" }, action.title) : null,
    h("ul", { class: "app-options" }, action.options.map((option, index) => h("li", {},
      h("button", {
        type: "button",
        class: "app-option",
        disabled: !answerable || null,
        dataset: { option: String(index), authenticatorType: option.properties.authenticatorType ?? null },
        onclick: (event) => onAnswer?.({ choose: index }, event),
      },
      // Spaces between the parts keep the button's accessible name readable.
      h("span", { class: "app-option-title" }, option.title ?? option.href),
      option.properties.authenticatorType ? [" ", h("span", { class: "app-option-type" }, option.properties.authenticatorType)] : null,
      question?.configured === index ? [" ", h("span", { class: "app-option-type" }, `(${APP.configured})`)] : null)))));
}

function renderRedirect(model, { answerable, onAnswer }) {
  const action = model.actions.find((a) => a.form) ?? null;
  return h("div", { class: "app-redirect" },
    h("p", {}, APP.redirect),
    h("p", { class: "mono break small" }, action?.form.href ?? "?"),
    answerable
      ? h("div", { class: "app-actions" }, h("button", { type: "button", class: "primary app-follow", onclick: (event) => onAnswer?.({ proceed: true }, event) }, APP.follow))
      : h("p", { class: "muted small" }, APP.redirectAuto));
}

function renderPolling(model, { polling, onCancelPolling }) {
  const status = model.properties.status ?? "pending";
  const cancel = actionOfKind(model, "cancel");
  if (status === "done") return h("div", { class: "app-polling", dataset: { pollingStatus: status } }, h("p", { class: "app-status is-ok" }, APP.done));
  if (status === "failed") return h("div", { class: "app-polling", dataset: { pollingStatus: status } }, h("p", { class: "app-status is-failed" }, APP.failed));
  return h("div", { class: "app-polling", dataset: { pollingStatus: status } },
    h("p", { class: "app-status", role: "status" }, h("span", { class: "app-spinner", "aria-hidden": "true" }), APP.pending(polling?.polls ?? 0)),
    cancel ? h("div", { class: "app-actions" }, h("button", {
      type: "button",
      class: "app-cancel",
      disabled: !polling?.active || null,
      onclick: (event) => onCancelPolling?.(event),
    }, cancel.form?.actionTitle ?? cancel.title ?? APP.cancel)) : null);
}

function renderAuthorizationResponse(model) {
  const p = model.properties;
  const rows = [["code", p.code], ["state", p.state], ["iss", p.iss], ["error", p.error], ["error_description", p.error_description]].filter(([, v]) => typeof v === "string");
  return h("div", { class: "app-done" },
    h("p", { class: p.error ? "app-status is-failed" : "app-status is-ok" }, p.error ? `${p.error}` : APP.loggedIn),
    rows.length ? h("dl", { class: "facts app-facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono break" }, v)])) : null);
}

/**
 * Draws `representation` as an app would. Options:
 * - `live`: drawn in the app panel (the links and the polling Cancel work);
 * - `question`: the run's question, when it waits on this representation (its controls work);
 * - `problem`, `advice`: the problem the last answer caused, and what to do about it;
 * - `polling`: `{ polls, active }` while the app polls;
 * - `prefill`: form values to show; `demo`: `{ userName, password }` to hint at (simulator);
 * - `onAnswer(answer, event)`, `onCancelPolling(event)`, `onLink(link, event)`.
 */
export function renderAppView(representation, options = {}) {
  const { live = false, question = null, problem = null, advice = [], polling = null, prefill = {}, demo = null, onAnswer, onCancelPolling, onLink } = options;
  const model = parse(representation);
  const idPrefix = `app${(ids += 1)}`;
  const parts = [];
  // The screen's title: the main form's (not a selector's, drawn with its options, nor a
  // poll's, cancel's or redirect's, which are controls of their own).
  const title = model.problem ? null : model.actions.find((a) => a.title && a.form && !["poll", "cancel", "redirect"].includes(a.kind))?.title ?? null;
  if (title) parts.push(h("p", { class: "app-title" }, title));
  if (problem) parts.push(renderProblem(problem, { advice, live }));
  if (model.problem) {
    parts.push(renderProblem(representation, { advice, live }));
  } else {
    parts.push(messageList(model.messages));
    const invalid = problem ? parse(problem).invalidFields : [];
    switch (model.type) {
      case "redirection-step":
        parts.push(renderRedirect(model, { answerable: question?.kind === "redirect", onAnswer }));
        break;
      case "polling-step":
        parts.push(renderPolling(model, { polling: live ? polling : null, onCancelPolling }));
        break;
      case "oauth-authorization-response":
        parts.push(renderAuthorizationResponse(model));
        break;
      default: {
        let drawn = 0;
        for (const action of model.actions) {
          if (action.template === "selector") {
            parts.push(renderSelector(action, { answerable: question?.kind === "choose", question, onAnswer }));
          } else if (action.template === "client-operation") {
            parts.push(h("p", { class: "app-status" }, APP.clientOperation(action.operation)));
          } else if (action.form) {
            parts.push(renderForm(action, { answerable: question?.kind === "form", question, prefill, invalid, onAnswer, demo, idPrefix: `${idPrefix}-${drawn}` }));
          }
          drawn += 1;
        }
        if (drawn === 0) parts.push(h("p", { class: "muted" }, APP.noAction));
      }
    }
  }
  parts.push(linkList(model.links, { onLink, live }));
  return h("div", {
    class: ["app-screen", question ? "is-asking" : null],
    dataset: { representationType: model.type, viewName: model.viewName ?? null },
  }, parts);
}

/** The simulated other device (approve or deny a login that waits on it). */
export function renderOtherDevice(container, { visible, onDecide, message = "" }) {
  container.hidden = !visible;
  if (!visible) {
    replace(container);
    return;
  }
  replace(container,
    h("h3", { id: "other-device-heading" }, APP.otherDevice),
    h("p", { class: "hint" }, APP.otherDeviceIntro),
    h("div", { class: "app-actions" },
      h("button", { type: "button", class: "primary", id: "btn-approve", onclick: (event) => onDecide(true, event) }, APP.approve),
      h("button", { type: "button", class: "danger", id: "btn-deny", onclick: (event) => onDecide(false, event) }, APP.deny)),
    h("p", { class: "hint", role: "status" }, message));
}
