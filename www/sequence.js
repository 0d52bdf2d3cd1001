// The sequence picture: an SVG built with DOM APIs (createElementNS, textContent), one arrow per
// row, lit by class as the run goes (is-ok, is-failed, is-skipped, is-running). Each row is a
// focusable button (Enter or Space inspects it; arrow keys move between rows).
//
// The rows come from the trace (`sequenceRows`): one per fallback step, then one per HAAPI
// representation the login followed (`authenticate`, polls of one wait drawn as one row), then
// the code exchange. The picture grows as the login proceeds.

import { describe, describeAnswer, isProblem, parse, representationOf } from "./haapi.js";
import { ACTORS, SERVER_GROUP, STATUS_GLYPH, STATUS_WORD, STEPS } from "./strings.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const TOP = 112;
const ROW = 78;
const X = { device: 96, token: 455, registration: 672, authorize: 884, server: 330 };
const ACTOR_WIDTH = { device: 180, token: 170, registration: 206, authorize: 196 };
const STATUSES = ["ok", "failed", "skipped", "running", "pending"];
const HAAPI = new Set(["authenticate"]);

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function marker(id) {
  return svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerUnits: "userSpaceOnUse", markerWidth: 13, markerHeight: 13, orient: "auto-start-reverse", class: `arrowhead ${id}` },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }));
}

const info = (name) => STEPS.find((s) => s.name === name);

/** The answer line of a fallback step that ran. */
function answerText(step) {
  if (step.status === "skipped") return "skipped";
  const status = step.response?.status;
  if (step.status === "failed") return [status, step.error?.problem ?? step.error?.error ?? step.error?.code].filter(Boolean).join(" · ");
  if (status === undefined) return "";
  const rep = representationOf(step);
  return `${status} · ${rep ? describe(rep) : info(step.name)?.answer ?? ""}`;
}

function requestText(step, fallback) {
  const r = step?.request;
  if (!r) return fallback;
  let path = r.url;
  try {
    path = new URL(r.url).pathname;
  } catch {
    // Not absolute: shown as it is.
  }
  return `${r.method} ${path}`;
}

/** Whether the HAAPI walk has reached its end (the authorization response came). */
export function reachedAuthorizationResponse(trace) {
  const last = trace.steps.findLast((s) => s.name === "authorize" || s.name === "authenticate");
  return last ? parse(representationOf(last) ?? {}).type === "oauth-authorization-response" : false;
}

/** The step that runs next, as far as the page can tell from the trace. */
export function predictNext(trace) {
  const last = trace.steps.at(-1);
  if (!last) return "discovery";
  if (last.name === "haapi-token" && last.status === "failed") return "dcr-token"; // re-registration
  if (last.name === "authorize" || last.name === "authenticate") return reachedAuthorizationResponse(trace) ? "code-exchange" : "authenticate";
  const i = STEPS.findIndex((s) => s.name === last.name);
  return STEPS[i + 1]?.name ?? null;
}

/**
 * The rows of the picture for `trace`. `running`: the step in flight (a row lights up for it).
 * A row: `{ key, name, tag, title, request, answer, from, to, status, indices }` (`indices`: the
 * trace entries it stands for; empty when it has not run). `tags`: trace index -> tag.
 */
