// Renderers: plain data in, DOM out. Text only ever goes through textContent (createTextNode), never
// innerHTML, so nothing a server sends can become markup. No inline styles: state is a class.

import { CLAIMS, claimText, describeLocation, meaning } from "./claims.js";
import { DEVICE, ERROR_CODES, ERROR_LABELS, INSPECTOR, SHORTCUTS, STATUS_GLYPH, STATUS_WORD, STEPS, TEXT } from "./strings.js";

/**
 * Creates an element. `props`: `class` (string or array), `text`, `dataset`, `on<event>`
 * handlers, and plain attributes. Children: nodes, strings, arrays, null (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) el.dataset[k] = v;
    }
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style") throw new Error("inline styles are not allowed (CSP style-src 'self'): use a class");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const HTTP_REASON = {
  200: "OK", 201: "Created", 204: "No Content", 302: "Found", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
  403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type", 429: "Too Many Requests",
  500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
};

export function statusLine(status) {
  return `${status} ${HTTP_REASON[status] ?? ""}`.trim();
}

/** The step's entry in STEPS, or a minimal one for steps the picture does not draw. */
export function stepInfo(name) {
  return STEPS.find((s) => s.name === name) ?? { name, tag: "", title: name, request: "", answer: "" };
}

function badge(status) {
  return h("span", { class: ["badge", `badge-${status}`] }, h("span", { "aria-hidden": "true" }, STATUS_GLYPH[status] ?? ""), ` ${STATUS_WORD[status] ?? status}`);
}

function headerOf(headers, name) {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** A body in the most readable form its content type allows. */
export function renderBody(body, headers) {
  if (body === null || body === undefined || body === "") return h("p", { class: "muted" }, INSPECTOR.noBody);
  const type = (headerOf(headers, "content-type") ?? "").toLowerCase();
  if (type.startsWith("application/x-www-form-urlencoded")) {
    const params = Array.from(new URLSearchParams(body));
    return h("div", {},
      h("table", { class: "kv" },
        h("caption", { class: "visually-hidden" }, INSPECTOR.formParams),
        h("tbody", {}, params.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "mono" }, v))))),
      h("pre", { class: "code raw" }, body));
  }
  let pretty = body;
  try {
    pretty = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    // Not JSON: shown as it came.
  }
  return h("pre", { class: "code" }, pretty);
}

function renderHeaders(headers) {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return h("p", { class: "muted" }, "(no headers)");
  return h("table", { class: "kv headers" },
    h("caption", { class: "visually-hidden" }, INSPECTOR.headers),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "mono" }, v)))));
}

function renderQuery(url) {
  let params = [];
  try {
    params = Array.from(new URL(url).searchParams);
  } catch {
    return null;
  }
  if (params.length === 0) return null;
  return h("table", { class: "kv" },
    h("caption", { class: "kv-caption" }, INSPECTOR.queryParams),
    h("tbody", {}, params.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "mono" }, v)))));
}

/** An HTTP request: method and URL, headers, body, and the mutual-TLS note. */
export function renderRequest(request) {
  if (!request) return h("p", { class: "muted" }, INSPECTOR.noRequest);
  return h("div", { class: "http http-request" },
    h("p", { class: "request-line mono" }, h("strong", {}, request.method), " ", request.url),
    renderQuery(request.url),
    request.clientCertificate ? h("p", { class: "note" }, INSPECTOR.clientCertificate) : null,
    h("h5", {}, INSPECTOR.headers), renderHeaders(request.headers),
    h("h5", {}, INSPECTOR.body), renderBody(request.body, request.headers),
    request.clientCertificate ? h("details", {}, h("summary", {}, "Client certificate (PEM)"), h("pre", { class: "code" }, request.clientCertificate)) : null);
}

/** An HTTP response: status, headers, body. */
export function renderResponse(response) {
  if (!response) return h("p", { class: "muted" }, INSPECTOR.noResponse);
  const ok = response.status >= 200 && response.status < 300;
  return h("div", { class: "http http-response" },
    h("p", { class: ["request-line", "mono", ok ? "is-ok" : "is-failed"] }, h("strong", {}, statusLine(response.status))),
    h("h5", {}, INSPECTOR.headers), renderHeaders(response.headers),
    h("h5", {}, INSPECTOR.body), renderBody(response.body, response.headers));
}

