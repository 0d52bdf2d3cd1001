// Wiring and state: loads the WebAssembly module, keeps one Lab (one device, one configuration),
// drives it step by step or to the end, and hands what happened to the renderers.
//
// Every lab operation runs through `exclusive`, one at a time: a Lab must not be reset or
// forgotten while one of its steps is still running.

import { installAutomation, readFragment, setFlowBusy, setFlowState, writeFragment } from "./automation.js";
import { createConfigPanel } from "./config-panel.js";
import { toCurl } from "./curl.js";
import * as dom from "./dom.js";
import { h, renderDevice, renderInspector, renderRunError, renderShortcuts, renderStepList, replace, stepInfo } from "./render.js";
import { createSequence } from "./sequence.js";
import { FLOW_STATE_TEXT, INSPECTOR, STEPS, TEXT } from "./strings.js";

const PRESENTER_PACE_MS = 450;
const EMPTY_TRACE = Object.freeze({ steps: [], redacted: true });

const state = {
  mod: null, // the loaded module (pkg/haapi_lab.js)
  moduleError: null,
  config: null, // the current document
  problems: [],
  lab: null,
  labKey: null, // JSON of the configuration the lab was made for
  trace: EMPTY_TRACE, // the trace to show (redacted), from the last result
  inRun: false, // a run has started and not ended (stepping)
  busy: false,
  abort: null,
  selected: null, // { index } into trace.steps, or { name } of a step that has not run
  reveal: false,
  device: null, // the last DeviceState shown
  keepRunFlag: false, // keep &run=1 in the fragment until the person edits the configuration
  purposes: new Map(STEPS.map((s) => [s.name, ""])),
};

