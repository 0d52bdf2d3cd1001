// The run's lifecycle: loads the WebAssembly module, keeps one Lab (one device, one
// configuration), drives it step by step or to the end, pauses where the login waits for a
// person (a form value, the authenticator choice) and carries the answer back, and hands what
// happened to the renderers (picture, step list, inspector, app view, tokens, device).
//
// Every lab operation runs through `exclusive`, one at a time: a Lab must not be reset or
// forgotten while one of its steps is still running. Two calls deliberately bypass it, because
// they must act while a step waits on the other device: `cancelPolling` and `decidePolling`.
//
// Elsewhere, reading this module's `state`: steps-view.js (picture, step list, inspector) and
// app-panel.js (the app view and the other device, drawn by app-view.js). Apart from it:
// controls.js (theme, presenter, keys), tokens-view.js (the decoded tokens), share.js (export,
// copy), config-panel.js.

import { createAppPanel, isPendingPoll, pollsSoFar } from "./app-panel.js";
import { installAutomation, readFragment, setFlowBusy, setFlowPaused, setFlowState, writeFragment } from "./automation.js";
import { createConfigPanel } from "./config-panel.js";
import { installControls, isPresenter } from "./controls.js";
import * as dom from "./dom.js";
import { parse, problemName, representationOf } from "./haapi.js";
import { h, renderDevice, renderRunError, renderShortcuts, replace } from "./render.js";
import { predictNext } from "./sequence.js";
import { installSharing } from "./share.js";
import { createStepsView } from "./steps-view.js";
import { APP, FLOW_STATE_TEXT, STEP_PURPOSES, STEPS, TEXT } from "./strings.js";
import { renderTokens } from "./tokens-view.js";

const PRESENTER_PACE_MS = 450;
const MAX_CALLS = 200; // lab.step calls in one advance: the fallback, the login and a minute of polls
const EMPTY_TRACE = Object.freeze({ steps: [], redacted: true });

