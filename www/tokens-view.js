// The tokens the login bought (the code exchange's outcome), decoded: every header parameter and
// claim with its meaning, and cnf.jkt set beside this device's DPoP key thumbprint, so the
// binding is seen, not just told. The trace redacts signatures (header.payload.[redacted]) and
// the opaque refresh token; so does this panel.

import { claimText, decodeJwt, meaning, tokenClaimMeaning } from "./claims.js";
import { h, replace } from "./render.js";
import { INSPECTOR, TOKENS } from "./strings.js";

function rows(kind, claims, { thumbprint }) {
  const out = [];
  for (const [name, value] of Object.entries(claims ?? {})) {
    const nested = value && typeof value === "object" && !Array.isArray(value);
    out.push(h("tr", { dataset: { claim: name } },
      h("th", { scope: "row", class: "mono" }, name),
      h("td", { class: "mono" }, nested ? JSON.stringify(value) : claimText(name, value)),
      h("td", { class: "meaning" }, tokenClaimMeaning(kind, name) || "—")));
    if (!nested) continue;
    for (const [sub, subValue] of Object.entries(value)) {
      const path = `${name}.${sub}`;
      const cells = [h("td", { class: "mono" }, claimText(sub, subValue))];
      const explained = tokenClaimMeaning(kind, sub) || "—";
      if (path === "cnf.jkt") {
        const same = thumbprint && subValue === thumbprint;
        cells.push(h("td", { class: "meaning" }, explained,
          h("span", { class: ["binding", same ? "is-ok" : "is-failed"], dataset: { binding: same ? "match" : "mismatch" } },
            `${TOKENS.deviceKey}: `, h("code", { class: "break", dataset: { deviceThumbprint: "true" } }, thumbprint ?? "—"), ` (${same ? TOKENS.match : TOKENS.mismatch})`)));
      } else {
        cells.push(h("td", { class: "meaning" }, explained));
      }
      out.push(h("tr", { class: "nested", dataset: { claim: path } }, h("th", { scope: "row", class: "mono" }, path), cells));
    }
  }
  return out;
}

function table(caption, kind, object, options) {
  return h("table", { class: "claims" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, kind === "header" ? INSPECTOR.paramName : INSPECTOR.claimName), h("th", { scope: "col" }, INSPECTOR.claimValue), h("th", { scope: "col" }, INSPECTOR.claimMeaning))),
    h("tbody", {}, kind === "header"
      ? Object.entries(object ?? {}).map(([k, v]) => h("tr", {}, h("th", { scope: "row", class: "mono" }, k), h("td", { class: "mono" }, claimText(k, v)), h("td", { class: "meaning" }, meaning("header", k) || "—")))
      : rows(kind, object, options)));
}

function token(title, kind, jwt, options, id) {
  const decoded = decodeJwt(jwt);
  if (!decoded) return h("section", { class: "token", id }, h("h3", {}, title), h("p", { class: "mono break" }, jwt));
  return h("section", { class: "token", id, "aria-labelledby": `${id}-h` },
    h("h3", { id: `${id}-h` }, title),
    table(TOKENS.header, "header", decoded.header, options),
    table(TOKENS.claims, kind, decoded.claims, options),
    h("p", { class: "muted small" }, TOKENS.signature));
}

/** Draws the outcome's tokens into `container` (hidden when there are none). */
export function renderTokens(container, { tokens, subject, thumbprint } = {}) {
  if (!tokens) {
    replace(container);
    return false;
  }
  const options = { thumbprint };
  replace(container,
    h("p", {}, TOKENS.summary(subject, tokens.expiresIn, tokens.scope)),
    token(TOKENS.access, "access", tokens.accessToken, options, "token-access"),
    tokens.idToken ? token(TOKENS.id, "id", tokens.idToken, options, "token-id") : null,
    h("section", { class: "token", id: "token-refresh" }, h("h3", {}, TOKENS.refresh),
      h("p", { dataset: { refresh: tokens.refreshToken ? "present" : "absent" } }, tokens.refreshToken ? TOKENS.refreshPresent : TOKENS.refreshAbsent)));
  return true;
}
