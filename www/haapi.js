// HAAPI representations (application/vnd.auth+json and application/problem+json) as plain data:
// the parts an app draws from (type, actions, fields, links, messages, properties, problems),
// read generically from whatever JSON the server sent. Nothing here knows the simulator.

export const MEDIA_TYPE = "application/vnd.auth+json";
export const PROBLEM_MEDIA_TYPE = "application/problem+json";
const PROBLEM_PREFIX = "https://curity.se/problems/";

const array = (v) => (Array.isArray(v) ? v : []);
const object = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const text = (v) => (typeof v === "string" && v !== "" ? v : null);

function headerOf(headers, name) {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** The representation a trace step's response carries (a HAAPI media type and a JSON object), or null. */
export function representationOf(step) {
  const response = step?.response;
  if (!response?.body) return null;
  const type = (headerOf(response.headers, "content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== MEDIA_TYPE && type !== PROBLEM_MEDIA_TYPE) return null;
  try {
    const value = JSON.parse(response.body);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** True for a problem (RFC 7807 / Curity's problem types), whatever media type carried it. */
export function isProblem(rep) {
  const type = text(rep?.type) ?? "";
  return type.startsWith(PROBLEM_PREFIX) || (type.includes("/problems/") && array(rep?.actions).length === 0);
}

/** The short name of a problem type (`incorrect-credentials`), or the type itself. */
export function problemName(rep) {
  const type = text(rep?.type) ?? "";
  return type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type;
}

/** A form action's model, normalised: `{ href, method, type, actionTitle, fields }`. */
export function formOf(action) {
  const model = object(action?.model);
  return {
    href: text(model.href) ?? "",
    method: (text(model.method) ?? "GET").toUpperCase(),
    type: text(model.type),
    actionTitle: text(model.actionTitle),
    fields: array(model.fields).map((f) => ({
      name: text(f?.name) ?? "",
      type: text(f?.type) ?? "text",
      label: text(f?.label),
      value: typeof f?.value === "string" ? f.value : null,
      placeholder: text(f?.placeholder),
    })),
  };
}

/** Whether a field is one a person never types (sent as the server gave it). */
export const isHiddenField = (field) => field.type === "hidden" || field.type === "context";

/**
 * The parts of a representation an app draws from. Unknown members are kept in `raw`; every
 * list is present (possibly empty), so a renderer never needs to guard.
 */
export function parse(rep) {
  const r = object(rep);
  const actions = array(r.actions).map((a) => {
    const action = object(a);
    const template = text(action.template) ?? "";
    const base = { template, kind: text(action.kind), title: text(action.title), properties: object(action.properties) };
    if (template === "selector") {
      return { ...base, options: array(object(action.model).options).map((o) => ({ ...formOf(o), title: text(o?.title), kind: text(o?.kind), properties: object(o?.properties) })) };
    }
    if (template === "client-operation") {
      const model = object(action.model);
      return { ...base, operation: text(model.name) ?? "", arguments: object(model.arguments) };
    }
    return { ...base, form: formOf(action) };
  });
  return {
    raw: r,
    type: text(r.type) ?? "",
    problem: isProblem(r) ? problemName(r) : null,
    title: text(r.title),
    code: text(r.code),
    viewName: text(object(r.metadata).viewName),
    properties: object(r.properties),
    actions,
    links: array(r.links).map((l) => ({ href: text(l?.href) ?? "", rel: text(l?.rel) ?? "", title: text(l?.title) })),
    messages: array(r.messages).map((m) => ({ text: typeof m?.text === "string" ? m.text : String(m?.text ?? ""), classList: array(m?.classList).map(String) })),
    invalidFields: array(r.invalidFields).map((f) => ({ name: text(f?.name) ?? "", reason: text(f?.reason), detail: text(f?.detail) })),
  };
}

/** The action of `kind` (a polling step's `poll`, `cancel`, `redirect`), or null. */
export function actionOfKind(model, kind) {
  return model.actions.find((a) => a.kind === kind) ?? null;
}

/** One line on what a representation asks of the app, for the sequence picture and the step list. */
export function describe(rep) {
  if (!rep) return "";
  const m = parse(rep);
  if (m.problem) return `problem: ${m.problem}`;
  switch (m.type) {
    case "redirection-step":
      return "redirection-step";
    case "polling-step":
      return `polling-step: ${m.properties.status ?? "?"}`;
    case "oauth-authorization-response":
      return m.properties.code ? "authorization response (code)" : "authorization response";
    default:
      break;
  }
  const selector = m.actions.find((a) => a.template === "selector");
  if (selector) return `${m.type}: choose (${selector.options.length} options)`;
  const form = m.actions.find((a) => a.form && a.form.fields.some((f) => !isHiddenField(f)));
  if (form) return `${m.type}: form ${form.form.actionTitle ?? form.title ?? form.kind ?? ""}`.trim();
  return m.type || "representation";
}

function pathOf(url) {
  try {
    return new URL(url, "https://base.invalid").pathname;
  } catch {
    return url.split("?")[0];
  }
}

/**
 * What the app did with `previous` (the representation before) to send `request`: follow a
 * redirect, choose an authenticator, send a form, poll, cancel. Matched by the request's path
 * against the previous representation's actions; null when it cannot tell.
 */
export function describeAnswer(previous, request) {
  if (!previous || !request) return null;
  const m = parse(previous);
  const path = pathOf(request.url);
  const method = request.method?.toUpperCase();
  const same = (form) => form && pathOf(form.href) === path && form.method === method;
  if (m.type === "redirection-step") return "follow the redirect";
  for (const a of m.actions) {
    if (a.template === "selector") {
      const option = a.options.find(same);
      if (option) return `choose “${option.title ?? option.href}”`;
    } else if (a.form && same(a.form)) {
      if (a.kind === "poll") return "poll";
      if (a.kind === "cancel") return "cancel";
      if (a.kind === "redirect") return "go on";
      const visible = a.form.fields.filter((f) => !isHiddenField(f)).map((f) => f.name);
      return `send “${a.form.actionTitle ?? a.title ?? a.kind ?? "form"}”${visible.length ? ` (${visible.join(", ")})` : ""}`;
    }
  }
  return null;
}