const state = {
  mod: null, // the loaded client module (pkg/haapi_lab_with_sim.js or pkg/haapi_lab.js)
  moduleError: null,
  config: null, // the current document
  problems: [],
  lab: null,
  labKey: null, // JSON of the configuration the lab was made for
  trace: EMPTY_TRACE, // the trace to show (redacted), from the last result
  tags: new Map(), // trace index -> tag in the picture (H1, H2, …)
  inRun: false, // a run has started and not ended (stepping, or paused)
  mode: "all", // how the run was last driven: "all" (Run all) or "step" (Next step)
  interactive: true, // the run asks a person at every login form and choice
  question: null, // what the paused run waits for (the module's Question), or null
  answerProblem: "", // why the last answer was not taken (a field still empty)
  typed: {}, // what a person last typed into the login form (never passwords)
  otherDeviceMessage: "",
  busy: false,
  abort: null,
  selected: null, // { index } into trace.steps, or { name } of a step that has not run
  reveal: false,
  device: null, // the last DeviceState shown
  keepRunFlag: false, // keep &run=1 in the fragment until the person edits the configuration
  refused: null, // the trace of a run that could not start ({ steps: [], error }), while no lab exists
  purposes: new Map(STEPS.map((s) => [s.name, STEP_PURPOSES[s.name] ?? ""])),
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
  for (const k of ["step", "status", "error", "errorDescription", "problems", "problem", "title", "evidence", "retryAfter", "location", "timeoutMs"]) {
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

// ---------------------------------------------------------------- views of the run

const steps = createStepsView(state, {
  onCopyCurl: (step, button) => sharing.copyCurl(step, button),
  onField: (path) => panel.focusField(path),
  onError: showBanner,
  isPresenter,
});

const app = createAppPanel(state, {
  answer: answerFromPage,
  cancelPolling,
  decide: decidePolling,
});

const drawPicture = (running = null) => steps.draw(running);
const renderSelection = (options) => steps.render(options);
const select = (selection, options) => steps.select(selection, options);
const renderApp = () => app.render();
const focusApp = () => app.focus();

function showTrace(trace, { follow = true, running = null } = {}) {
  state.trace = trace ?? EMPTY_TRACE;
  for (const s of state.trace.steps) if (s.purpose) state.purposes.set(s.name, s.purpose);
  if (follow && state.trace.steps.length > 0) state.selected = { index: state.trace.steps.length - 1 };
  drawPicture(running);
  renderSelection();
  renderApp();
}

function setQuestion(question) {
  state.question = question;
  setFlowPaused(Boolean(question));
  if (!question) state.answerProblem = "";
}

/** A person answered in the app view: the run goes on the way it was driven. */
function answerFromPage(answer) {
  if (!state.question || state.busy) return;
  if (configChanged()) return setStatus(TEXT.configChangedWhilePaused);
  if (answer.values) {
    const passwords = new Set((state.question.fields ?? []).filter((f) => f.type === "password").map((f) => f.name));
    state.typed = Object.fromEntries(Object.entries(answer.values).filter(([k]) => !passwords.has(k)));
  }
  const mode = state.mode;
  // The form is about to be replaced: keep focus where the person goes on from.
  (mode === "step" ? dom.nextButton : dom.appSection).focus();
  advance(mode, { answer, byPerson: true, pace: isPresenter() && mode === "all" ? PRESENTER_PACE_MS : 0 });
}

/** The polling authenticator's Cancel: the next poll sends its cancel action. */
function cancelPolling() {
  if (!state.lab) return;
  state.lab.cancelPolling();
  setStatus(TEXT.pollingCancel);
  if (!state.busy && state.inRun) advance(state.mode);
}

/** The simulated other device approves or denies every login that waits on it. */
function decidePolling(approve) {
  if (!state.lab) return;
  try {
    state.otherDeviceMessage = TEXT.decided(approve, state.lab.decidePolling(approve));
  } catch (e) {
    state.otherDeviceMessage = errorObject(e).message;
  }
  renderApp();
}

// ---------------------------------------------------------------- device and tokens

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

function showTokens(outcome) {
  let thumbprint = null;
  try {
    thumbprint = state.lab?.device().dpop.thumbprint ?? null;
  } catch {
    thumbprint = null;
  }
  dom.tokensSection.hidden = !renderTokens(dom.tokens, { tokens: outcome?.tokens ?? null, subject: outcome?.subject ?? null, thumbprint });
}

// ---------------------------------------------------------------- the lab

function dropLab() {
  const old = state.lab;
  state.lab = null;
  state.labKey = null;
  state.inRun = false;
  setQuestion(null);
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
  state.refused = null;
  return state.lab;
}

/** Back to an empty run: no selection, no error, no question, no tokens, no trace. */
function clearRun(flowState = "idle") {
  state.inRun = false;
  state.selected = null;
  state.typed = {};
  state.otherDeviceMessage = "";
  setQuestion(null);
  dom.runError.hidden = true;
  dom.tokensSection.hidden = true;
  setFlowState(flowState);
  showTrace(EMPTY_TRACE);
}

function beginRun(lab, interactive) {
  lab.reset(); // the module may hold a paused run: this one starts from discovery
  clearRun("running");
  state.inRun = true;
  state.interactive = interactive;
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
  } else {
    // A run that cannot start (a refused configuration) is still reported through the trace:
    // no steps, the error at the top (README, "Automation (QA)").
    trace = { steps: [], redacted: true, error: { code: error.code, message: error.message, problems: error.problems ?? [] } };
    state.refused = trace;
  }
  return { state: "failed", done: true, step: error.step ?? null, outcome: null, error, trace };
}

function pausedText(question) {
  if (question.problem) return TEXT.paused.problem(parse(question.problem).title ?? problemName(question.problem));
  if (question.kind === "form") return TEXT.paused.form(question.missing ?? []);
  return TEXT.paused[question.kind] ?? TEXT.paused.other;
}

/**
 * The run waits for an answer: flowState stays "running", flowPaused is "true", the app view
 * asks. `byPerson`: a person is at the page (they started the run, or answered in the app view),
 * so focus goes to what the run asks; a script's or a link's run leaves the focus alone.
 */
function showPaused(result, { byPerson = false } = {}) {
  setQuestion(result.question);
  showTrace(result.trace);
  setStatus(result.rejected ? `${pausedText(result.question)} ${result.rejected.message}` : pausedText(result.question), { busy: false });
  if (state.interactive || byPerson) focusApp();
}

function finishRun(result) {
  state.inRun = false;
  setQuestion(null);
  setFlowState(result.state === "succeeded" ? "succeeded" : "failed");
  const trace = result.trace ?? EMPTY_TRACE;
  showTrace(trace);
  if (result.state === "succeeded") {
    dom.runError.hidden = true;
    const o = result.outcome ?? {};
    showTokens(o);
    const extra = o.reregistered
      ? " The stored client was no longer known to the server, so the device registered a new one."
      : o.reusedStoredClient ? " The client stored on this device was reused: registration was skipped." : "";
    const last = trace.steps.at(-1)?.name ?? "";
    const ms = trace.steps.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);
    const base = state.config?.stopAfter && last === state.config.stopAfter ? TEXT.runStoppedAfter(last) : TEXT.runSucceeded(last, ms);
    setStatus(base + extra + (o.tokens ? ` ${TEXT.loggedIn(o.subject)}` : ""), { busy: false });
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
        advance("all", { allowNewOrigin: true, interactive: true });
      },
    });
    dom.runError.hidden = false;
    setStatus(TEXT.runFailedStatus(error.step ?? (failedIndex >= 0 ? trace.steps[failedIndex].name : null), trace.steps.length > 0), { busy: false });
  }
}

