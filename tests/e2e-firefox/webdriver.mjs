// A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) over Node's fetch, for driving
// Debian's Firefox ESR through geckodriver. Playwright cannot drive it (it needs its own patched
// Firefox build, which is a download), and the few commands the end-to-end run needs (new
// session, navigate, refresh, execute script, screenshot, delete session) are plain HTTP + JSON,
// so no npm package is needed for them.
//
//   const driver = await startGeckodriver();
//   const session = await driver.newSession();      // a fresh Firefox profile (fresh IndexedDB)
//   await session.navigate(url);
//   const title = await session.execute("return document.title");
//   await session.quit();
//   await driver.close();

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { freePort, REPO_ROOT } from "../e2e/server.mjs";

/** The Firefox the tests drive (Debian's firefox-esr unless FIREFOX_PATH says otherwise). */
export const FIREFOX = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

/** geckodriver: $GECKODRIVER, else the first on PATH, else cargo's bin folder. */
export function findGeckodriver() {
  if (process.env.GECKODRIVER) return process.env.GECKODRIVER;
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  dirs.push(join(process.env.CARGO_HOME ?? join(process.env.HOME ?? "/root", ".cargo"), "bin"));
  for (const dir of dirs) {
    const candidate = join(dir, "geckodriver");
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The capabilities of scripts/webdriver-firefox.json (the same file the wasm tests use: headless,
 * and preferences that keep Firefox from reaching the network on its own), with `binary` set to
 * FIREFOX.
 */
export function firefoxCapabilities() {
  const caps = JSON.parse(readFileSync(join(REPO_ROOT, "scripts", "webdriver-firefox.json"), "utf8"));
  const options = caps["moz:firefoxOptions"] ?? {};
  options.binary = FIREFOX;
  options.args = [...new Set([...(options.args ?? []), "-headless"])];
  // The page's console messages and uncaught errors go to Firefox's standard output (classic
  // WebDriver has no console events to subscribe to).
  options.prefs = { ...options.prefs, "devtools.console.stdout.content": true };
  caps["moz:firefoxOptions"] = options;
  return caps;
}

/** An Error for a WebDriver error answer ({ value: { error, message, stacktrace } }). */
class WebDriverError extends Error {
  constructor(command, status, value) {
    super(`${command}: ${value?.error ?? `HTTP ${status}`}: ${value?.message ?? JSON.stringify(value)}`);
    this.name = "WebDriverError";
    this.error = value?.error;
  }
}

async function call(base, method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json; charset=utf-8";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${path}`, response.status, { error: "invalid response", message: text.slice(0, 500) });
  }
  if (!response.ok) throw new WebDriverError(`${method} ${path}`, response.status, json.value);
  return json.value;
}

/**
 * Starts geckodriver on a free loopback port and waits until it says it is ready. Its output is
 * kept and printed when something fails (`driver.log()`).
 */
export async function startGeckodriver({ geckodriver = findGeckodriver(), readyWithinMs = 30_000 } = {}) {
  if (!geckodriver || !existsSync(geckodriver)) {
    throw new Error("geckodriver not found: run 'bash scripts/setup.sh' (it installs it with cargo install) or set GECKODRIVER");
  }
  if (!existsSync(FIREFOX)) {
    throw new Error(`no Firefox at ${FIREFOX}: install Debian's 'firefox-esr' (bash scripts/setup.sh) or set FIREFOX_PATH`);
  }
  const port = await freePort();
  const child = spawn(geckodriver, ["--host", "127.0.0.1", "--port", String(port), "--log", "info"], {
    stdio: ["ignore", "pipe", "pipe"],
    // A headless Firefox needs no display; MOZ_HEADLESS covers any Firefox process started
    // without the -headless argument.
    env: { ...process.env, MOZ_HEADLESS: "1" },
  });
  // geckodriver's output and, through it, Firefox's: with devtools.console.stdout.content the
  // page's uncaught errors appear as "JavaScript error: <url>, line N: ..." lines.
  let output = "";
  const keep = (d) => {
    output += d;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  // If this process ends without close() (a crash, an uncaught error), geckodriver must not
  // outlive it: on SIGTERM geckodriver ends its Firefox too.
  const orphan = () => child.kill("SIGTERM");
  process.once("exit", orphan);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`geckodriver exited (${child.exitCode}): ${output}`);
    try {
      const status = await call(base, "GET", "/status");
      if (status?.ready) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`geckodriver did not answer on ${base}: ${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }

  return {
    base,
    /** Everything geckodriver and Firefox printed so far (`.length` marks a point in it). */
    log: () => output,
    /** A new session: a new Firefox with a fresh temporary profile. */
    async newSession({ capabilities = firefoxCapabilities(), scriptTimeoutMs = 60_000, pageLoadTimeoutMs = 60_000 } = {}) {
      const created = await call(base, "POST", "/session", { capabilities: { alwaysMatch: capabilities, firstMatch: [{}] } });
      return session(base, created.sessionId, created.capabilities, { scriptTimeoutMs, pageLoadTimeoutMs });
    },
    close: () => new Promise((ok) => {
      process.removeListener("exit", orphan);
      if (child.exitCode !== null) return ok();
      child.once("exit", () => ok());
      child.kill("SIGTERM");
    }),
  };
}

async function session(base, id, capabilities, { scriptTimeoutMs, pageLoadTimeoutMs }) {
  const at = `/session/${id}`;
  await call(base, "POST", `${at}/timeouts`, { script: scriptTimeoutMs, pageLoad: pageLoadTimeoutMs, implicit: 0 });
  return {
    id,
    capabilities,
    navigate: (url) => call(base, "POST", `${at}/url`, { url }),
    refresh: () => call(base, "POST", `${at}/refresh`, {}),
    /** Runs `script` (a function body; `arguments` are `args`) in the page; returns its value. */
    execute: (script, ...args) => call(base, "POST", `${at}/execute/sync`, { script, args }),
    /**
     * Runs `script` (a function body) in the page; its value is what it passes to the callback,
     * the last of `arguments`, within the session's script timeout.
     */
    executeAsync: (script, ...args) => call(base, "POST", `${at}/execute/async`, { script, args }),
    /** A PNG of the viewport. */
    screenshot: async () => Buffer.from(await call(base, "GET", `${at}/screenshot`), "base64"),
    quit: () => call(base, "DELETE", at),
  };
}
