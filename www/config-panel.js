// The configuration panel: a form over the whole version-1 document (README, "The configuration document"), validated live
// with the module's validateConfig, every problem shown next to its field (by `path`). The
// document is the source of truth: the form edits it, the JSON text shows all of it, and fields
// the form does not know survive a round trip.

import * as dom from "./dom.js";
import { h, replace } from "./render.js";
import { CONFIG, STEPS, TEXT } from "./strings.js";

const MTLS = new Set(["tls_client_auth", "self_signed_tls_client_auth"]);
const SECRET = new Set(["client_secret_basic", "client_secret_post", "client_secret_jwt"]);
const JWT = new Set(["private_key_jwt", "client_secret_jwt"]);
const FALLBACK_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth", "none"];

/** Which credential fields a method uses (the others are ignored, and said so). */
const RELEVANT = {
  secret: (m) => SECRET.has(m),
  alg: (m) => JWT.has(m),
  privateKey: (m) => m === "private_key_jwt" || MTLS.has(m),
  certificate: (m) => MTLS.has(m),
  audience: (m) => JWT.has(m),
  kid: (m) => JWT.has(m),
};

export function getPath(doc, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), doc);
}

export function setPath(doc, path, value) {
  const keys = path.split(".");
  let o = doc;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== "object") o[k] = {};
    o = o[k];
  }
  const last = keys.at(-1);
  if (value === undefined) delete o[last];
  else o[last] = value;
}

function setSelectOptions(select, values, labels = {}) {
  replace(select, values.map((v) => h("option", { value: v }, labels[v] ?? v)));
}

/** Selects `value`, adding an option for a value the list does not have (so it stays visible). */
function setSelectValue(select, value) {
  const v = value ?? "";
  if (!Array.from(select.options).some((o) => o.value === v)) {
    select.append(h("option", { value: v, dataset: { extra: "true" } }, `${v} (not a known value)`));
  }
  select.value = v;
}

/**
 * Wires the panel. `api`: the module's functions (validateConfig, generateKey, generateCertificate,
 * methods) or null until it has loaded. `onChange(doc, problems, source)` after every change.
 */