function runningText(next) {
  const last = state.trace.steps.at(-1);
  if (next === "authenticate" && last && isPendingPoll(representationOf(last))) return TEXT.polling(pollsSoFar(state.trace) + 1);
  return TEXT.runningStep(next ?? "the flow");
}

/**
 * Advances the flow: one step (`mode` "step") or to the end ("all"), always through lab.step so
 * the picture lights up as the steps complete (`pace`: ms to pause between steps, for an
 * audience). A new run is `interactive` (a person at the page: the login asks at every form and
 * choice) or not (a link or a script). `answer` answers the paused run's question first
 * (`byPerson`: typed or clicked in the app view).
 * Resolves to the RunResult (`state: "paused"` when the run waits for an answer).
 */
function advance(mode, { pace = 0, allowNewOrigin = false, interactive = true, answer = null, byPerson = false } = {}) {
  return exclusive(async () => {
    const controller = new AbortController();
    state.abort = controller;
    setBusy(true);
    let result;
    try {
      const lab = await ensureLab();
      if (!state.inRun) beginRun(lab, interactive);
      state.mode = mode;
      let pending = answer;
      if (pending) {
        setQuestion(null);
        renderApp();
      }
      for (let calls = 1; ; calls += 1) {
        const next = predictNext(state.trace);
        drawPicture(next);
        setStatus(runningText(next));
        const before = state.trace.steps.length;
        const options = { signal: controller.signal, allowNewOrigin, interactive: state.interactive };
        if (pending) options.answer = pending;
        pending = null;
        result = await lab.step(options);
        if (result.state === "paused") break;
        if (!result.done && (result.trace.steps.length <= before || calls > MAX_CALLS)) {
          // A step must add to the trace of the same run, and a run must end: guard against a loop.
          throw Object.assign(new Error(`lab.step() returned done: false without completing a new step of this run (trace went from ${before} to ${result.trace.steps.length} steps)`), { code: "API_MISMATCH" });
        }
        if (result.done) break;
        showTrace(result.trace);
        // The step ended on a question: the run waits for it (polls go on by themselves).
        const question = lab.question();
        if (question && question.kind !== "poll") {
          result = { ...result, state: "paused", question };
          break;
        }
        const last = result.trace.steps.at(-1);
        setStatus(TEXT.stepDone(last?.name ?? "", last?.status ?? "", predictNext(result.trace)));
        if (mode !== "all" || controller.signal.aborted) break;
        if (pace > 0 && !reducedMotion.matches) await sleep(pace);
        if (controller.signal.aborted) break;
      }
    } catch (e) {
      const still = answer && state.lab ? state.lab.question() : null;
      if (still) {
        // The answer was not taken (a field still empty): the run still waits.
        state.answerProblem = errorObject(e).message;
        result = { state: "paused", done: false, step: state.trace.steps.at(-1)?.name ?? null, question: still, trace: state.lab.trace(), rejected: errorObject(e) };
      } else {
        result = failedResult(e);
      }
    } finally {
      state.abort = null;
      setBusy(false);
    }
    if (controller.signal.aborted) {
      if (result?.done) state.inRun = false; // the module ended that run: the next one starts afresh
      setStatus(TEXT.aborted, { busy: false });
      return result;
    }
    if (result.state === "paused") {
      showPaused(result, { byPerson });
      return result;
    }
    if (result.done) {
      finishRun(result);
      await refreshDevice();
    } else {
      drawPicture();
    }
    return result;
  });
}

