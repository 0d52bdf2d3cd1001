// Every fallback credential method runs end to end against the in-page simulator, from a link.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, FIRST_RUN, labUrl, openPage, requestLog, screenshot, setup, traceSummary, waitForFlowState } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const form = (body) => Object.fromEntries(new URLSearchParams(body ?? ""));

/** What each method must leave in the (revealed) dcr-token request. */
const EVIDENCE = {
  client_secret_basic: (req) => assert.match(req.headers.authorization ?? "", /^Basic /),
  client_secret_post: (req) => {
    assert.equal(form(req.body).client_id, "haapi-android-client");
    assert.equal(form(req.body).client_secret, "Password1");
  },
  private_key_jwt: (req, step) => {
    assert.equal(form(req.body).client_assertion_type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert.equal(step.jwts.find((j) => j.at === "request.body.client_assertion")?.header.alg, "ES256");
  },
  client_secret_jwt: (req, step) => {
    assert.equal(step.jwts.find((j) => j.at === "request.body.client_assertion")?.header.alg, "HS256");
  },
  tls_client_auth: (req) => assert.match(req.clientCertificate ?? "", /BEGIN CERTIFICATE/),
  self_signed_tls_client_auth: (req) => assert.match(req.clientCertificate ?? "", /BEGIN CERTIFICATE/),
};

/**
 * The WebAssembly modules a page fetched, counted when the returned function is called: the client
 * alone (pkg/haapi_lab_bg.wasm), the client with the light simulator (pkg/haapi_lab_with_sim_bg.wasm),
 * the light simulator alone (pkg/sim-lite/), the whole one (pkg/sim/).
 */
function simulatorModules(page) {
  const { count } = requestLog(page);
  return () => ({
    client: count("/pkg/haapi_lab_bg.wasm"),
    withSim: count("/pkg/haapi_lab_with_sim_bg.wasm"),
    lite: count("/pkg/sim-lite/haapi_lab_sim_lite_bg.wasm"),
    whole: count("/pkg/sim/haapi_lab_sim_bg.wasm"),
  });
}

/** What a page running on the whole simulator fetches: the client alone and the whole simulator, once each. */
const WHOLE = { client: 1, withSim: 0, lite: 0, whole: 1 };

for (const method of Object.keys(EVIDENCE)) {
  test(`${method}: a #config=…&run=1 link runs to the end`, async (t) => {
    const page = await openPage(env, t);
    const fetched = simulatorModules(page);
    await page.goto(labUrl(env.server, configFor(method), { run: true }));
    const state = await waitForFlowState(page);
    assert.equal(state, "succeeded", `run failed: ${await page.locator("#run-error").textContent()}`);
    assert.deepEqual(await traceSummary(page), FIRST_RUN);
    // In simulator mode the page fetches one module, the client with the light simulator, which
    // serves secrets, HMAC and ES256; for mutual TLS the client alone and the whole simulator.
    const expected = method.includes("tls_client_auth") ? WHOLE : { client: 0, withSim: 1, lite: 0, whole: 0 };
    assert.deepEqual(fetched(), expected, `the modules fetched for ${method}`);

    const revealed = await page.evaluate(() => window.haapiLab.trace({ reveal: true }));
    assert.equal(revealed.redacted, false);
    const dcr = revealed.steps.find((s) => s.name === "dcr-token");
    EVIDENCE[method](dcr.request, dcr);
    const haapi = revealed.steps.find((s) => s.name === "haapi-token");
    assert.ok(haapi.request.headers.dpop, "the HAAPI token request carries a DPoP proof");

    // The page shows it: every arrow lit (the fallback's six, the login's four and the code
    // exchange), the device's client, a calm status, the tokens.
    assert.equal(await page.locator(".seq-step.is-ok").count(), 11);
    assert.equal(await page.locator(".seq-step.is-skipped").count(), 1);
    assert.equal(await page.locator(".seq-step.is-pending").count(), 0);
    assert.equal(await page.locator("#tokens-section").isVisible(), true);
    const device = await page.evaluate(() => window.haapiLab.device());
    assert.match(await page.locator("#device-state").textContent(), new RegExp(device.client.clientId));
    assert.match(await page.locator("#status-text").textContent(), /The run succeeded/);
    await screenshot(page, `method-${method}`);
    await page.checkClean();
  });
}

// RSA and P-384 assertion keys are verified by the whole simulator module, fetched beside the
// client alone.
for (const alg of ["RS256", "ES384"]) {
  test(`private_key_jwt with a generated ${alg} key runs against the whole simulator module`, async (t) => {
    const page = await openPage(env, t);
    const fetched = simulatorModules(page);
    await page.goto(labUrl(env.server, configFor("private_key_jwt", { credential: { alg } }), { run: true }));
    const state = await waitForFlowState(page);
    assert.equal(state, "succeeded", `run failed: ${await page.locator("#run-error").textContent()}`);
    assert.deepEqual(await traceSummary(page), FIRST_RUN);
    const revealed = await page.evaluate(() => window.haapiLab.trace({ reveal: true }));
    const dcr = revealed.steps.find((s) => s.name === "dcr-token");
    assert.equal(dcr.jwts.find((j) => j.at === "request.body.client_assertion")?.header.alg, alg);
    assert.deepEqual(fetched(), WHOLE);
    await page.checkClean();
  });
}

// Only the whole simulator reads server.simulator settings: a page whose configuration has some
// loads it at once, and the panel checks them with it before any run.
test("server.simulator settings are checked by the whole simulator module, then used", async (t) => {
  const page = await openPage(env, t);
  const fetched = simulatorModules(page);
  await page.goto(labUrl(env.server, configFor("client_secret_basic", { server: { simulator: { colour: 1 } } })));
  const summary = page.locator("#config-summary");
  await summary.getByText("server.simulator.colour").waitFor();
  assert.match(await summary.textContent(), /unknown setting "colour"/);
  assert.deepEqual(fetched(), WHOLE, "the whole simulator module is fetched for the settings");

  const fixed = configFor("client_secret_basic", { server: { simulator: { dpopNonce: "off" } } });
  const result = await page.evaluate((config) => window.haapiLab.run(config), fixed);
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.equal(await summary.getByText("server.simulator.colour").count(), 0, "the fixed settings show no problem");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  assert.equal(trace.steps.find((s) => s.name === "haapi-token").retries.length, 0, "dpopNonce off: no nonce retry");
  assert.deepEqual(fetched(), WHOLE);
  await page.checkClean();
});