let queue = Promise.resolve();
/** Runs `fn` after every earlier lab operation has settled. */
function exclusive(fn) {
  const result = queue.then(fn, fn);
  queue = result.catch(() => {});
  return result;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// ---------------------------------------------------------------- status and errors

function setStatus(text, { busy = state.busy } = {}) {
  dom.statusText.textContent = text;
  dom.statusLine.classList.toggle("is-busy", busy);
}

function setBusy(busy) {
  state.busy = busy;
  setFlowBusy(busy);
  for (const b of [dom.runButton, dom.nextButton]) {
    if (busy || !state.mod) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
  for (const section of [dom.sequenceSection, dom.inspector]) section.setAttribute("aria-busy", String(busy));
  dom.statusLine.classList.toggle("is-busy", busy);
}

/** A thrown value as a LabError-shaped object (code, message, and the evidence it carries). */
function errorObject(e) {
  const out = { code: e?.code ?? (e instanceof WebAssembly.RuntimeError ? "MODULE_PANIC" : "PAGE_ERROR"), message: e?.message ?? String(e) };
  for (const k of ["step", "status", "error", "errorDescription", "problems"]) {
    if (e && e[k] !== undefined && e[k] !== null) out[k] = e[k];
  }
  return out;
}

function showBanner(title, detail) {
  replace(dom.loadError, h("strong", {}, title), detail ? h("p", {}, detail) : null);
  dom.loadError.hidden = false;
}

window.addEventListener("error", (event) => showBanner("Unexpected error in the page.", event.message));
window.addEventListener("unhandledrejection", (event) => showBanner("Unexpected error in the page.", errorObject(event.reason).message));

// ---------------------------------------------------------------- picture, list, inspector

const sequence = createSequence(dom.sequenceHost, { onSelect: (name) => selectByName(name) });

function answerText(step) {
  if (step.status === "skipped") return "skipped";
  const status = step.response?.status;
  if (step.status === "failed") return [status, step.error?.error ?? step.error?.code].filter(Boolean).join(" · ");
  if (status === undefined) return "";
  return `${status} · ${stepInfo(step.name).answer}`;
}

function predictNext(trace) {
  const last = trace.steps.at(-1);
  if (!last) return "discovery";
  if (last.name === "haapi-token" && last.status === "failed") return "dcr-token"; // re-registration
  const i = STEPS.findIndex((s) => s.name === last.name);
  return STEPS[i + 1]?.name ?? null;
}

function drawPicture(running = null) {
  const states = new Map();
  for (const step of state.trace.steps) states.set(step.name, { status: step.status, answer: answerText(step) });
  if (running) states.set(running, { status: "running", answer: "…" });
  sequence.update(states, state.config?.server?.mode ?? "simulator");
}

/** The trace as the inspector shows it: revealed only when the person asked. */
function viewTrace() {
  if (state.reveal && state.lab && state.trace.steps.length > 0) {
    try {
      return state.lab.trace({ reveal: true });
    } catch (e) {
      showBanner("Could not read the revealed trace.", errorObject(e).message);
    }
  }
  return state.trace;
}

function renderSelection({ focus = false } = {}) {
  const trace = viewTrace();
  const sel = state.selected;
  let step = null;
  let position = "";
  if (sel && "index" in sel && trace.steps[sel.index]) {
    step = trace.steps[sel.index];
    position = `step ${sel.index + 1} of ${trace.steps.length} in this run`;
  } else if (sel && "name" in sel) {
    step = { name: sel.name, pending: true, purpose: state.purposes.get(sel.name) };
  }
  renderStepList(dom.stepList, state.trace.steps, sel && "index" in sel ? sel.index : -1, (index) => select({ index }));
  sequence.select(step?.name ?? null);
  if (!step) {
    replace(dom.inspector, h("p", { class: "muted" }, INSPECTOR.empty));
    return;
  }
  // A failed step the run went on from (later steps, or a run still in progress).
  const recovered = step.status === "failed" && (sel.index < trace.steps.length - 1 || state.inRun);
  renderInspector(dom.inspector, step, { revealed: trace.redacted === false, onCopyCurl: copyCurl, onField: panel.focusField, position, recovered });
  if (focus) document.getElementById("inspected-step")?.focus();
}

function select(selection, options) {
  state.selected = selection;
  renderSelection(options);
  if (dom.root.classList.contains("presenter")) dom.inspector.scrollIntoView({ block: "nearest" });
}

function selectByName(name) {
  const index = state.trace.steps.findLastIndex((s) => s.name === name);
  select(index >= 0 ? { index } : { name });
}

function selectRelative(delta) {
  const n = state.trace.steps.length;
  if (n === 0) return;
  const current = state.selected && "index" in state.selected ? state.selected.index : n;
  select({ index: Math.min(n - 1, Math.max(0, current + delta)) });
}

function showTrace(trace, { follow = true, running = null } = {}) {
  state.trace = trace ?? EMPTY_TRACE;
  drawPicture(running);
  if (follow && state.trace.steps.length > 0) state.selected = { index: state.trace.steps.length - 1 };
  renderSelection();
}

// ---------------------------------------------------------------- device

async function refreshDevice() {
  if (!state.lab) {
    renderDevice(dom.deviceState, state.device, { stale: Boolean(state.device) });
    return;
  }
  try {
    state.device = state.lab.device();
    const dpopKey = state.reveal && state.device?.dpop?.keyStore === "wasm" ? state.lab.exportDpopKey() : null;
    renderDevice(dom.deviceState, state.device, { dpopKey });
  } catch (e) {
    replace(dom.deviceState, h("p", { class: "problem" }, `${errorObject(e).code}: ${errorObject(e).message}`));
  }
}

// ---------------------------------------------------------------- the lab

function dropLab() {
  const old = state.lab;
  state.lab = null;
  state.labKey = null;
  state.inRun = false;
  if (old) {
    try {
      old.free();
    } catch {
      // Already freed (a panic poisons it): nothing to release.
    }
  }
}

/** The lab for the current configuration, made when the configuration changed. */
async function ensureLab() {
  if (!state.mod) throw Object.assign(new Error(TEXT.moduleFailed), { code: "MODULE_UNAVAILABLE" });
  const key = JSON.stringify(state.config);
  if (state.lab && state.labKey === key) return state.lab;
  dropLab();
  setStatus(TEXT.preparingDevice);
  await nextFrame(); // key generation blocks the main thread: let the status paint first
  state.lab = await state.mod.Lab.create(state.config, { storage: "indexeddb" });
  state.labKey = key;
  return state.lab;
}

function beginRun(lab) {
  lab.reset(); // the module may hold a paused run: this one starts from discovery
  state.inRun = true;
  state.selected = null;
  dom.runError.hidden = true;
  setFlowState("running");
  showTrace(EMPTY_TRACE);
}

function failedResult(e) {
  const error = errorObject(e);
  if (error.code === "CONFIG_INVALID") panel.showRunProblems(error.problems);
  if (error.code === "MODULE_PANIC") dropLab();
  let trace = EMPTY_TRACE;
  if (state.lab && error.code !== "CONFIG_INVALID") {
    try {
      trace = state.lab.trace();
    } catch {
      trace = EMPTY_TRACE;
    }
  }
  return { state: "failed", done: true, step: error.step ?? null, outcome: null, error, trace };
}

function finishRun(result) {
  state.inRun = false;
  setFlowState(result.state === "succeeded" ? "succeeded" : "failed");
  const trace = result.trace ?? EMPTY_TRACE;
  showTrace(trace);
  if (result.state === "succeeded") {
    dom.runError.hidden = true;
    const o = result.outcome ?? {};
    const extra = o.reregistered
      ? " The stored client was no longer known to the server, so the device registered a new one."
      : o.reusedStoredClient ? " The client stored on this device was reused: registration was skipped." : "";
    const last = trace.steps.at(-1)?.name ?? "";
    const ms = trace.steps.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);
    const base = state.config?.stopAfter && last === state.config.stopAfter ? TEXT.runStoppedAfter(last) : TEXT.runSucceeded(last, ms);
    setStatus(base + extra, { busy: false });
  } else {
    const error = result.error ?? { code: "PAGE_ERROR", message: "the run failed without an error" };
    const failedIndex = trace.steps.findLastIndex((s) => s.status === "failed" && (!error.step || s.name === error.step));
    const advice = failedIndex >= 0 ? trace.steps[failedIndex].notes ?? [] : [];
    if (failedIndex >= 0) state.selected = { index: failedIndex };
    renderSelection();
    renderRunError(dom.runError, {
      title: TEXT.runFailed(error.step ?? (failedIndex >= 0 ? trace.steps[failedIndex].name : null), trace.steps.length > 0),
      error,
      advice,
      onField: panel.focusField,
      onInspect: failedIndex >= 0 ? () => select({ index: failedIndex }, { focus: true }) : null,
      // Only a click of a person confirms a new destination: never a link or a fragment flag.
      onConfirmDestination: (event) => {
        if (!event?.isTrusted) return;
        state.inRun = false;
        advance("all", { allowNewOrigin: true });
      },
    });
    dom.runError.hidden = false;
    setStatus(TEXT.runFailedStatus(error.step ?? (failedIndex >= 0 ? trace.steps[failedIndex].name : null), trace.steps.length > 0), { busy: false });
  }
}

/**
 * Advances the flow: one step (`mode` "step") or to the end ("all"), always through lab.step so
 * the picture lights up as the steps complete (`pace`: ms to pause between steps, for an
 * audience). Resolves to the RunResult.
 */
function advance(mode, { pace = 0, allowNewOrigin = false } = {}) {
  return exclusive(async () => {
    const controller = new AbortController();
    state.abort = controller;
    setBusy(true);
    let result;
    try {
      const lab = await ensureLab();
      if (!state.inRun) beginRun(lab);
      for (let calls = 1; ; calls += 1) {
        const next = predictNext(state.trace);
        drawPicture(next);
        setStatus(TEXT.runningStep(next ?? "the flow"));
        const before = state.trace.steps.length;
        result = await lab.step({ signal: controller.signal, allowNewOrigin });
        if (!result.done && (result.trace.steps.length <= before || calls > 50)) {
          // A step must add to the trace of the same run, and a run must end: guard against a loop.
          throw Object.assign(new Error(`lab.step() returned done: false without completing a new step of this run (trace went from ${before} to ${result.trace.steps.length} steps)`), { code: "API_MISMATCH" });
        }
        if (result.done) break;
        showTrace(result.trace);
        const last = result.trace.steps.at(-1);
        setStatus(TEXT.stepDone(last?.name ?? "", last?.status ?? "", predictNext(result.trace)));
        if (mode !== "all" || controller.signal.aborted) break;
        if (pace > 0 && !reducedMotion.matches) await sleep(pace);
        if (controller.signal.aborted) break;
      }
    } catch (e) {
      result = failedResult(e);
    } finally {
      state.abort = null;
      setBusy(false);
    }
    if (controller.signal.aborted) {
      if (result?.done) state.inRun = false; // the module ended that run: the next one starts afresh
      setStatus(TEXT.aborted, { busy: false });
      return result;
    }
    if (result.done) {
      finishRun(result);
      await refreshDevice();
    }
    return result;
  });
}

function onRunClick() {
  if (state.busy) return setStatus(TEXT.busy);
  if (!state.mod) return setStatus(TEXT.moduleFailed);
  // In presenter mode the audience sees each arrow light up in turn.
  advance("all", { pace: dom.root.classList.contains("presenter") ? PRESENTER_PACE_MS : 0 });
}

function onNextClick() {
  if (state.busy) return setStatus(TEXT.busy);
  if (!state.mod) return setStatus(TEXT.moduleFailed);
  advance("step");
}

function reset() {
  state.abort?.abort();
  return exclusive(async () => {
    try {
      state.lab?.reset();
    } catch (e) {
      showBanner("Reset failed.", errorObject(e).message);
      dropLab();
    }
    clearRun();
    setStatus(TEXT.reset, { busy: false });
  });
}

/** Back to an empty run: no selection, no error, no trace. */
function clearRun() {
  state.inRun = false;
  state.selected = null;
  dom.runError.hidden = true;
  setFlowState("idle");
  showTrace(EMPTY_TRACE);
}

function forget() {
  state.abort?.abort();
  return exclusive(async () => {
    setStatus(TEXT.forgetting, { busy: true });
    try {
      if (state.problems?.length) {
        // The configuration cannot open a Lab, but the device can still be cleared.
        dropLab();
        await state.mod.forgetDevice();
        state.device = null;
      } else {
        await (await ensureLab()).forget();
      }
      clearRun();
      setStatus(TEXT.forgotten, { busy: false });
      await refreshDevice();
    } catch (e) {
      const error = errorObject(e);
      const advice = [];
      renderRunError(dom.runError, { title: "Could not forget this device.", error, advice, onField: panel.focusField });
      dom.runError.hidden = false;
      setStatus("Could not forget this device. The explanation is below the controls.", { busy: false });
      throw e;
    }
  });
}

/** Empties the in-page simulator's client database (the "database was recreated" lesson). */
function resetServer() {
  return exclusive(async () => {
    const lab = await ensureLab();
    await lab.resetServer();
    setStatus(TEXT.serverReset, { busy: false });
    await refreshDevice();
  });
}

// ---------------------------------------------------------------- configuration

const panel = createConfigPanel({
  onChange(doc, problems, source) {
    if (doc?.server?.mode === "simulator") loadSimModule();
    const edited = ["form", "json", "import", "default"].includes(source);
    if (edited) state.keepRunFlag = false;
    state.config = doc;
    state.problems = problems;
    writeFragment(doc, { run: state.keepRunFlag });
    if (state.lab && state.labKey !== JSON.stringify(doc)) {
      if (edited) setStatus(TEXT.configChanged);
      if (state.device) renderDevice(dom.deviceState, state.device, { stale: true });
    }
    drawPicture();
  },
});

dom.exportConfigButton.addEventListener("click", () => {
  download("haapi-lab-config.json", `${JSON.stringify(state.config ?? {}, null, 2)}\n`, "application/json");
});

dom.copyLinkButton.addEventListener("click", async () => {
  const url = writeFragment(state.config ?? {}, { run: false });
  await copyText(url, dom.jsonStatus, TEXT.linkCopied, () => replace(dom.jsonStatus, TEXT.copyFailed, " ", h("code", { class: "break" }, url)));
});

dom.defaultConfigButton.addEventListener("click", () => {
  if (state.mod) panel.setConfig(state.mod.defaultConfig(), "default");
});

// ---------------------------------------------------------------- inspector actions

async function copyText(text, statusEl, okText, onFail) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    statusEl.textContent = okText;
  } catch {
    onFail();
  }
}

