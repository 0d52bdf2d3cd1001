// The WebCrypto key store, the DPoP nonce handshake, stopAfter, the redacted trace export, the
// automation API and the configuration in the URL fragment.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { configFor, encodeConfig, FIRST_RUN, labUrl, loginInPage, openPage, requestLog, screenshot, setup, traceSummary, waitForFlowState, waitForReady } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

test("the webcrypto key store runs too, with a non-extractable key", async (t) => {
  const page = await openPage(env, t);
  const config = { ...configFor("client_secret_basic"), dpop: { alg: "ES256", keyStore: "webcrypto" } };
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  const device = await page.evaluate(() => window.haapiLab.device());
  assert.equal(device.dpop.keyStore, "webcrypto");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const proof = trace.steps.find((s) => s.name === "haapi-token").jwts.find((j) => j.at === "request.headers.dpop");
  assert.deepEqual({ x: proof.header.jwk.x, y: proof.header.jwk.y }, { x: device.dpop.publicJwk.x, y: device.dpop.publicJwk.y });
  assert.match(await page.locator("#device-state").textContent(), /webcrypto/);
  await page.checkClean();
});

test("a server that requires a DPoP nonce: the retry is shown", async (t) => {
  const page = await openPage(env, t);
  const config = configFor("client_secret_basic", { server: { simulator: { dpopNonce: "required" } } });
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const haapi = trace.steps.find((s) => s.name === "haapi-token");
  assert.equal(haapi.retries.length, 1);
  await page.locator("#step-list button", { hasText: "haapi-token" }).click();
  assert.match(await page.locator("#inspector").textContent(), /1 earlier attempt/);
  await page.locator(".retry > summary").first().click();
  await screenshot(page, "nonce-retry");
  await page.checkClean();
});

test("stopAfter ends the run after that step", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_basic", { stopAfter: "registration" }), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  assert.deepEqual((await traceSummary(page)).map(([n]) => n), ["discovery", "attestation", "dcr-token", "registration"]);
  assert.match(await page.locator("#status-text").textContent(), /stopped after registration/);
  await page.checkClean();
});

test("Export trace downloads the redacted trace; Reveal secrets shows everything", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("private_key_jwt"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  const revealed = await page.evaluate(() => window.haapiLab.trace({ reveal: true }));
  const registration = revealed.steps.find((s) => s.name === "registration");
  const dynamicSecret = JSON.parse(registration.response.body).client_secret;
  const assertion = new URLSearchParams(revealed.steps.find((s) => s.name === "dcr-token").request.body).get("client_assertion");
  const signature = assertion.split(".")[2];
  assert.ok(dynamicSecret && signature);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: /Export trace/ }).click()]);
  assert.match(download.suggestedFilename(), /^haapi-lab-trace-.*\.json$/);
  const text = await readFile(await download.path(), "utf8");
  const exported = JSON.parse(text);
  assert.equal(exported.redacted, true);
  assert.deepEqual(exported.steps.map((s) => s.name), FIRST_RUN.map(([n]) => n));
  assert.ok(!text.includes(dynamicSecret), "the dynamic client's secret is redacted");
  assert.ok(!text.includes(signature), "the assertion's signature is redacted");
  assert.ok(text.includes("[redacted]"));

  // In the page: redacted by default, revealed on request.
  await page.locator("#step-list button", { hasText: "registration" }).click();
  assert.ok(!(await page.locator("#inspector").textContent()).includes(dynamicSecret));
  await page.getByRole("switch", { name: "Reveal secrets" }).check();
  assert.ok((await page.locator("#inspector").textContent()).includes(dynamicSecret));
  await page.checkClean();
});