function claimRows(kind, object) {
  return Object.entries(object ?? {}).map(([name, value]) => {
    const rows = [h("tr", {},
      h("th", { scope: "row", class: "mono" }, name),
      h("td", { class: "mono" }, claimText(name, value)),
      h("td", { class: "meaning" }, meaning(kind, name) || "—"))];
    // cnf.jkt and the like: explain the nested members too.
    if (kind === "claims" && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [sub, subValue] of Object.entries(value)) {
        if (Object.hasOwn(CLAIMS, sub)) {
          rows.push(h("tr", { class: "nested" },
            h("th", { scope: "row", class: "mono" }, `${name}.${sub}`),
            h("td", { class: "mono" }, claimText(sub, subValue)),
            h("td", { class: "meaning" }, CLAIMS[sub])));
        }
      }
    }
    return rows;
  });
}

function claimTable(caption, kind, object) {
  return h("table", { class: "claims" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, kind === "header" ? INSPECTOR.paramName : INSPECTOR.claimName), h("th", { scope: "col" }, INSPECTOR.claimValue), h("th", { scope: "col" }, INSPECTOR.claimMeaning))),
    h("tbody", {}, claimRows(kind, object)));
}

/** A decoded JWT: where it was, header and claims with their meaning, and the signature status. */
export function renderJwt(jwt) {
  const title = h("h5", {}, describeLocation(jwt.at), " ", h("code", { class: "muted" }, jwt.at));
  if (jwt.error) return h("div", { class: "jwt" }, title, h("p", { class: "is-failed" }, `${INSPECTOR.jwtUndecodable}: ${jwt.error}`));
  const redacted = jwt.signature === "[redacted]" || jwt.signature === undefined;
  return h("div", { class: "jwt" }, title,
    claimTable(INSPECTOR.jwtHeader, "header", jwt.header),
    claimTable(INSPECTOR.jwtClaims, "claims", jwt.claims),
    h("p", { class: "signature" }, h("strong", {}, `${INSPECTOR.jwtSignature}: `),
      redacted ? INSPECTOR.sigRedacted : [h("code", { class: "mono break" }, jwt.signature), h("br"), INSPECTOR.sigNotVerified]));
}

/** An error with its evidence (LabError), the meaning of its code, and the advice. */
export function renderError(error, { advice = [], onField, level = 5 } = {}) {
  const heading = `h${level}`;
  const rows = [];
  const row = (label, value) => rows.push(h("dt", {}, label), h("dd", {}, value));
  row(ERROR_LABELS.code, [h("code", {}, error.code ?? "ERROR"), ERROR_CODES[error.code] ? h("span", { class: "muted" }, ` · ${ERROR_CODES[error.code]}`) : null]);
  if (error.step) row(ERROR_LABELS.step, error.step);
  if (error.status !== undefined && error.status !== null) row(ERROR_LABELS.status, statusLine(error.status));
  if (error.error) row(ERROR_LABELS.error, h("code", {}, error.error));
  if (error.errorDescription) row(ERROR_LABELS.errorDescription, error.errorDescription);
  row(ERROR_LABELS.message, error.message ?? String(error));
  if (typeof error.retryAfter === "number") row(ERROR_LABELS.retryAfter, `${error.retryAfter} s`);
  if (error.location) row(ERROR_LABELS.location, h("code", { class: "break" }, error.location));
  if (typeof error.timeoutMs === "number") row(ERROR_LABELS.timeoutMs, `${error.timeoutMs} ms`);
  const ev = error.evidence;
  const evidence = ev && ev.body
    ? h("details", { class: "evidence" }, h("summary", {}, ERROR_LABELS.evidence(ev.bodyBytes ?? ev.body.length, Boolean(ev.truncated))), h("pre", { class: "break" }, ev.body))
    : null;
  const problems = Array.isArray(error.problems) && error.problems.length > 0
    ? h("div", {}, h(heading, { class: "label-heading" }, ERROR_LABELS.problems), h("ul", { class: "problems" }, error.problems.map((p) =>
      h("li", {}, onField
        ? h("button", { type: "button", class: "link", onclick: () => onField(p.path) }, h("code", {}, p.path))
        : h("code", {}, p.path), `: ${p.message}`))))
    : null;
  const adviceBlock = advice.length > 0 ? h("div", { class: "advice" }, h(heading, { class: "label-heading" }, INSPECTOR.advice), h("ul", {}, advice.map((a) => h("li", {}, a)))) : null;
  return h("div", { class: "error-box" }, h("dl", { class: "error-fields" }, rows), evidence, problems, adviceBlock);
}