function copyCurl(step, button) {
  const command = toCurl(step.request, { redacted: !state.reveal, simulated: state.config?.server?.mode === "simulator" });
  const note = h("p", { class: "hint", role: "status" });
  const block = h("div", { class: "curl", dataset: { curl: "true" } }, h("h5", {}, INSPECTOR.curlHeading), h("pre", { class: "code", tabindex: "0" }, command), note);
  button.parentElement.querySelector("[data-curl]")?.remove();
  button.after(block);
  copyText(command, note, TEXT.curlCopied, () => {
    note.textContent = TEXT.copyFailed;
  });
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

dom.exportTraceButton.addEventListener("click", () => {
  const trace = state.lab && state.trace.steps.length > 0 ? state.lab.trace() : state.trace;
  if (trace.steps.length === 0) return setStatus(TEXT.nothingToExport);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d+Z$/, "Z");
  const name = `haapi-lab-trace-${stamp}.json`;
  download(name, `${JSON.stringify(trace, null, 2)}\n`, "application/json");
  setStatus(TEXT.traceExported(name));
});

dom.revealToggle.addEventListener("change", () => {
  state.reveal = dom.revealToggle.checked;
  dom.revealStatus.textContent = state.reveal ? TEXT.revealOn : TEXT.revealOff;
  dom.root.classList.toggle("revealed", state.reveal);
  renderSelection();
  refreshDevice();
});

