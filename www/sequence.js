// The sequence picture: an SVG built with DOM APIs (createElementNS, textContent), one arrow per
// step, lit by class as the run goes (is-ok, is-failed, is-skipped, is-running). Each step is a
// focusable button (Enter or Space inspects it; arrow keys move between steps).

import { ACTORS, SERVER_GROUP, STATUS_GLYPH, STATUS_WORD, STEPS } from "./strings.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const TOP = 112;
const ROW = 78;
const X = { device: 96, token: 455, registration: 672, authorize: 884, server: 330 };
const ACTOR_WIDTH = { device: 180, token: 170, registration: 206, authorize: 196 };
const STATUSES = ["ok", "failed", "skipped", "running", "pending"];

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

/**
 * Draws the picture into `host`. `onSelect(name)` is called when a step is chosen.
 * Returns `{ update(states), select(name), focus(name) }` where `states` maps a step name to
 * `{ status, answer }`.
 */
export function createSequence(host, { onSelect }) {
  const height = TOP + STEPS.length * ROW + 16;
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "sequence-svg", role: "group", "aria-labelledby": "seq-title", "aria-describedby": "seq-desc" },
    svg("title", { id: "seq-title" }, "Sequence of the attestation fallback"),
    svg("desc", { id: "seq-desc" }, `Actors: ${ACTORS.map((a) => a.label).join(", ")}. One arrow per step; choose a step to inspect it.`));
  root.append(svg("defs", {}, ...STATUSES.map((s) => marker(`head-${s}`))));

  // Actors and lifelines (decorative: the steps carry the meaning).
  const serverLabel = svg("text", { x: X.server + 12, y: 24, class: "seq-group-label" }, SERVER_GROUP.simulator);
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

  const rows = new Map();
  STEPS.forEach((step, i) => {
    const y = TOP + i * ROW;
    const from = X[step.from];
    const to = X[step.to];
    const group = svg("g", { class: "seq-step is-pending", role: "button", tabindex: "0", "data-step": step.name });
    const hit = svg("rect", { x: 4, y: y - 4, width: WIDTH - 8, height: ROW - 4, rx: 8, class: "seq-hit" });
    const glyph = svg("tspan", { class: "seq-glyph" }, "");
    // Each text ends with a space (invisible in SVG) so that the text content, which assistive
    // technology reads as the button's content, keeps words apart across <text> elements.
    const title = svg("text", { x: from + 14, y: y + 14, class: "seq-title" }, glyph, svg("tspan", { class: "seq-tag" }, step.tag), ` ${step.title} `, svg("tspan", { class: "seq-name" }, step.name), " ");
    const sub = svg("text", { x: from + 14, y: y + 31, class: "seq-sub" }, `${step.request} `);
    group.append(hit, title, sub);
    let answer = null;
    if (step.to === "device") {
      // F3: a self-arrow on the device's lifeline.
      group.append(svg("path", { d: `M ${from} ${y + 40} h 70 v 20 h -66`, class: "seq-arrow", "marker-end": "url(#head-pending)" }));
    } else {
      group.append(svg("line", { x1: from, y1: y + 44, x2: to - 2, y2: y + 44, class: "seq-arrow", "marker-end": "url(#head-pending)" }));
      group.append(svg("line", { x1: to, y1: y + 66, x2: from + 2, y2: y + 66, class: "seq-arrow seq-return", "marker-end": "url(#head-pending)" }));
      answer = svg("text", { x: to - 12, y: y + 61, "text-anchor": "end", class: "seq-answer" }, step.answer);
      group.append(answer);
    }
    group.addEventListener("click", () => onSelect(step.name));
    group.addEventListener("keydown", (event) => onKey(event, step.name));
    root.append(group);
    rows.set(step.name, { group, glyph, answer, step });
  });

  function onKey(event, name) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(name);
      return;
    }
    const delta = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if (delta) {
      event.preventDefault();
      event.stopPropagation();
      const index = STEPS.findIndex((s) => s.name === name);
      const next = STEPS[(index + delta + STEPS.length) % STEPS.length];
      rows.get(next.name).group.focus();
    }
  }

  host.replaceChildren(root);

  return {
    /** `states`: Map name -> { status, answer? } (status "pending" when not run). */
    update(states, mode = "simulator") {
      serverLabel.textContent = SERVER_GROUP[mode] ?? SERVER_GROUP.http;
      for (const [name, row] of rows) {
        const st = states.get(name) ?? { status: "pending" };
        for (const s of STATUSES) row.group.classList.toggle(`is-${s}`, st.status === s);
        for (const arrow of row.group.querySelectorAll(".seq-arrow")) arrow.setAttribute("marker-end", `url(#head-${st.status})`);
        row.glyph.textContent = STATUS_GLYPH[st.status] ? `${STATUS_GLYPH[st.status]} ` : "";
        if (row.answer) row.answer.textContent = `${st.answer ?? row.step.answer} `;
        // The name starts with the visible text, in reading order (WCAG 2.5.3), then the status.
        const visible = Array.from(row.group.querySelectorAll("text"), (t) => t.textContent.trim()).filter(Boolean).join(" ");
        row.group.setAttribute("aria-label", `${visible}; ${STATUS_WORD[st.status]}`);
      }
    },
    /** Marks the inspected step. */
    select(name) {
      for (const [n, row] of rows) {
        row.group.classList.toggle("is-selected", n === name);
        if (n === name) row.group.setAttribute("aria-current", "true");
        else row.group.removeAttribute("aria-current");
      }
    },
    focus(name) {
      rows.get(name)?.group.focus();
    },
  };
}