/** The inspector for one trace step (or, with `step.pending`, a step that has not run). */
export function renderInspector(container, step, { revealed, onCopyCurl, onField, position, recovered = false, tag = null, drawing = null }) {
  const info = { ...stepInfo(step.name), ...(tag ? { tag } : {}) };
  const status = step.pending ? "pending" : step.status;
  const head = h("div", { class: "inspector-title" },
    h("h3", { id: "inspected-step", tabindex: "-1" }, info.tag ? h("span", { class: "tag" }, info.tag) : null, ` ${info.title} `, h("code", {}, step.name)),
    badge(status),
    step.durationMs !== null && step.durationMs !== undefined ? h("span", { class: "muted" }, INSPECTOR.duration(step.durationMs)) : null,
    position ? h("span", { class: "muted" }, position) : null);
  const sections = [head, h("p", { class: "purpose" }, h("strong", {}, `${INSPECTOR.purpose}: `), step.purpose ?? "")];
  if (step.pending) {
    sections.push(h("p", { class: "muted" }, `${info.request}.`));
    replace(container, sections);
    return;
  }
  // A failure that ended the run carries advice in its notes; one the flow recovered from (a
  // refused attestation, a forgotten client) is part of the story.
  const ended = step.status === "failed" && !recovered;
  if (step.error) {
    sections.push(h("section", { class: ["inspector-error", recovered ? "is-recovered" : null], "aria-labelledby": "inspector-error-h" },
      h("h4", { id: "inspector-error-h" }, recovered ? INSPECTOR.recovered : INSPECTOR.error),
      renderError(step.error, { advice: ended ? (step.notes ?? []) : [], onField })));
  }
  if (step.notes?.length && !ended) {
    sections.push(h("section", {}, h("h4", {}, INSPECTOR.notes), h("ul", { class: "notes" }, step.notes.map((n) => h("li", {}, n)))));
  }
  sections.push(h("p", { class: "muted small" }, revealed ? INSPECTOR.revealedTraceNote : INSPECTOR.redactedTraceNote));
  const exchange = h("div", { class: "exchange" },
    h("section", { class: "exchange-part" }, h("h4", {}, INSPECTOR.request),
      renderRequest(step.request),
      step.request ? h("button", { type: "button", class: "small", onclick: (e) => onCopyCurl(step, e.currentTarget) }, INSPECTOR.copyCurl) : null),
    h("section", { class: "exchange-part" }, h("h4", {}, INSPECTOR.response), renderResponse(step.response)));
  sections.push(exchange);
  if (drawing) {
    sections.push(h("section", { class: "app-drawing", "aria-labelledby": "app-drawing-h" },
      h("h4", { id: "app-drawing-h" }, INSPECTOR.appDrawing), h("p", { class: "muted small" }, INSPECTOR.appDrawingNote), drawing));
  }
  if (step.retries?.length) {
    sections.push(h("section", {}, h("h4", {}, INSPECTOR.retries(step.retries.length)),
      step.retries.map((r, i) => h("details", { class: "retry" },
        h("summary", {}, `${INSPECTOR.attempt(i + 1)}: ${r.reason}`),
        h("div", { class: "exchange" },
          h("section", { class: "exchange-part" }, h("h5", {}, INSPECTOR.request), renderRequest(r.request)),
          h("section", { class: "exchange-part" }, h("h5", {}, INSPECTOR.response), renderResponse(r.response)))))));
  }
  if (step.jwts?.length) {
    sections.push(h("section", { class: "jwts" }, h("h4", {}, INSPECTOR.jwts), step.jwts.map(renderJwt)));
  }
  replace(container, sections);
}

/** The ordered list of trace entries (a step can appear twice, e.g. after re-registration). */
export function renderStepList(list, steps, selectedIndex, onSelect, tagOf = (i, step) => stepInfo(step.name).tag) {
  replace(list, steps.map((step, index) => {
    const tag = tagOf(index, step);
    const label = `${tag ? `${tag} ` : ""}${step.name}`;
    return h("li", {},
      h("button", {
        type: "button",
        class: ["step-chip", `is-${step.status}`, index === selectedIndex ? "is-selected" : null],
        "aria-current": index === selectedIndex ? "true" : null,
        onclick: () => onSelect(index),
      }, h("span", { "aria-hidden": "true", class: "glyph" }, STATUS_GLYPH[step.status] ?? ""), ` ${label} `, h("span", { class: "visually-hidden" }, `: ${STATUS_WORD[step.status]}`),
      step.response ? h("span", { class: "muted" }, ` ${step.response.status}`) : null));
  }));
}

