// The run as steps: the sequence picture, the ordered step list and the inspector of the chosen
// step (its request, response, tokens, and for a HAAPI response what an app would draw). It
// reads the run's state (main.js) and never drives the lab.

import { renderAppView } from "./app-view.js";
import * as dom from "./dom.js";
import { representationOf } from "./haapi.js";
import { h, renderInspector, renderStepList, replace } from "./render.js";
import { createSequence, sequenceRows } from "./sequence.js";
import { INSPECTOR } from "./strings.js";

/**
 * `state`: the run's state (`trace`, `selected`, `reveal`, `lab`, `inRun`, `config`, `purposes`,
 * `tags`, written here). `hooks`: `onCopyCurl(step, button)`, `onField(path)`, `onError(title, message)`,
 * `isPresenter()`. Returns `{ draw(running), render({ focus }), select(selection, options), selectRelative(delta) }`.
 */
export function createStepsView(state, hooks) {
  const sequence = createSequence(dom.sequenceHost, {
    onSelect: (row) => (row.indices.length > 0 ? select({ index: row.indices.at(-1) }) : select({ name: row.name })),
  });

  function draw(running = null) {
    const { rows, tags } = sequenceRows(state.trace, { running });
    state.tags = tags;
    sequence.update(rows, state.config?.server?.mode ?? "simulator");
    sequence.select(state.selected);
  }

  /** The trace as the inspector shows it: revealed only when the person asked. */
  function viewTrace() {
    if (state.reveal && state.lab && state.trace.steps.length > 0) {
      try {
        return state.lab.trace({ reveal: true });
      } catch (e) {
        hooks.onError("Could not read the revealed trace.", e?.message ?? String(e));
      }
    }
    return state.trace;
  }

  function render({ focus = false } = {}) {
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
    renderStepList(dom.stepList, state.trace.steps, sel && "index" in sel ? sel.index : -1, (index) => select({ index }), (index) => state.tags.get(index) ?? "");
    sequence.select(sel);
    if (!step) {
      replace(dom.inspector, h("p", { class: "muted" }, INSPECTOR.empty));
      return;
    }
    // A failed step the run went on from (later steps, or a run still in progress or paused).
    const recovered = step.status === "failed" && (sel.index < trace.steps.length - 1 || state.inRun);
    const rep = step.pending ? null : representationOf(step);
    renderInspector(dom.inspector, step, {
      revealed: trace.redacted === false,
      onCopyCurl: hooks.onCopyCurl,
      onField: hooks.onField,
      position,
      recovered,
      tag: sel && "index" in sel ? state.tags.get(sel.index) : null,
      drawing: rep ? renderAppView(rep) : null,
    });
    if (focus) document.getElementById("inspected-step")?.focus();
  }

  function select(selection, options) {
    state.selected = selection;
    render(options);
    if (hooks.isPresenter()) dom.inspector.scrollIntoView({ block: "nearest" });
  }

  function selectRelative(delta) {
    const n = state.trace.steps.length;
    if (n === 0) return;
    const current = state.selected && "index" in state.selected ? state.selected.index : n;
    select({ index: Math.min(n - 1, Math.max(0, current + delta)) });
  }

  return { draw, render, select, selectRelative };
}
