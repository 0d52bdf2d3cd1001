// Shared by the e2e tests: Debian's Chromium through playwright-core (no browser download), the
// static server, a fresh browser context per test (fresh IndexedDB), and the page's contract
// (#config=<base64url(JSON)>&run=1, dataset.flowState, window.haapiLab).

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePort, REPO_ROOT, startServer } from "./server.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = join(REPO_ROOT, "test-results", "e2e");
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

/** Fails with a clear message when something the tests need is missing. */
export function checkPrerequisites() {
  const pkg = join(REPO_ROOT, "pkg", "haapi_lab.js");
  if (!existsSync(pkg) || !existsSync(join(REPO_ROOT, "pkg", "haapi_lab_bg.wasm"))) {
    throw new Error(`pkg/ is not built (${pkg} is missing): run 'bash scripts/build-pkg.sh' first`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's 'chromium' package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
}

/** Starts the server and the browser once per test file. */
export async function setup() {
  checkPrerequisites();
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  await mkdir(ARTIFACTS, { recursive: true });
  return {
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** base64url of a document's JSON, as the page's fragment wants it. */
export function encodeConfig(doc) {
  return Buffer.from(JSON.stringify(doc), "utf8").toString("base64url");
}

/** The page URL for `config` (and `run`). */
export function labUrl(server, config, { run = false } = {}) {
  const hash = config ? `#config=${encodeConfig(config)}${run ? "&run=1" : ""}` : "";
  return server.url(`/www/index.html${hash}`);
}

/** The simulated server's demo account (its default settings). */
export const DEMO = { userName: "demo", password: "Password1" };

/**
 * A version-1 document for the in-page simulator with `credential` (and more) replaced. It logs
 * in as the demo user (`authentication.inputs`) unless `authentication` says otherwise.
 */
export function configFor(method, { credential = {}, server = {}, ...rest } = {}) {
  const secrets = { client_secret_basic: "Password1", client_secret_post: "Password1", client_secret_jwt: "a-shared-secret-of-32-bytes-or-more!" };
  const algs = { private_key_jwt: "ES256", client_secret_jwt: "HS256" };
  return {
    version: 1,
    server: { mode: "simulator", issuer: "https://localhost:8443/oauth/v2/oauth-anonymous", endpoints: { token: null, registration: null, authorization: null, cat: null }, sendVia: null, ...server },
    client: { clientId: "haapi-android-client", templateClientId: "haapi-template-client", redirectUri: "app://haapi", scope: "openid profile" },
    credential: { method, secret: secrets[method] ?? null, alg: algs[method] ?? null, privateKey: null, certificate: null, audience: null, kid: null, ...credential },
    dpop: { alg: "ES256", keyStore: "wasm" },
    device: { attestation: "unsupported" },
    authentication: { inputs: { ...DEMO } },
    stopAfter: null,
    ...rest,
  };
}

/**
 * A fresh context (fresh IndexedDB) and page that records console errors, page errors, CSP
 * violations and requests to other origins. `t.after` checks none happened.
 */
export async function openPage(env, t, { viewport = { width: 1440, height: 1000 }, colorScheme = "light", reducedMotion = "reduce", contextOptions = {} } = {}) {
  const context = await env.browser.newContext({ viewport, colorScheme, reducedMotion, acceptDownloads: true, ...contextOptions });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__csp.push(`${e.violatedDirective}: ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const page = await context.newPage();
  const problems = { console: [], pageErrors: [], foreign: [] };
  page.on("console", (m) => {
    if (m.type() === "error") problems.console.push(m.text());
  });
  page.on("pageerror", (e) => problems.pageErrors.push(String(e)));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(env.server.origin) && !u.startsWith("data:") && !u.startsWith("blob:")) problems.foreign.push(u);
  });
  page.problems = problems;
  /** Fails on any console error, page error, CSP violation or request to another origin, except those allowed. */
  page.checkClean = async ({ allowConsole = [], allowForeign = [] } = {}) => {
    const csp = await page.evaluate(() => window.__csp ?? []).catch(() => []);
    const all = {
      console: problems.console.filter((m) => !allowConsole.some((re) => re.test(m))),
      pageErrors: problems.pageErrors,
      csp,
      foreign: problems.foreign.filter((u) => !allowForeign.some((prefix) => u.startsWith(prefix))),
    };
    const bad = Object.entries(all).filter(([, v]) => v.length > 0);
    if (bad.length > 0) throw new Error(`the page was not clean: ${JSON.stringify(Object.fromEntries(bad), null, 2)}`);
  };
  t.after(async () => {
    await context.close();
  });
  return page;
}

/**
 * Records the path of every request `page` makes from now on: `paths` in order, and
 * `count(suffix)`, how many of them end with `suffix`.
 */
export function requestLog(page) {
  const paths = [];
  page.on("request", (r) => paths.push(new URL(r.url()).pathname));
  return { paths, count: (suffix) => paths.filter((p) => p.endsWith(suffix)).length };
}

/** Waits until dataset.flowState is one of `states` (and no request is in flight). */
export async function waitForFlowState(page, states = ["succeeded", "failed"], timeout = 30_000) {
  const wanted = Array.isArray(states) ? states : [states];
  await page.waitForFunction((w) => w.includes(document.documentElement.dataset.flowState) && document.documentElement.dataset.flowBusy !== "true", wanted, { timeout });
  return page.evaluate(() => document.documentElement.dataset.flowState);
}

/** Waits until the module has loaded and the page is idle (buttons enabled). */
export async function waitForReady(page, timeout = 30_000) {
  await page.waitForFunction(() => typeof window.haapiLab === "object" && !document.querySelector("#btn-next").hasAttribute("aria-disabled"), null, { timeout });
}

/** [name, status] pairs of the page's trace. */
export async function traceSummary(page, options = {}) {
  const trace = await page.evaluate((o) => window.haapiLab.trace(o), options);
  return trace.steps.map((s) => [s.name, s.status]);
}

export async function screenshot(page, name, options = {}) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, ...options });
  return path;
}

/**
 * The login after authorize, with the username/password authenticator: follow the redirect to
 * the selector, choose, send the form (a redirect back to authorize), follow it to the
 * authorization response; then the code exchange.
 */
export const LOGIN = [
  ["authenticate", "ok"], ["authenticate", "ok"], ["authenticate", "ok"], ["authenticate", "ok"], ["code-exchange", "ok"],
];
export const FIRST_RUN = [
  ["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "ok"], ["registration", "ok"],
  ["store", "ok"], ["haapi-token", "ok"], ["authorize", "ok"], ...LOGIN,
];
export const REUSED_RUN = [
  ["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "skipped"], ["registration", "skipped"],
  ["store", "skipped"], ["haapi-token", "ok"], ["authorize", "ok"], ...LOGIN,
];

/** Waits until the run waits for an answer (dataset.flowPaused, flowState still running). */
export async function waitForPaused(page, timeout = 30_000) {
  await page.waitForFunction(() => document.documentElement.dataset.flowPaused === "true" && document.documentElement.dataset.flowBusy !== "true", null, { timeout });
  return page.evaluate(() => window.haapiLab.question());
}

/**
 * Logs in through the app view as a person does, once a run started from the page's buttons
 * reached the authenticator selector: clicks the authenticator, then types into the form and
 * presses its button (password), or approves in the Other device panel (device approval).
 * Resolves to the final flow state.
 */
export async function loginInPage(page, { authenticator = "Username and password", userName = DEMO.userName, password = DEMO.password } = {}) {
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: authenticator }).click();
  if (/another device/i.test(authenticator)) {
    await page.locator("#btn-approve").click({ timeout: 30_000 });
  } else {
    const user = page.locator("#app-view input[name=userName]:not([disabled])");
    await user.fill(userName, { timeout: 30_000 });
    await page.locator("#app-view input[name=password]").fill(password);
    await page.locator("#app-view form button[type=submit]").click();
  }
  return waitForFlowState(page);
}

export { freePort };

/**
 * Starts the lab's own server binary (the simulated Curity over HTTP, with CORS) on a free port:
 * what the page meets in `http` mode. Built by scripts/test.sh before the e2e step
 * (`cargo build --features server`); HAAPI_LAB_SERVER_BIN points at another build.
 * `allowOrigin` (CORS; null: none but its own), `args` (more options, e.g. `--upstream URL` or
 * `--mtls-port 0`), `log` (its request log, read with `lines()`), `ready` (the path that answers
 * 200 once it is up); `mtls` is the mutual-TLS listener's origin, if any. `settings(origin)`, if
 * given, makes the simulator's settings (`--sim-settings`, in `settingsDir`) once the server's
 * origin is known.
 */
export async function startLabServer({ allowOrigin = "http://127.0.0.1:*", args: more = [], log = false, ready = "/oauth/v2/oauth-anonymous/.well-known/openid-configuration", settings = null, settingsDir = null } = {}) {
  const { spawn } = await import("node:child_process");
  const bin = process.env.HAAPI_LAB_SERVER_BIN ?? join(REPO_ROOT, "target", "debug", "haapi-lab-server");
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: build it with 'cargo build --features server --bin haapi-lab-server'`);
  const port = await freePort();
  // The pages come from the tests' own static server (another loopback port): allow it (CORS).
  const args = ["--host", "127.0.0.1", "--port", String(port), "--root", REPO_ROOT, ...(allowOrigin ? ["--allow-origin", allowOrigin] : []), "--log", log ? "lines" : "off", ...more];
  if (settings) {
    const { writeFile } = await import("node:fs/promises");
    const file = join(settingsDir, `sim-settings-${port}.json`);
    await writeFile(file, JSON.stringify(settings(`http://127.0.0.1:${port}`)));
    args.push("--sim-settings", file);
  }
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${output}`);
    try {
      const r = await fetch(`${origin}${ready}`);
      // Answering, and its start-up lines read (the TLS listeners are announced in them).
      if (r.ok && output.includes("press Ctrl+C")) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`the server did not answer on ${origin}: ${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  // The TLS listeners are announced before the plain one answers.
  const mtls = /mutual TLS \(asks for a client certificate\) on (https:\/\/[0-9.:]+)/.exec(output)?.[1] ?? null;
  return {
    origin,
    mtls,
    output: () => output,
    issuer: `${origin}/oauth/v2/oauth-anonymous`,
    url: (p) => new URL(p, origin).href,
    /** Its JSON log lines of requests so far. */
    lines: () => output.split("\n").slice(0, -1).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((l) => l.method),
    close: () => new Promise((ok) => {
      if (child.exitCode !== null) return ok();
      child.once("exit", () => ok());
      child.kill("SIGTERM");
    }),
  };
}