/** The run-level explanation of a failure, with advice from the failed step's notes. */
export function renderRunError(container, { title, error, advice, onField, onInspect, onConfirmDestination }) {
  replace(container,
    h("h3", {}, title),
    error?.code === "CREDENTIAL_DESTINATION_CHANGED" && onConfirmDestination ? renderDestinationPrompt(error, onConfirmDestination) : null,
    renderError(error, { advice, onField, level: 4 }),
    onInspect ? h("button", { type: "button", class: "small", onclick: onInspect }, "Inspect the failed step") : null);
}

const where = (d) => (d ? `${d.tokenEndpoint}${d.sendOrigin && !d.tokenEndpoint.startsWith(d.sendOrigin) ? ` (sent via ${d.sendOrigin})` : ""}` : "?");

/** The question a person must answer before a stored client goes to a new place. */
function renderDestinationPrompt(error, onConfirm) {
  const kept = (error.registeredAt ?? []).map(where);
  return h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "confirm-destination-title", dataset: { confirm: "new-origin" } },
    h("h4", { id: "confirm-destination-title" }, TEXT.destinationTitle),
    h("p", {}, TEXT.destinationBody(error.clientId ?? "?", kept.length ? kept.join(", ") : TEXT.destinationIssuerOrigin, where(error.requested))),
    h("p", { class: "hint" }, TEXT.destinationHint),
    h("div", { class: "button-row" },
      h("button", { type: "button", id: "btn-confirm-destination", onclick: onConfirm }, TEXT.destinationConfirm)));
}

function dl(rows) {
  return h("dl", { class: "facts" }, rows.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** The device panel. */
export function renderDevice(container, device, { stale, dpopKey } = {}) {
  if (!device) {
    replace(container, h("p", { class: "muted" }, DEVICE.none));
    return;
  }
  const c = device.client;
  const when = c?.registeredAt ? new Date(c.registeredAt).toLocaleString() : null;
  const material = device.credential ?? {};
  const rows = [
    [DEVICE.client, c ? h("code", { class: "device-client-id" }, c.clientId) : h("span", { class: "muted device-client-id" }, DEVICE.noClient)],
    c && when ? [DEVICE.registeredAt, when] : null,
    c ? [DEVICE.softwareId, h("code", {}, c.softwareId)] : null,
    c?.tokenEndpointAuthMethod ? [DEVICE.authMethod, h("code", {}, c.tokenEndpointAuthMethod)] : null,
    c ? [DEVICE.issuer, h("code", { class: "break" }, c.issuer)] : null,
    [DEVICE.storage, device.storage ?? "—"],
    [DEVICE.keyStore, DEVICE.keyStoreNames[device.dpop?.keyStore] ?? device.dpop?.keyStore ?? "—"],
    [DEVICE.thumbprint, h("code", { class: "break" }, device.dpop?.thumbprint ?? "—")],
    material.generated?.length ? [DEVICE.generated, material.generated.join(", ")] : null,
    material.certificatePin ? [DEVICE.certificatePin, h("code", { class: "break" }, material.certificatePin)] : null,
    device.simulator ? [DEVICE.simulator, DEVICE.simulatorClients(device.simulator.dynamicClients?.length ?? 0)] : null,
  ];
  const extras = [];
  if (material.assertionPublicJwk) {
    extras.push(h("details", {}, h("summary", {}, DEVICE.assertionJwk), h("pre", { class: "code" }, JSON.stringify(material.assertionPublicJwk, null, 2))));
  }
  if (material.certificateChain) {
    extras.push(h("details", {}, h("summary", {}, "Client certificate chain (PEM)"), h("pre", { class: "code" }, material.certificateChain)));
  }
  if (dpopKey) {
    extras.push(h("details", {}, h("summary", {}, DEVICE.dpopPrivate), h("pre", { class: "code" }, dpopKey.jwk)));
  }
  replace(container, stale ? h("p", { class: "muted small" }, DEVICE.stale) : null, dl(rows), extras);
}

/** The shortcut list. */
export function renderShortcuts(list) {
  replace(list, SHORTCUTS.map(([keys, what]) => [h("dt", {}, keys.split(" / ").map((k, i) => [i ? " / " : null, h("kbd", {}, k)])), h("dd", {}, what)]));
}