/** The configuration was edited since the lab (and its paused run) was made for it. */
const configChanged = () => Boolean(state.lab) && state.labKey !== JSON.stringify(state.config);

function onRunClick() {
  if (state.busy) return setStatus(TEXT.busy);
  if (!state.mod) return setStatus(TEXT.moduleFailed);
  if (state.question && !configChanged()) {
    setStatus(TEXT.answerFirst);
    return focusApp();
  }
  // In presenter mode the audience sees each arrow light up in turn.
  advance("all", { pace: isPresenter() ? PRESENTER_PACE_MS : 0 });
}

function onNextClick() {
  if (state.busy) return setStatus(TEXT.busy);
  if (!state.mod) return setStatus(TEXT.moduleFailed);
  if (state.question && !configChanged()) {
    setStatus(TEXT.answerFirst);
    return focusApp();
  }
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
      renderRunError(dom.runError, { title: "Could not forget this device.", error, advice: [], onField: panel.focusField });
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

// ---------------------------------------------------------------- configuration, sharing, controls

const panel = createConfigPanel({
  onChange(doc, problems, source) {
    loadSimModule(doc);
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

dom.defaultConfigButton.addEventListener("click", () => {
  if (state.mod) panel.setConfig(state.mod.defaultConfig(), "default");
});

const sharing = installSharing({
  config: () => state.config,
  reveal: () => state.reveal,
  exportTrace: () => (state.lab && state.trace.steps.length > 0 ? state.lab.trace() : state.trace),
  status: (text) => setStatus(text),
});

dom.revealToggle.addEventListener("change", () => {
  state.reveal = dom.revealToggle.checked;
  dom.revealStatus.textContent = state.reveal ? TEXT.revealOn : TEXT.revealOff;
  dom.root.classList.toggle("revealed", state.reveal);
  renderSelection();
  refreshDevice();
});

installControls({
  run: onRunClick,
  next: onNextClick,
  reset: () => reset(),
  previous: () => steps.selectRelative(-1),
  focusApp,
  status: (text) => setStatus(text),
});

dom.runButton.addEventListener("click", onRunClick);
dom.nextButton.addEventListener("click", onNextClick);
dom.resetButton.addEventListener("click", () => reset());
dom.forgetButton.addEventListener("click", () => forget().catch(() => {})); // shown on the page
dom.resetServerButton.addEventListener("click", () => resetServer().catch((e) => showBanner("Could not reset the simulated server.", errorObject(e).message)));

// ---------------------------------------------------------------- automation

function traceFor({ reveal }) {
  // No lab: never created, or the last configuration was refused before any request (then the
  // trace says why, with nothing in it to reveal).
  if (!state.lab) return state.refused ? structuredClone(state.refused) : { steps: [], redacted: !reveal };
  return state.lab.trace({ reveal });
}

/** Drops the current run (a paused one too), once every earlier operation has settled. */
function endRun() {
  state.abort?.abort();
  return exclusive(async () => {
    state.inRun = false;
  });
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
    await endRun();
    return advance("all", { allowNewOrigin: options?.allowNewOrigin === true, interactive: options?.interactive === true });
  },
  async answer(answer) {
    await ready;
    await exclusive(async () => {}); // a run still in flight finishes (and may pause) first
    if (!state.question) throw Object.assign(new Error("haapiLab.answer: no run is paused (haapiLab.question() is null)"), { code: "FLOW_STATE" });
    const result = await advance("all", { answer });
    if (result.rejected) throw Object.assign(new Error(result.rejected.message), result.rejected);
    return result;
  },
  question: () => (state.question ? structuredClone(state.question) : null),
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

/** Whether `doc` (a configuration, or nothing: the default) uses the in-page simulator. */
const inSimulatorMode = (doc) => (doc?.server?.mode ?? "simulator") === "simulator";

/**
 * Whether `doc` will run on the whole simulator (pkg/sim/): `server.simulator` settings, a
 * mutual-TLS method, an assertion algorithm other than ES256 and HS*, a DPoP algorithm other than
 * ES256. Only a hint for what to download, from the configuration alone: the client module
 * decides with the keys too (PublicMaterial::full_simulator_reason, src/client/material.rs) and
 * loads what its Lab needs whatever was guessed here.
 */
function needsWholeSimulator(doc) {
  const method = doc?.credential?.method ?? "";
  const alg = doc?.credential?.alg;
  return (
    doc?.server?.simulator != null ||
    method.endsWith("tls_client_auth") ||
    (["private_key_jwt", "client_secret_jwt"].includes(method) && alg != null && !["ES256", "HS256", "HS384", "HS512"].includes(alg)) ||
    (doc?.dpop?.alg ?? "ES256") !== "ES256"
  );
}

/**
 * The client module. In simulator mode, when the light simulator serves the configuration, the
 * one with the light simulator compiled in (pkg/haapi_lab_with_sim.js: one download instead of
 * the client and the light simulator, which share most of their code); otherwise the client
 * alone (pkg/haapi_lab.js), which loads a simulator module itself when a Lab needs one (the
 * whole one is fetched at once beside it, `loadSimModule`). Both have the same API.
 */
async function loadModule(doc) {
  setStatus(TEXT.loadingModule, { busy: true });
  try {
    const withSim = inSimulatorMode(doc) && !needsWholeSimulator(doc);
    const mod = await import(withSim ? "../pkg/haapi_lab_with_sim.js" : "../pkg/haapi_lab.js");
    await mod.default();
    return mod;
  } catch (e) {
    state.moduleError = e;
    return null;
  }
}

/**
 * The whole simulated server (pkg/sim/), fetched at once, beside the client module, for a
 * configuration that will run on it (`needsWholeSimulator`): the client module's Lab finds it
 * loaded (an ES module is loaded once), and the panel checks `server.simulator` settings with it
 * (only the whole one reads them). Resolves to null when it cannot load: the Lab then says why.
 */
let wholeSimModule = null;
function loadSimModule(doc) {
  if (!inSimulatorMode(doc) || !needsWholeSimulator(doc)) return null;
  wholeSimModule ??= import("../pkg/sim/haapi_lab_sim.js")
    .then(async (m) => {
      await m.default();
      panel.setSimApi(m);
      return m;
    })
    .catch(() => null);
  return wholeSimModule;
}

async function start() {
  renderShortcuts(dom.shortcutList);
  dom.appIntro.textContent = APP.intro;
  setFlowState("idle");
  setFlowPaused(false);
  setBusy(false);
  drawPicture();
  renderSelection();
  renderApp();
  renderDevice(dom.deviceState, null);

  const fragment = readFragment();
  state.keepRunFlag = fragment.run;
  if (fragment.config) panel.setConfig(fragment.config, "load");

  state.mod = await loadModule(fragment.config);
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
  for (const s of state.mod.steps()) if (s.purpose) state.purposes.set(s.name, s.purpose);
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
    // A link runs like a script: the login is filled from authentication.inputs, and pauses
    // only where a value is missing.
    await advance("all", { interactive: false });
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
  if (fragment.run && state.mod) endRun().then(() => advance("all", { interactive: false }));
});

ready = start();