export function createConfigPanel({ onChange }) {
  let api = null;
  let simApi = null; // the simulator module, when loaded: it checks server.simulator
  let ignored = [];
  let doc = {};
  let problems = [];
  let runProblems = []; // found by Lab.create only (e.g. server.simulator settings), until the next change
  const stash = new Map();
  const problemSlots = new Map();

  // A problem slot after every field, referenced by aria-describedby.
  for (const wrapper of dom.fieldWrappers) {
    const path = wrapper.dataset.field;
    const id = `problem-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;
    const slot = h("p", { class: "problem", id, hidden: true });
    wrapper.append(slot);
    problemSlots.set(path, slot);
    const controls = wrapper.matches("fieldset") ? wrapper.querySelectorAll("input") : wrapper.querySelectorAll("input:not([type=file]), select, textarea");
    for (const c of controls) {
      const hint = wrapper.querySelector(".hint[id]");
      c.setAttribute("aria-describedby", [id, hint?.id].filter(Boolean).join(" "));
    }
  }

  setSelectOptions(dom.methodSelect, FALLBACK_METHODS);
  setSelectOptions(dom.stopAfterSelect, ["", ...STEPS.map((s) => s.name)], { "": CONFIG.stopAfterEnd });
  dom.keyUrlWarning.textContent = CONFIG.keyInURL;
  dom.simulatorHint.textContent = CONFIG.simulatorJsonHint;

  function method() {
    return getPath(doc, "credential.method");
  }

  function mode() {
    return getPath(doc, "server.mode");
  }

  function algList(m) {
    return m === "client_secret_jwt" ? CONFIG.hmacAlgs : CONFIG.jwtAlgs;
  }

  // Form -> document.
  function readField(el) {
    const path = el.dataset.path;
    if (el.type === "radio") return el.checked ? el.value : undefined;
    if (el.type === "checkbox") return el.checked;
    if (el.dataset.kind === "json") {
      const text = el.value.trim();
      if (text === "") return { value: undefined };
      try {
        const value = JSON.parse(text);
        if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
        return { value };
      } catch (e) {
        return { error: `${path}: ${TEXT.jsonNotApplied(e.message)}` };
      }
    }
    if (el.value === "" && el.dataset.empty === "null") return null;
    if (el.type === "number") return Number.isFinite(el.valueAsNumber) ? el.valueAsNumber : el.value;
    return el.value;
  }

  for (const el of dom.configFields) {
    const event = el.tagName === "SELECT" || el.type === "radio" || el.type === "checkbox" ? "change" : "input";
    el.addEventListener(event, () => {
      const path = el.dataset.path;
      let value = readField(el);
      if (el.type === "radio" && value === undefined) return;
      if (el.dataset.kind === "json") {
        if (value.error) {
          showLocalProblem(path, value.error);
          return;
        }
        value = value.value;
      }
      const before = getPath(doc, path);
      setPath(doc, path, value);
      if (path === "credential.method") adaptToMethod(before, value);
      if (path === "server.mode") adaptToMode(value);
      changed("form", el);
    });
  }

  /** Switching method keeps only what the new method uses; the rest waits in a stash. */
  function adaptToMethod(before, m) {
    const group = (x) => (MTLS.has(x) ? `mtls:${x}` : JWT.has(x) ? "jwt" : "secret");
    for (const [field, relevant] of Object.entries(RELEVANT)) {
      const path = `credential.${field}`;
      const value = getPath(doc, path);
      // Keys and certificates belong to a kind of method, an algorithm to one method.
      const keyOf = (x) => (field === "alg" ? `${path}@${x}` : field === "privateKey" || field === "certificate" ? `${path}@${group(x)}` : path);
      if (value !== null && value !== undefined && (!relevant(m) || keyOf(before) !== keyOf(m))) {
        stash.set(keyOf(before), value);
        setPath(doc, path, null);
      }
      if (relevant(m) && (getPath(doc, path) === null || getPath(doc, path) === undefined) && stash.has(keyOf(m))) {
        setPath(doc, path, stash.get(keyOf(m)));
      }
    }
    if (RELEVANT.alg(m) && !algList(m).includes(getPath(doc, "credential.alg"))) setPath(doc, "credential.alg", algList(m)[0]);
    if (RELEVANT.secret(m) && !getPath(doc, "credential.secret") && mode() === "simulator") setPath(doc, "credential.secret", CONFIG.defaultSecret);
  }

  function adaptToMode(m) {
    const sim = getPath(doc, "server.simulator");
    if (m !== "simulator" && sim !== undefined && sim !== null) {
      stash.set("server.simulator", sim);
      setPath(doc, "server.simulator", undefined);
    } else if (m === "simulator" && (sim === undefined || sim === null) && stash.has("server.simulator")) {
      setPath(doc, "server.simulator", stash.get("server.simulator"));
    }
  }

  // Document -> form.
  function render(except) {
    const m = method();
    const algs = algList(m);
    const shown = Array.from(dom.algSelect.options, (o) => o.value);
    if (shown.length !== algs.length || algs.some((a, i) => a !== shown[i])) setSelectOptions(dom.algSelect, algs);
    for (const el of dom.configFields) {
      if (el === except) continue;
      const value = getPath(doc, el.dataset.path);
      if (el.type === "radio") el.checked = value === el.value;
      else if (el.type === "checkbox") el.checked = value === undefined || value === null ? el.dataset.default === "true" : value === true;
      else if (el.tagName === "SELECT") setSelectValue(el, value);
      else if (el.dataset.kind === "json") el.value = value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
      else el.value = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    }
    dom.methodHint.textContent = CONFIG.methodHints[m] ?? "";
    const alg = getPath(doc, "credential.alg") ?? "";
    dom.algHint.textContent = /^(RS|PS)/.test(alg) ? "RSA keys are slow to generate in WebAssembly (seconds to a minute); ES256 is quick." : "";
    dom.privateKeyLabel.textContent = MTLS.has(m)
      ? "Private key of the client certificate (PEM; empty = generated with the certificate)"
      : "Private key (PEM or JWK; empty = generated on this device)";
    dom.generateKeyButton.hidden = MTLS.has(m);
    dom.localCaButton.hidden = !(m === "tls_client_auth" && mode() === "http");
    dom.p12Export.hidden = !MTLS.has(m);
    for (const wrapper of dom.fieldWrappers) {
      const rel = wrapper.dataset.relevant;
      if (!rel) continue;
      const path = wrapper.dataset.field;
      const value = getPath(doc, path);
      const relevant = rel === "simulator" ? mode() === "simulator" : RELEVANT[rel]?.(m);
      wrapper.hidden = !(relevant || (value !== null && value !== undefined) || [...problems, ...runProblems].some((p) => p.path === path));
    }
    // A typed secret travels in the link exactly as a pasted key does.
    const anyKey = ["credential.privateKey", "credential.certificate", "credential.secret"].some((p) => getPath(doc, p));
    dom.keyUrlWarning.hidden = !anyKey;
    if (except !== dom.jsonText) {
      dom.jsonText.value = JSON.stringify(doc, null, 2);
      dom.jsonText.removeAttribute("aria-invalid");
    }
  }

  function fieldFor(path) {
    let best = null;
    for (const field of problemSlots.keys()) {
      if ((path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`)) && (!best || field.length > best.length)) best = field;
    }
    return best;
  }

  function showLocalProblem(path, message) {
    const slot = problemSlots.get(path);
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
    }
  }

  function showProblems() {
    const byField = new Map();
    const unplaced = [];
    const all = [...problems, ...runProblems.filter((r) => !problems.some((p) => p.path === r.path && p.message === r.message))];
    for (const p of all) {
      const field = fieldFor(p.path);
      if (field) byField.set(field, [...(byField.get(field) ?? []), p]);
      else unplaced.push(p);
    }
    for (const [field, slot] of problemSlots) {
      const list = byField.get(field) ?? [];
      slot.hidden = list.length === 0;
      slot.textContent = list.map((p) => (p.path === field ? p.message : `${p.path}: ${p.message}`)).join(" ");
      const wrapper = slot.parentElement;
      wrapper.classList.toggle("has-problem", list.length > 0);
      for (const c of wrapper.querySelectorAll("input:not([type=file]), select, textarea")) {
        if (list.length > 0) c.setAttribute("aria-invalid", "true");
        else c.removeAttribute("aria-invalid");
      }
      // A problem inside a closed group is opened, so it is never hidden.
      if (list.length > 0) for (let d = wrapper.closest("details"); d; d = d.parentElement?.closest("details")) d.open = true;
    }
    if (!api) {
      replace(dom.configSummary, h("p", { class: "muted" }, TEXT.configUnchecked));
      return;
    }
    const notes = ignored.length === 0 ? null : h("ul", { class: "ignored-fields", dataset: { ignored: "true" } }, ignored.map((p) => h("li", { class: "muted" },
      h("button", { type: "button", class: "link", onclick: () => focusField(p.path) }, h("code", {}, p.path)), `: ${p.message}`)));
    if (all.length === 0) {
      replace(dom.configSummary, h("p", { class: "ok-line" }, h("span", { "aria-hidden": "true" }, "✓ "), TEXT.configOk), notes);
      return;
    }
    replace(dom.configSummary,
      h("p", { class: "problem-line" }, TEXT.configProblems(all.length)),
      h("ul", { class: "problems" }, all.map((p) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => focusField(p.path) }, h("code", {}, p.path)),
        `: ${p.message}`,
        unplaced.includes(p) ? h("span", { class: "muted" }, ` (${CONFIG.unplacedProblems.toLowerCase()})`) : null))));
  }

  function validate() {
    if (!api) {
      problems = [];
      ignored = [];
      return;
    }
    const checked = api.checkConfig(doc);
    problems = checked.problems;
    ignored = checked.ignored;
    const overrides = doc?.server?.mode === "simulator" ? doc?.server?.simulator : null;
    if (simApi && problems.length === 0 && overrides && typeof overrides === "object") {
      problems = JSON.parse(simApi.checkSimulatorOverrides(JSON.stringify(overrides)));
    }
  }

  function changed(source, except) {
    runProblems = [];
    validate();
    render(except);
    showProblems();
    onChange(structuredClone(doc), problems, source);
  }

  /** Moves focus to the field of `path` (opening its group). */
  function focusField(path) {
    const field = fieldFor(path) ?? "(document)";
    const wrapper = dom.fieldWrappers.find((w) => w.dataset.field === field);
    if (!wrapper) return;
    for (let d = wrapper.closest("details"); d; d = d.parentElement?.closest("details")) d.open = true;
    wrapper.hidden = false;
    const control = wrapper.querySelector("input:checked, input:not([type=file]), select, textarea");
    control?.focus();
    wrapper.scrollIntoView({ block: "center" });
  }

  // The whole document as JSON text.
  dom.jsonText.addEventListener("input", () => {
    try {
      const value = JSON.parse(dom.jsonText.value);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected an object");
      doc = value;
      dom.jsonText.removeAttribute("aria-invalid");
      dom.jsonStatus.textContent = "";
      changed("json", dom.jsonText);
    } catch (e) {
      dom.jsonText.setAttribute("aria-invalid", "true");
      dom.jsonStatus.textContent = TEXT.jsonNotApplied(e.message);
    }
  });

  dom.secretVisibility.addEventListener("click", () => {
    const show = dom.secretInput.type === "password";
    dom.secretInput.type = show ? "text" : "password";
    dom.secretVisibility.setAttribute("aria-pressed", String(show));
    dom.secretVisibility.textContent = show ? "Hide" : "Show";
  });

  async function readFile(input, apply) {
    const file = input.files?.[0];
    if (!file) return;
    try {
      apply(await file.text(), file.name);
    } catch (e) {
      dom.credentialStatus.textContent = TEXT.fileFailed(file.name, e.message);
    } finally {
      input.value = "";
    }
  }

  dom.privateKeyFile.addEventListener("change", () => readFile(dom.privateKeyFile, (text, name) => {
    setPath(doc, "credential.privateKey", text.trim());
    dom.credentialStatus.textContent = TEXT.fileRead(name);
    changed("form");
  }));
  dom.certificateFile.addEventListener("change", () => readFile(dom.certificateFile, (text, name) => {
    setPath(doc, "credential.certificate", text.trim());
    dom.credentialStatus.textContent = TEXT.fileRead(name);
    changed("form");
  }));
  dom.configFile.addEventListener("change", () => readFile(dom.configFile, (text, name) => {
    try {
      const value = JSON.parse(text);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
      doc = value;
      dom.jsonStatus.textContent = TEXT.jsonImported(name);
      changed("import");
    } catch (e) {
      dom.jsonStatus.textContent = TEXT.jsonImportFailed(name, e.message);
    }
  }));

  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

  dom.generateKeyButton.addEventListener("click", async () => {
    if (!api) return;
    const alg = getPath(doc, "credential.alg") || "ES256";
    dom.credentialStatus.textContent = TEXT.keyGenerating(alg);
    dom.generateKeyButton.setAttribute("aria-disabled", "true");
    await nextFrame(); // let the status paint: RSA generation blocks the main thread
    try {
      const key = await api.generateKey(alg);
      setPath(doc, "credential.privateKey", key.pem);
      dom.credentialStatus.textContent = TEXT.keyGenerated(alg);
      changed("form");
    } catch (e) {
      dom.credentialStatus.textContent = `${e.code ?? "ERROR"}: ${e.message}`;
    } finally {
      dom.generateKeyButton.removeAttribute("aria-disabled");
    }
  });

  dom.generateCertButton.addEventListener("click", async () => {
    if (!api) return;
    const m = method();
    dom.credentialStatus.textContent = "Generating…";
    await nextFrame();
    try {
      const subject = getPath(doc, "client.clientId") || "haapi-device";
      const cert = await api.generateCertificate(m, subject);
      setPath(doc, "credential.certificate", cert.certificate);
      setPath(doc, "credential.privateKey", cert.privateKey);
      dom.credentialStatus.textContent = `${TEXT.certGenerated(m)} SPKI pin ${cert.pin}.`;
      changed("form");
    } catch (e) {
      dom.credentialStatus.textContent = `${e.code ?? "ERROR"}: ${e.message}`;
    }
  });

  /** What a run sends to: server.sendVia, else the issuer's origin (null when neither is a URL). */
  function serverOrigin() {
    for (const path of ["server.sendVia", "server.issuer"]) {
      try {
        const value = getPath(doc, path);
        if (value) return new URL(value).origin;
      } catch {
        // not a URL: validation says so next to the field
      }
    }
    return null;
  }

  dom.localCaButton.addEventListener("click", async () => {
    const origin = serverOrigin();
    const cn = getPath(doc, "client.clientId") || "haapi-device";
    dom.credentialStatus.textContent = TEXT.certAsking;
    try {
      if (!origin) throw Object.assign(new Error(TEXT.localCaUnavailable("server.issuer", "not a URL")), { code: "LOCAL_CA_UNAVAILABLE" });
      const { certificateFromLocalCa } = await dom.pageModule("certificates.js");
      const issued = await certificateFromLocalCa(origin, cn);
      setPath(doc, "credential.certificate", issued.certificate);
      setPath(doc, "credential.privateKey", issued.privateKey);
      dom.credentialStatus.textContent = TEXT.certFromLocalCa(cn);
      changed("form");
    } catch (e) {
      dom.credentialStatus.textContent = `${e.code ?? "ERROR"}: ${e.message}`;
    }
  });

  dom.p12Button.addEventListener("click", async () => {
    dom.p12Status.textContent = TEXT.p12Making;
    dom.p12Button.setAttribute("aria-disabled", "true");
    await nextFrame();
    try {
      const { downloadPkcs12 } = await dom.pageModule("certificates.js");
      const made = await downloadPkcs12({
        certificate: getPath(doc, "credential.certificate"),
        privateKey: getPath(doc, "credential.privateKey"),
        password: dom.p12Password.value,
        name: getPath(doc, "client.clientId"),
      });
      dom.p12Password.value = "";
      dom.p12Status.textContent = made.generatedPassword ? TEXT.p12Generated(made.fileName, made.generatedPassword) : TEXT.p12Done(made.fileName);
    } catch (e) {
      dom.p12Status.textContent = `${e.code ?? "ERROR"}: ${e.message}`;
    } finally {
      dom.p12Button.removeAttribute("aria-disabled");
    }
  });

  return {
    /** Connects the loaded module: validation starts. */
    setApi(module) {
      api = module;
      const known = Array.from(api.methods());
      setSelectOptions(dom.methodSelect, [...known, ...FALLBACK_METHODS.filter((m) => !known.includes(m))]);
      if (Object.keys(doc).length > 0) changed("api");
      else showProblems();
    },
    /** Connects the simulator module: `server.simulator` is checked against its settings. */
    setSimApi(module) {
      simApi = module;
      if (Object.keys(doc).length > 0) changed("api");
    },
    /** Fields the chosen method does not use (ignored, never an error). */
    get ignored() {
      return ignored;
    },
    /** Replaces the document (from the link, an import, or automation). */
    setConfig(next, source = "set") {
      doc = structuredClone(next);
      stash.clear();
      changed(source);
    },
    get config() {
      return structuredClone(doc);
    },
    get problems() {
      return problems;
    },
    focusField,
    /** Problems the module found when it opened the device (beyond validateConfig), shown like the others. */
    showRunProblems(list) {
      runProblems = Array.isArray(list) ? list : [];
      showProblems();
    },
  };
}