export function sequenceRows(trace, { running = null } = {}) {
  const rows = [];
  const tags = new Map();
  const steps = trace.steps;
  for (const s of STEPS) {
    if (HAAPI.has(s.name) || s.name === "code-exchange") continue;
    const index = steps.findLastIndex((t) => t.name === s.name);
    const step = steps[index];
    for (const [i, t] of steps.entries()) if (t.name === s.name) tags.set(i, s.tag);
    rows.push({
      ...s,
      key: s.name,
      request: s.request,
      answer: step ? answerText(step) : s.answer,
      status: running === s.name ? "running" : step?.status ?? "pending",
      indices: index >= 0 ? [index] : [],
    });
  }

  // The login: one row per representation followed; the polls of one wait share a row.
  const haapi = info("authenticate");
  let previous = representationOf(steps.findLast((t) => t.name === "authorize"));
  let n = 0;
  let pollRow = null;
  for (const [i, step] of steps.entries()) {
    if (step.name !== "authenticate") continue;
    const rep = representationOf(step);
    const did = describeAnswer(previous, step.request);
    const pending = rep && parse(rep).type === "polling-step" && parse(rep).properties.status === "pending";
    if (pollRow && did === "poll" && pending) {
      pollRow.indices.push(i);
      pollRow.polls += 1;
      pollRow.title = `${haapi.title}: poll ×${pollRow.polls}`;
      pollRow.answer = `${step.response?.status ?? ""} · ${describe(rep)}`;
      pollRow.status = step.status;
      tags.set(i, pollRow.tag);
      continue;
    }
    n += 1;
    const row = {
      ...haapi,
      key: `authenticate@${i}`,
      tag: `${haapi.tag}${n}`,
      title: did ? `${haapi.title}: ${did}` : haapi.title,
      request: requestText(step, haapi.request),
      answer: answerText(step),
      status: step.status,
      indices: [i],
      polls: did === "poll" ? 1 : 0,
    };
    tags.set(i, row.tag);
    rows.push(row);
    pollRow = pending && did === "poll" ? row : null;
    if (rep && !isProblem(rep)) previous = rep;
  }
  const walking = running === "authenticate";
  if (walking && pollRow) {
    pollRow.status = "running";
  } else if (walking || n === 0) {
    rows.push({ ...haapi, key: walking ? `authenticate@${steps.length}` : "authenticate", tag: `${haapi.tag}${n + 1}`, status: walking ? "running" : "pending", indices: [] });
  }

  const exchange = info("code-exchange");
  const index = steps.findLastIndex((t) => t.name === "code-exchange");
  if (index >= 0) tags.set(index, exchange.tag);
  rows.push({
    ...exchange,
    key: "code-exchange",
    request: exchange.request,
    answer: index >= 0 ? answerText(steps[index]) : exchange.answer,
    status: running === "code-exchange" ? "running" : steps[index]?.status ?? "pending",
    indices: index >= 0 ? [index] : [],
  });
  return { rows, tags };
}

/**
 * Draws the picture into `host`. `onSelect(row)` is called when a row is chosen.
 * Returns `{ update(rows, mode), select(index | name), focus(key) }`.
 */
