// The page's controls that are not the run: theme, presenter mode, skip links and the keyboard
// (single-key shortcuts, presenter keys). What the keys do to the run is the run module's
// (`actions`); this module only decides which key means what, and never acts while a person
// types in a field (the configuration, or the app view's login form).

import * as dom from "./dom.js";
import { TEXT } from "./strings.js";

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

export const isPresenter = () => dom.root.classList.contains("presenter");

/** True when `target` takes typed text (a key there is text, never a shortcut). */
export function typingIn(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "reset", "file"].includes(target.type);
}

/**
 * Wires theme, presenter mode, skip links and keys. `actions`: `run()`, `next()`, `reset()`,
 * `previous()` (inspect the previous step), `focusApp()` (the app view), `status(text)`.
 * Returns `{ setPresenter(on) }`.
 */
export function installControls(actions) {
  function setPresenter(on) {
    dom.root.classList.toggle("presenter", on);
    dom.presenterToggle.setAttribute("aria-pressed", String(on));
    actions.status(on ? TEXT.presenterOn : TEXT.presenterOff);
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
  dom.presenterToggle.addEventListener("click", () => setPresenter(!isPresenter()));
  dom.shortcutsToggle.addEventListener("change", () => actions.status(dom.shortcutsToggle.checked ? TEXT.shortcutsOn : TEXT.shortcutsOff));

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
    const presenter = isPresenter();
    const onBody = event.target === document.body || event.target === document.documentElement;
    if (event.key === "Escape" && presenter) {
      setPresenter(false);
      return;
    }
    if (presenter && (event.key === "PageDown" || event.key === "ArrowRight" || (event.key === " " && onBody))) {
      event.preventDefault();
      actions.next();
      return;
    }
    if (presenter && (event.key === "PageUp" || event.key === "ArrowLeft")) {
      event.preventDefault();
      actions.previous();
      return;
    }
    if (!dom.shortcutsToggle.checked) return;
    const keys = {
      r: actions.run,
      n: actions.next,
      x: actions.reset,
      a: actions.focusApp,
      p: () => setPresenter(!presenter),
      t: cycleTheme,
      "?": () => dom.helpSection.focus(),
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  applyTheme(storedTheme());
  return { setPresenter };
}
