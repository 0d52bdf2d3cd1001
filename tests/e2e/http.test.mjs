// A real server (server.mode "http"), played by Playwright's request routing: the page explains
// a server it cannot reach and a discovery document that names another issuer.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, labUrl, openPage, requestLog, screenshot, setup, traceSummary, waitForFlowState } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const ISSUER = "https://curity.invalid/oauth/v2/oauth-anonymous";
const httpConfig = () => configFor("client_secret_basic", { server: { mode: "http", issuer: ISSUER } });

test("a server that cannot be reached: TRANSPORT_ERROR, with what to check", async (t) => {
  const page = await openPage(env, t);
  await page.route("https://curity.invalid/**", (route) => route.abort("connectionrefused"));
  await page.goto(labUrl(env.server, httpConfig(), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(await traceSummary(page), [["discovery", "failed"]]);
  const text = await page.locator("#run-error").textContent();
  assert.match(text, /TRANSPORT_ERROR/);
  assert.match(text, /CORS/);
  assert.match(await page.locator("#sequence").textContent(), /Curity Identity Server/);
  await screenshot(page, "http-unreachable", { fullPage: false });
  await page.checkClean({ allowConsole: [/ERR_CONNECTION_REFUSED|Failed to load resource/], allowForeign: ["https://curity.invalid/"] });
});

test("discovery that names another issuer is refused, with the field to fix", async (t) => {
  const page = await openPage(env, t);
  await page.route("https://curity.invalid/**", (route) => route.fulfill({
    status: 200,
    contentType: "application/json",
    headers: { "access-control-allow-origin": "*" },
    body: JSON.stringify({ issuer: "https://elsewhere.invalid/", token_endpoint: `${ISSUER}/token`, registration_endpoint: `${ISSUER}/register`, authorization_endpoint: `${ISSUER}/authorize` }),
  }));
  await page.goto(labUrl(env.server, httpConfig(), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  const text = await page.locator("#run-error").textContent();
  assert.match(text, /ISSUER_MISMATCH/);
  assert.match(text, /set server\.issuer to exactly the issuer the server names/);
  await page.checkClean({ allowForeign: ["https://curity.invalid/"] });
});

// A page opened in http mode loads the client alone, no simulator code; switched to simulator
// mode, its client module loads the light simulator module by itself.
test("http mode loads the client alone; a switch to simulator mode loads the light simulator", async (t) => {
  const page = await openPage(env, t);
  const requests = requestLog(page);
  const fetched = () => requests.paths.filter((p) => p.endsWith(".wasm"));
  await page.route("https://curity.invalid/**", (route) => route.abort("connectionrefused"));
  await page.goto(labUrl(env.server, httpConfig(), { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(fetched(), ["/pkg/haapi_lab_bg.wasm"]);

  const result = await page.evaluate((c) => window.haapiLab.run(c), configFor("client_secret_basic"));
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.deepEqual(fetched(), ["/pkg/haapi_lab_bg.wasm", "/pkg/sim-lite/haapi_lab_sim_lite_bg.wasm"]);
  await page.checkClean({ allowConsole: [/ERR_CONNECTION_REFUSED|Failed to load resource/], allowForeign: ["https://curity.invalid/"] });
});