test("Copy as curl quotes for the shell and notes mutual TLS", async (t) => {
  const page = await openPage(env, t);
  const { count, paths } = requestLog(page);
  await page.goto(labUrl(env.server, configFor("tls_client_auth"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  // What only an action needs is not part of the first load (scripts/build-pkg.sh counts the same).
  assert.ok(count("/www/main.js") === 1 && count("/www/share.js") === 1, JSON.stringify(paths));
  assert.equal(count("/www/curl.js"), 0, "curl.js is loaded on first use");
  assert.equal(count("/www/certificates.js"), 0, "certificates.js is loaded on first use");
  await page.locator("#step-list button", { hasText: "dcr-token" }).click();
  await page.getByRole("button", { name: "Copy as curl" }).click();
  const curl = await page.locator("[data-curl] pre").textContent();
  await page.getByRole("button", { name: "Copy as curl" }).click();
  assert.equal(count("/www/curl.js"), 1, "loaded once");
  assert.match(curl, /^curl --silent --show-error --include/m);
  assert.match(curl, /--cert client\.pem \\\n  --key client\.key/);
  assert.match(curl, /# Mutual TLS/);
  assert.match(curl, /--data-raw 'grant_type=client_credentials&scope=dcr/);
  await page.checkClean();
});

test("a page module that cannot load when an action needs it is explained, not thrown", async (t) => {
  const page = await openPage(env, t);
  await page.route("**/www/curl.js", (route) => route.fulfill({ status: 404, body: "not found" }));
  await page.goto(labUrl(env.server, configFor("client_secret_basic"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  await page.locator("#step-list button", { hasText: "dcr-token" }).click();
  await page.getByRole("button", { name: "Copy as curl" }).click();
  await page.locator("#status-text", { hasText: "MODULE_UNAVAILABLE" }).waitFor();
  assert.match(await page.locator("#status-text").textContent(), /curl\.js could not be loaded/);
  assert.equal(await page.locator("[data-curl]").count(), 0);
  await page.checkClean({ allowConsole: [/404|Failed to load|curl\.js/] });
});

test("window.haapiLab.run(config) resolves to the result and the page follows", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  const result = await page.evaluate((c) => window.haapiLab.run(c), configFor("client_secret_jwt"));
  assert.equal(result.state, "succeeded");
  assert.equal(result.done, true);
  assert.deepEqual(result.trace.steps.map((s) => [s.name, s.status]), FIRST_RUN);
  assert.equal(result.trace.redacted, true);
  assert.equal(result.outcome.subject, "demo", "a script's run logs in from authentication.inputs, without asking");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "succeeded");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowPaused), "false");
  assert.equal(await page.locator("#f-credential-method").inputValue(), "client_secret_jwt");
  assert.equal(await page.evaluate(() => window.haapiLab.config().credential.method), "client_secret_jwt");
  await page.checkClean();
});

test("the configuration is always in the URL fragment, and a link reproduces it", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  await page.waitForFunction(() => location.hash.startsWith("#config="));
  await page.locator("#f-client-scope").fill("openid email");
  const hash = await page.evaluate(() => location.hash);
  const doc = JSON.parse(Buffer.from(hash.slice("#config=".length), "base64url").toString("utf8"));
  assert.equal(doc.client.scope, "openid email");
  assert.equal(doc.version, 1);

  // A problem appears next to its field, and in the summary.
  await page.locator("#f-server-issuer").fill("not a url");
  const problem = page.locator('[data-field="server.issuer"] .problem');
  assert.match(await problem.textContent(), /not an absolute http\(s\) URL/);
  assert.match(await page.locator("#config-summary").textContent(), /1 problem/);
  await page.locator("#f-server-issuer").fill("https://localhost:8443/oauth/v2/oauth-anonymous");
  assert.equal(await problem.isVisible(), false);

  // Switching the method keeps only the fields it uses.
  await page.locator("#f-credential-method").selectOption("private_key_jwt");
  assert.match(await page.locator("#config-summary").textContent(), /valid/);
  const next = await page.evaluate(() => window.haapiLab.config());
  assert.equal(next.credential.secret, null);
  assert.equal(next.credential.alg, "ES256");

  // The same link in a fresh page shows the same document.
  const page2 = await openPage(env, t);
  await page2.goto(env.server.url(`/www/index.html#config=${encodeConfig(next)}`));
  await waitForReady(page2);
  assert.deepEqual(await page2.evaluate(() => window.haapiLab.config()), next);
  assert.equal(await page2.locator("#f-client-scope").inputValue(), "openid email");
  await page.checkClean();
  await page2.checkClean();
});

test("keys and certificates: generate, import from a file, then run", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  const run = async () => {
    await page.getByRole("button", { name: /Run all/ }).click();
    const state = await loginInPage(page);
    assert.equal(state, "succeeded", await page.locator("#run-error").textContent());
  };

  // private_key_jwt, ES384, a key made by the Generate key button.
  await page.locator("#f-credential-method").selectOption("private_key_jwt");
  await page.locator("#f-credential-alg").selectOption("ES384");
  await page.getByRole("button", { name: "Generate key" }).click();
  await page.waitForFunction(() => window.haapiLab.config().credential.privateKey?.includes("BEGIN PRIVATE KEY"));
  assert.match(await page.locator("#config-summary").textContent(), /valid/);
  await run();
  const es384 = await page.evaluate(() => window.haapiLab.trace().steps.find((s) => s.name === "dcr-token").jwts[0].header.alg);
  assert.equal(es384, "ES384");

  // An RSA key imported from a file, RS256.
  await page.locator("#f-credential-alg").selectOption("RS256");
  await page.locator("#file-privateKey").setInputFiles("tests/fixtures/test-only-rsa2048.pem");
  await page.waitForFunction(() => window.haapiLab.config().credential.privateKey?.includes("BEGIN PRIVATE KEY") && window.haapiLab.config().credential.alg === "RS256");
  assert.match(await page.locator("#credential-status").textContent(), /Read test-only-rsa2048\.pem/);
  assert.match(await page.locator("#config-summary").textContent(), /valid/);
  await run();

  // A key that does not fit the algorithm is explained next to the field.
  await page.locator("#f-credential-alg").selectOption("ES256");
  assert.match(await page.locator('[data-field="credential.alg"] .problem').textContent(), /RS|RSA/);

  // self_signed_tls_client_auth with a certificate made by the button.
  await page.locator("#f-credential-method").selectOption("self_signed_tls_client_auth");
  await page.getByRole("button", { name: "Generate certificate and key" }).click();
  await page.waitForFunction(() => window.haapiLab.config().credential.certificate?.includes("BEGIN CERTIFICATE"));
  assert.match(await page.locator("#config-summary").textContent(), /valid/);
  await run();
  await page.checkClean();
});

test("the JSON document: edit it as text, export it as a file", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  await page.locator("#json-details > summary").click();
  const doc = { ...configFor("client_secret_post"), stopAfter: "haapi-token" };
  await page.locator("#f-json").fill(JSON.stringify(doc, null, 2));
  assert.equal(await page.locator("#f-credential-method").inputValue(), "client_secret_post");
  assert.equal(await page.locator("#f-stopAfter").inputValue(), "haapi-token");
  await page.locator("#f-json").fill("{ not json");
  assert.match(await page.locator("#json-status").textContent(), /Not applied/);
  assert.equal(await page.evaluate(() => window.haapiLab.config().stopAfter), "haapi-token");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export as a file" }).click()]);
  assert.deepEqual(JSON.parse(await readFile(await download.path(), "utf8")), doc);
  await page.checkClean();
});
