// Broken servers explained in the page (issue 8, point 4), against the test server of
// tests/node/broken-server.mjs on another origin; and a refused configuration reported through
// the trace (point 3).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startBrokenServer } from "../node/broken-server.mjs";
import { configFor, labUrl, openPage, screenshot, setup, waitForFlowState, waitForReady } from "./helpers.mjs";

let env;
let broken;
before(async () => {
  env = await setup();
  broken = await startBrokenServer();
});
after(async () => {
  await env?.close();
  await broken?.close();
});

const brokenConfig = (name, timeoutMs = 30000) =>
  configFor("client_secret_basic", { server: { mode: "http", issuer: broken.issuer(name), timeoutMs } });

/** Opens a link that runs case `name`; resolves to the run error panel's text once it failed. */
async function explained(t, name, { timeoutMs, allowConsole = [] } = {}) {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, brokenConfig(name, timeoutMs), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const last = trace.steps.at(-1);
  assert.deepEqual([last.name, last.status], ["discovery", "failed"]);
  const text = await page.locator("#run-error").textContent();
  await page.checkClean({ allowConsole: [/Failed to load resource/, ...allowConsole], allowForeign: [broken.origin] });
  return { page, text, error: last.error };
}

test("an HTML error page: HTML_RESPONSE, its title, and to check the URL", async (t) => {
  const { page, text, error } = await explained(t, "html");
  assert.equal(error.code, "HTML_RESPONSE");
  assert.match(text, /HTML_RESPONSE/);
  assert.match(text, /"404 Not Found"/);
  assert.match(text, /web page, not the API: check the URL/);
  assert.match(text, /What arrived \(\d+ bytes\)/, "the evidence is shown");
  await screenshot(page, "broken-html", { fullPage: false });
});

test("a 503 with Retry-After: SERVER_UNAVAILABLE, not your configuration, retry in 120 s", async (t) => {
  const { text, error } = await explained(t, "unavailable");
  assert.deepEqual([error.code, error.retryAfter], ["SERVER_UNAVAILABLE", 120]);
  assert.match(text, /SERVER_UNAVAILABLE/);
  assert.match(text, /Retry after120 s/);
  assert.match(text, /this is not your configuration/);
});

test("a server without CORS: CORS_BLOCKED, with the origin to allow or sendVia", async (t) => {
  const { text, error } = await explained(t, "cors", { allowConsole: [/CORS policy/] });
  assert.equal(error.code, "CORS_BLOCKED");
  assert.match(text, /CORS_BLOCKED/);
  assert.match(text, /does not allow requests from this page's origin/);
  assert.match(text, /server\.sendVia/);
});

test("a server that answers slowly forever: TIMEOUT after server.timeoutMs", async (t) => {
  const { text, error } = await explained(t, "slow", { timeoutMs: 1500 });
  assert.deepEqual([error.code, error.status, error.timeoutMs], ["TIMEOUT", 200, 1500]);
  assert.match(text, /began to answer \(HTTP 200\) but the body did not finish within 1500 ms/);
});

test("a refused configuration is the trace's top-level error, and run() says which fields", async (t) => {
  const page = await openPage(env, t);
  const refused = configFor("none");
  await page.goto(labUrl(env.server, refused, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  assert.deepEqual(trace.steps, []);
  assert.equal(trace.error.code, "CONFIG_INVALID");
  assert.equal(trace.error.problems[0].path, "credential.method");
  assert.match(trace.error.message, /credential\.method/);
  // And through the automation API: the result's error and trace say the same.
  const result = await page.evaluate((c) => window.haapiLab.run(c), { ...refused, server: { ...refused.server, timeoutMs: 0 } });
  assert.equal(result.state, "failed");
  assert.deepEqual(result.error.problems.map((p) => p.path).sort(), ["credential.method", "server.timeoutMs"]);
  assert.deepEqual(result.trace.error, (await page.evaluate(() => window.haapiLab.trace())).error);
  // A configuration that runs clears it.
  const ok = await page.evaluate((c) => window.haapiLab.run(c), configFor("client_secret_basic"));
  assert.equal(ok.state, "succeeded", JSON.stringify(ok.error));
  assert.equal((await page.evaluate(() => window.haapiLab.trace())).error, undefined);
  await page.checkClean();
});

test("a typed secret gets the link warning that keys get", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_basic", { credential: { secret: null } })));
  await waitForReady(page);
  const warning = page.locator("#key-url-warning");
  assert.equal(await warning.isHidden(), true);
  await page.locator("#f-credential-secret").fill("typed-secret-value");
  await page.locator("#f-credential-secret").dispatchEvent("change");
  await warning.waitFor({ state: "visible" });
  assert.match(await warning.textContent(), /keys and secrets are part of the configuration, and so of the page's link/);
  await page.checkClean();
});