// ---------------------------------------------------------------- theme, presenter, keys

const THEMES = ["auto", "light", "dark"];
function applyTheme(theme) {
  if (theme === "auto") delete dom.root.dataset.theme;
  else dom.root.dataset.theme = theme;
  dom.themeToggle.textContent = TEXT.themeButton(TEXT.themeNames[theme]);
  try {
    localStorage.setItem("haapi-lab:theme", theme);
  } catch {
    // Storage refused: the theme just is not remembered.
  }
}
function cycleTheme() {
  const current = dom.root.dataset.theme ?? "auto";
  applyTheme(THEMES[(THEMES.indexOf(current) + 1) % THEMES.length]);
}
function storedTheme() {
  try {
    const t = localStorage.getItem("haapi-lab:theme");
    return THEMES.includes(t) ? t : "auto";
  } catch {
    return "auto";
  }
}

function setPresenter(on) {
  dom.root.classList.toggle("presenter", on);
  dom.presenterToggle.setAttribute("aria-pressed", String(on));
  setStatus(on ? TEXT.presenterOn : TEXT.presenterOff);
}

// Skip links move focus without touching the fragment, which holds the configuration.
for (const link of dom.skipLinks) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    const target = document.getElementById(link.hash.slice(1));
    target?.focus();
    target?.scrollIntoView({ block: "start" });
  });
}