export function createSequence(host, { onSelect }) {
  let keys = "";
  let rowsByKey = new Map();
  let order = [];
  let root = null;
  let serverLabel = null;

  function build(rows) {
    const height = TOP + rows.length * ROW + 16;
    root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "sequence-svg", role: "group", "aria-labelledby": "seq-title", "aria-describedby": "seq-desc" },
      svg("title", { id: "seq-title" }, "Sequence of the attestation fallback and the login"),
      svg("desc", { id: "seq-desc" }, `Actors: ${ACTORS.map((a) => a.label).join(", ")}. One arrow per step; choose a step to inspect it.`));
    root.append(svg("defs", {}, ...STATUSES.map((s) => marker(`head-${s}`))));

    // Actors and lifelines (decorative: the steps carry the meaning).
    serverLabel = svg("text", { x: X.server + 12, y: 24, class: "seq-group-label" }, SERVER_GROUP.simulator);
    const actors = svg("g", { "aria-hidden": "true" },
      svg("rect", { x: X.server, y: 6, width: WIDTH - X.server - 6, height: height - 12, rx: 14, class: "seq-group" }),
      serverLabel);
    for (const a of ACTORS) {
      const x = X[a.id];
      const w = ACTOR_WIDTH[a.id];
      actors.append(
        svg("line", { x1: x, y1: 86, x2: x, y2: height - 10, class: "seq-lifeline" }),
        svg("rect", { x: x - w / 2, y: 38, width: w, height: 48, rx: 8, class: "seq-actor" }),
        svg("text", { x, y: 59, "text-anchor": "middle", class: "seq-actor-label" }, a.label),
        svg("text", { x, y: 77, "text-anchor": "middle", class: "seq-actor-sub" }, a.sub));
    }
    root.append(actors);

    rowsByKey = new Map();
    order = rows.map((r) => r.key);
    rows.forEach((row, i) => {
      const y = TOP + i * ROW;
      const from = X[row.from];
      const to = X[row.to];
      const group = svg("g", { class: "seq-step is-pending", role: "button", tabindex: "0", "data-step": row.name, "data-key": row.key });
      const hit = svg("rect", { x: 4, y: y - 4, width: WIDTH - 8, height: ROW - 4, rx: 8, class: "seq-hit" });
      const glyph = svg("tspan", { class: "seq-glyph" }, "");
      const tag = svg("tspan", { class: "seq-tag" }, "");
      const titleText = svg("tspan", {}, "");
      // Each text ends with a space (invisible in SVG) so that the text content, which assistive
      // technology reads as the button's content, keeps words apart across <text> elements.
      const title = svg("text", { x: from + 14, y: y + 14, class: "seq-title" }, glyph, tag, titleText, svg("tspan", { class: "seq-name" }, row.name), " ");
      const sub = svg("text", { x: from + 14, y: y + 31, class: "seq-sub" }, "");
      group.append(hit, title, sub);
      let answer = null;
      if (row.to === "device") {
        // F3: a self-arrow on the device's lifeline.
        group.append(svg("path", { d: `M ${from} ${y + 40} h 70 v 20 h -66`, class: "seq-arrow", "marker-end": "url(#head-pending)" }));
      } else {
        group.append(svg("line", { x1: from, y1: y + 44, x2: to - 2, y2: y + 44, class: "seq-arrow", "marker-end": "url(#head-pending)" }));
        group.append(svg("line", { x1: to, y1: y + 66, x2: from + 2, y2: y + 66, class: "seq-arrow seq-return", "marker-end": "url(#head-pending)" }));
        answer = svg("text", { x: to - 12, y: y + 61, "text-anchor": "end", class: "seq-answer" }, "");
        group.append(answer);
      }
      const entry = { group, glyph, tag, titleText, sub, answer, row };
      group.addEventListener("click", () => onSelect(entry.row));
      group.addEventListener("keydown", (event) => onKey(event, row.key));
      root.append(group);
      rowsByKey.set(row.key, entry);
    });
    host.replaceChildren(root);
  }

  function onKey(event, key) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(rowsByKey.get(key).row);
      return;
    }
    const delta = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if (delta) {
      event.preventDefault();
      event.stopPropagation();
      const index = order.indexOf(key);
      rowsByKey.get(order[(index + delta + order.length) % order.length]).group.focus();
    }
  }

  return {
    /** Draws `rows` (from `sequenceRows`), rebuilding the picture only when the rows changed. */
    update(rows, mode = "simulator") {
      const next = rows.map((r) => r.key).join("|");
      if (next !== keys) {
        const focused = document.activeElement?.closest?.("[data-key]")?.getAttribute("data-key");
        const hadFocus = root?.contains(document.activeElement);
        build(rows);
        keys = next;
        if (hadFocus && focused) rowsByKey.get(focused)?.group.focus();
      }
      serverLabel.textContent = SERVER_GROUP[mode] ?? SERVER_GROUP.http;
      for (const row of rows) {
        const entry = rowsByKey.get(row.key);
        entry.row = row;
        const status = row.status ?? "pending";
        for (const s of STATUSES) entry.group.classList.toggle(`is-${s}`, status === s);
        for (const arrow of entry.group.querySelectorAll(".seq-arrow")) arrow.setAttribute("marker-end", `url(#head-${status})`);
        entry.glyph.textContent = STATUS_GLYPH[status] ? `${STATUS_GLYPH[status]} ` : "";
        entry.tag.textContent = row.tag;
        entry.titleText.textContent = ` ${row.title} `;
        entry.sub.textContent = `${row.request} `;
        if (entry.answer) entry.answer.textContent = `${row.answer ?? ""} `;
        // The name starts with the visible text, in reading order (WCAG 2.5.3), then the status.
        const visible = Array.from(entry.group.querySelectorAll("text"), (t) => t.textContent.trim()).filter(Boolean).join(" ");
        entry.group.setAttribute("aria-label", `${visible}; ${STATUS_WORD[status]}`);
      }
    },
    /** Marks the inspected row: the one holding trace entry `index`, or the pending row of step `name`. */
    select(selection) {
      for (const entry of rowsByKey.values()) {
        const on = selection !== null && selection !== undefined
          && ("index" in selection ? entry.row.indices.includes(selection.index) : entry.row.indices.length === 0 && entry.row.name === selection.name);
        entry.group.classList.toggle("is-selected", on);
        if (on) entry.group.setAttribute("aria-current", "true");
        else entry.group.removeAttribute("aria-current");
      }
    },
    focus(key) {
      rowsByKey.get(key)?.group.focus();
    },
  };
}
