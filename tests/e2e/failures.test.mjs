// Nothing fails silently: a refused configuration and a server error are explained on the page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, labUrl, openPage, screenshot, setup, traceSummary, waitForFlowState } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

test("method none is refused before any request, with what to change", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("none"), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(await traceSummary(page), []);
  const explanation = page.locator("#run-error");
  assert.equal(await explanation.isVisible(), true);
  const text = await explanation.textContent();
  assert.match(text, /CONFIG_INVALID/);
  assert.match(text, /credential\.method/);
  assert.match(text, /"none" cannot authenticate the fallback/);
  // The field itself says so too.
  const fieldProblem = page.locator('[data-field="credential.method"] .problem');
  assert.equal(await fieldProblem.isVisible(), true);
  assert.equal(await page.locator("#f-credential-method").getAttribute("aria-invalid"), "true");
  // The automation API resolves (never rejects) to a failed result.
  const result = await page.evaluate((c) => window.haapiLab.run(c), configFor("none"));
  assert.equal(result.state, "failed");
  assert.equal(result.error.code, "CONFIG_INVALID");
  assert.equal(result.error.problems[0].path, "credential.method");
  await screenshot(page, "failed-method-none");
  await page.checkClean();
});

test("a secret the server does not accept: the failed step, the server's error and advice", async (t) => {
  const page = await openPage(env, t);
  const config = configFor("client_secret_basic", {
    server: { simulator: { mainClient: { authentication: { method: "client_secret_basic", secret: "other" } } } },
  });
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(await traceSummary(page), [["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "failed"]]);
  const text = await page.locator("#run-error").textContent();
  assert.match(text, /The run failed at dcr-token/);
  assert.match(text, /invalid_client/);
  assert.match(text, /401/);
  assert.match(text, /check credential\.secret/);
  // The inspector shows the failed step, with its request and the server's response.
  assert.match(await page.locator("#inspector").textContent(), /What went wrong[\s\S]*invalid_client/);
  assert.equal(await page.locator('.seq-step.is-failed[data-step="dcr-token"]').count(), 1);
  await screenshot(page, "failed-wrong-secret");
  await page.checkClean();
});

test("an unreadable #config is reported, and run=1 fails visibly", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html#config=not*base64&run=1"));
  assert.equal(await waitForFlowState(page), "failed");
  assert.match(await page.locator("#load-error").textContent(), /could not be read/);
  assert.match(await page.locator("#run-error").textContent(), /could not be read/);
  await page.checkClean();
});

test("a missing WebAssembly module is reported with how to build it", async (t) => {
  const page = await openPage(env, t);
  // Whichever client module the page picks (with the light simulator in simulator mode, or not).
  await page.route("**/pkg/haapi_lab*.js", (route) => route.fulfill({ status: 404, body: "not found" }));
  await page.goto(labUrl(env.server, configFor("client_secret_basic"), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.match(await page.locator("#load-error").textContent(), /scripts\/build-pkg\.sh/);
  const result = await page.evaluate((c) => window.haapiLab.run(c), configFor("client_secret_basic"));
  assert.equal(result.state, "failed");
  assert.equal(result.error.code, "MODULE_UNAVAILABLE");
  await page.checkClean({ allowConsole: [/404|Failed to load/] });
});
