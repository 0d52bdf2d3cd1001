// The page's contract for automation (README, "Automation (QA)"), kept stable for QA scripts:
//   - the configuration travels in the URL fragment as #config=<base64url(JSON)>; &run=1 runs it;
//   - document.documentElement.dataset.flowState is idle | running | succeeded | failed
//     (and dataset.flowBusy is "true" while a request is in flight, dataset.flowPaused is "true"
//     while the run waits for an answer: flowState stays running);
//   - window.haapiLab.run(config, { allowNewOrigin }) resolves to the RunResult (allowNewOrigin:
//     a stored client may go to a destination it was not registered at; never from a link);
//     window.haapiLab.trace() returns the trace, redacted unless { reveal: true };
//   - window.haapiLab.question() is what a paused run waits for (or null), and
//     window.haapiLab.answer(answer) answers it, runs on to the end and resolves to the result.
// Extras: window.haapiLab.device() resolves to the device's state, window.haapiLab.forget()
// forgets the device, window.haapiLab.resetServer() empties the in-page simulator's client
// database, window.haapiLab.config() returns the current document.

import { root } from "./dom.js";

export const FLOW_STATES = ["idle", "running", "succeeded", "failed"];

/** base64url (RFC 4648 §5, no padding) of the document's UTF-8 JSON. */
export function encodeConfig(doc) {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The document in a base64url (or base64) string; throws an Error that says what is wrong. */
export function decodeConfig(text) {
  let binary;
  try {
    const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
    binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  } catch {
    throw new Error("it is not base64url");
  }
  let json;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    throw new Error("it is not UTF-8 text");
  }
  let doc;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new Error(`it is not JSON (${e.message})`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("it is not a JSON object");
  return doc;
}

// The fragment the page last read or wrote. When location.hash is something else, a new link
// arrived that the hashchange handler has not read yet: writing now would replace it unread.
let knownHash = null;

/** Reads `#config=…&run=1`: `{ config?, error?, run }`. */
export function readFragment(hash = location.hash) {
  knownHash = hash;
  const params = new Map();
  for (const part of hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    params.set(at < 0 ? part : part.slice(0, at), at < 0 ? "" : decodeURIComponent(part.slice(at + 1)));
  }
  const out = { run: params.get("run") === "1" };
  if (params.has("config")) {
    try {
      out.config = decodeConfig(params.get("config"));
    } catch (e) {
      out.error = e.message;
    }
  }
  return out;
}

/**
 * Writes the document into the fragment without adding a history entry, unless a fragment the
 * page has not read yet is there (its hashchange event is still to come). Returns the link.
 */
export function writeFragment(doc, { run = false } = {}) {
  const hash = `#config=${encodeConfig(doc)}${run ? "&run=1" : ""}`;
  const unread = knownHash !== null && location.hash !== knownHash;
  if (!unread && location.hash !== hash) {
    history.replaceState(history.state, "", `${location.pathname}${location.search}${hash}`);
    knownHash = location.hash;
  }
  return `${location.origin}${location.pathname}${location.search}${hash}`;
}

export function setFlowState(state) {
  if (!FLOW_STATES.includes(state)) throw new Error(`unknown flow state ${state}`);
  root.dataset.flowState = state;
}

export function setFlowBusy(busy) {
  root.dataset.flowBusy = busy ? "true" : "false";
}

export function setFlowPaused(paused) {
  root.dataset.flowPaused = paused ? "true" : "false";
}

/**
 * Installs `window.haapiLab`. `controller` provides: run(config) -> Promise<RunResult>,
 * answer(answer) -> Promise<RunResult>, question() -> Question | null, trace({reveal}) -> Trace,
 * device() -> Promise<DeviceState|null>, forget() -> Promise<void>, config() -> document.
 */
export function installAutomation(controller) {
  const api = {
    run: (config, options) => controller.run(config, options),
    answer: (answer) => controller.answer(answer),
    question: () => controller.question(),
    trace: (options) => controller.trace({ reveal: Boolean(options?.reveal) }),
    device: () => controller.device(),
    forget: () => controller.forget(),
    resetServer: () => controller.resetServer(),
    config: () => controller.config(),
    get flowState() {
      return root.dataset.flowState;
    },
    get flowPaused() {
      return root.dataset.flowPaused === "true";
    },
  };
  Object.defineProperty(window, "haapiLab", { value: Object.freeze(api), configurable: false, writable: false, enumerable: true });
  return api;
}
