// Shared by the e2e tests: Debian's Chromium through playwright-core (no browser download), the
// static server, a fresh browser context per test (fresh IndexedDB), and the page's contract
// (#config=<base64url(JSON)>&run=1, dataset.flowState, window.haapiLab).

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO_ROOT, startServer } from "./server.mjs";

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

/** A version-1 document for the in-page simulator with `credential` (and more) replaced. */
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
    stopAfter: null,
    ...rest,
  };
}

/**
 * A fresh context (fresh IndexedDB) and page that records console errors, page errors, CSP
 * violations and requests to other origins. `t.after` checks none happened.
 */
export async function openPage(env, t, { viewport = { width: 1440, height: 1000 }, colorScheme = "light", reducedMotion = "reduce" } = {}) {
  const context = await env.browser.newContext({ viewport, colorScheme, reducedMotion, acceptDownloads: true });
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

export const FIRST_RUN = [
  ["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "ok"], ["registration", "ok"],
  ["store", "ok"], ["haapi-token", "ok"], ["authorize", "ok"],
];
export const REUSED_RUN = [
  ["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "skipped"], ["registration", "skipped"],
  ["store", "skipped"], ["haapi-token", "ok"], ["authorize", "ok"],
];