dom.themeToggle.addEventListener("click", cycleTheme);
dom.presenterToggle.addEventListener("click", () => setPresenter(!dom.root.classList.contains("presenter")));
dom.runButton.addEventListener("click", onRunClick);
dom.nextButton.addEventListener("click", onNextClick);
dom.resetButton.addEventListener("click", () => reset());
dom.forgetButton.addEventListener("click", () => forget().catch(() => {})); // shown on the page
dom.resetServerButton.addEventListener("click", () => resetServer().catch((e) => showBanner("Could not reset the simulated server.", errorObject(e).message)));
dom.shortcutsToggle.addEventListener("change", () => setStatus(dom.shortcutsToggle.checked ? TEXT.shortcutsOn : TEXT.shortcutsOff));

function typingIn(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "reset", "file"].includes(target.type);
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
  const presenter = dom.root.classList.contains("presenter");
  const onBody = event.target === document.body || event.target === document.documentElement;
  if (event.key === "Escape" && presenter) {
    setPresenter(false);
    return;
  }
  if (presenter && (event.key === "PageDown" || event.key === "ArrowRight" || (event.key === " " && onBody))) {
    event.preventDefault();
    onNextClick();
    return;
  }
  if (presenter && (event.key === "PageUp" || event.key === "ArrowLeft")) {
    event.preventDefault();
    selectRelative(-1);
    return;
  }
  if (!dom.shortcutsToggle.checked) return;
  const actions = {
    r: onRunClick,
    n: onNextClick,
    x: () => reset(),
    p: () => setPresenter(!presenter),
    t: cycleTheme,
    "?": () => dom.helpSection.focus(),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

// ---------------------------------------------------------------- automation

function traceFor({ reveal }) {
  // No lab: never created, or the last configuration was refused before any request.
  if (!state.lab) return { steps: [], redacted: !reveal };
  return state.lab.trace({ reveal });
}

let ready;
installAutomation({
  async run(config, options) {
    await ready;
    state.abort?.abort();
    if (config !== undefined && config !== null) {
      state.keepRunFlag = false;
      panel.setConfig(config, "automation");
    }
    await exclusive(async () => {
      state.inRun = false;
    });
    return advance("all", { allowNewOrigin: options?.allowNewOrigin === true });
  },
  trace: traceFor,
  async device() {
    await ready;
    return exclusive(async () => {
      await ensureLab();
      await refreshDevice();
      return state.lab.device();
    });
  },
  async forget() {
    await ready;
    return forget();
  },
  async resetServer() {
    await ready;
    return resetServer();
  },
  config: () => structuredClone(state.config),
});

// ---------------------------------------------------------------- start

async function loadModule() {
  setStatus(TEXT.loadingModule, { busy: true });
  try {
    const mod = await import("../pkg/haapi_lab.js");
    await mod.default();
    return mod;
  } catch (e) {
    state.moduleError = e;
    return null;
  }
}

/**
 * The simulated server's module, loaded only for `server.mode: "simulator"`, in parallel with
 * the client module (the client module would load the same URL when a Lab opens; an ES module
 * is loaded once). Resolves to null when it cannot load: the Lab then says why.
 */
let simModule = null;
function loadSimModule() {
  simModule ??= import("../pkg/sim/haapi_lab_sim.js")
    .then(async (m) => {
      await m.default();
      panel.setSimApi(m);
      return m;
    })
    .catch(() => null);
  return simModule;
}

async function start() {
  applyTheme(storedTheme());
  renderShortcuts(dom.shortcutList);
  setFlowState("idle");
  setBusy(false);
  drawPicture();
  renderSelection();
  renderDevice(dom.deviceState, null);

  const fragment = readFragment();
  state.keepRunFlag = fragment.run;
  if (fragment.config) panel.setConfig(fragment.config, "load");

  // The default configuration and most links use the in-page simulator: fetch its module now,
  // beside the client module, rather than when the first run opens a Lab.
  if ((fragment.config?.server?.mode ?? "simulator") === "simulator") loadSimModule();
  state.mod = await loadModule();
  if (!state.mod) {
    const why = errorObject(state.moduleError).message;
    showBanner(TEXT.moduleFailed, `${why}. ${TEXT.moduleFailedAdvice}`);
    setBusy(false);
    setStatus(TEXT.moduleFailed, { busy: false });
    if (fragment.run) {
      setFlowState("failed");
      renderRunError(dom.runError, { title: TEXT.runFailed(null), error: { code: "MODULE_UNAVAILABLE", message: why }, advice: [TEXT.moduleFailedAdvice] });
      dom.runError.hidden = false;
    }
    return;
  }
  for (const s of state.mod.steps()) state.purposes.set(s.name, s.purpose);
  panel.setApi(state.mod);
  if (!fragment.config) panel.setConfig(state.mod.defaultConfig(), "load");
  setBusy(false);

  if (fragment.error) {
    showBanner(TEXT.fragmentUnreadable(fragment.error));
    if (fragment.run) {
      setFlowState("failed");
      renderRunError(dom.runError, { title: TEXT.runFailed(null), error: { code: "CONFIG_INVALID", message: TEXT.fragmentUnreadable(fragment.error) } });
      dom.runError.hidden = false;
      setStatus(TEXT.runFailedStatus(null), { busy: false });
      return;
    }
  }
  if (fragment.run) {
    await advance("all");
    return;
  }
  setStatus(FLOW_STATE_TEXT.idle, { busy: false });
  if (state.problems.length === 0) {
    await exclusive(async () => {
      try {
        await ensureLab();
        await refreshDevice();
        setStatus(FLOW_STATE_TEXT.idle, { busy: false });
      } catch (e) {
        const error = errorObject(e);
        if (error.code === "CONFIG_INVALID") panel.showRunProblems(error.problems);
        setStatus(`${FLOW_STATE_TEXT.idle} The device could not be opened: ${error.message}`, { busy: false });
      }
    });
  }
}

window.addEventListener("hashchange", () => {
  const fragment = readFragment();
  if (!fragment.config && !fragment.error) {
    // Not a configuration (e.g. an in-page anchor): the fragment keeps reflecting the document.
    if (state.config) writeFragment(state.config, { run: false });
    return;
  }
  if (fragment.error) {
    showBanner(TEXT.fragmentUnreadable(fragment.error));
    return;
  }
  state.keepRunFlag = fragment.run;
  panel.setConfig(fragment.config, "load");
  if (fragment.run && state.mod) {
    exclusive(async () => {
      state.inRun = false;
    }).then(() => advance("all"));
  }
});

ready = start();
