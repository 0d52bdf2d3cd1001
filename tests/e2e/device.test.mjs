// The device keeps its dynamic client (and the in-page simulator its database) across reloads;
// "Forget this device" makes the next run register again; a stale client is replaced.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, FIRST_RUN, labUrl, loginInPage, openPage, REUSED_RUN, screenshot, setup, traceSummary, waitForFlowState } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const device = (page) => page.evaluate(() => window.haapiLab.device());

test("a reload reuses the stored client; Forget this device registers a new one", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("private_key_jwt"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  const first = await device(page);
  assert.ok(first.client?.clientId, "a client was registered");
  assert.equal(first.storage, "indexeddb");

  // The link still says run=1: the reload runs again, with the client kept in IndexedDB.
  await page.reload();
  assert.equal(await waitForFlowState(page), "succeeded");
  assert.deepEqual(await traceSummary(page), REUSED_RUN);
  assert.equal((await device(page)).client.clientId, first.client.clientId);
  assert.match(await page.locator("#status-text").textContent(), /reused/);
  await screenshot(page, "device-reused-after-reload");

  await page.getByRole("button", { name: "Forget this device" }).click();
  await page.waitForFunction(() => document.documentElement.dataset.flowState === "idle" && /next run registers/.test(document.querySelector("#device-state").textContent));
  assert.equal((await device(page)).client, null);
  assert.deepEqual(await traceSummary(page), []);

  // A person at the page: Run all asks how to log in, and the person logs in.
  await page.getByRole("button", { name: /Run all/ }).click();
  assert.equal(await loginInPage(page), "succeeded");
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  const third = await device(page);
  assert.ok(third.client.registeredAt > first.client.registeredAt, "the client was registered again");
  await page.checkClean();
});

test("a client the server no longer knows is replaced, and the page says so", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_basic"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  // The simulated server's database is recreated; the device still keeps its client.
  await page.getByRole("button", { name: "Reset the simulated server's database" }).click();
  await page.waitForFunction(() => /no longer knows this device/.test(document.querySelector("#status-text").textContent));
  const result = await page.evaluate((c) => window.haapiLab.run(c), configFor("client_secret_basic"));
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.equal(result.outcome.reregistered, true);
  const names = (await traceSummary(page)).map(([n, s]) => `${n}:${s}`);
  const stale = names.indexOf("haapi-token:failed");
  assert.ok(stale > 0, names.join(" "));
  assert.deepEqual(names.slice(stale + 1), ["dcr-token:ok", "registration:ok", "store:ok", "haapi-token:ok", "authorize:ok",
    "authenticate:ok", "authenticate:ok", "authenticate:ok", "authenticate:ok", "code-exchange:ok"]);
  assert.match(await page.locator("#status-text").textContent(), /no longer known/);
  await page.locator("#step-list button", { hasText: "haapi-token" }).first().click();
  assert.match(await page.locator("#inspector").textContent(), /no longer knows the stored client/);
  await screenshot(page, "device-stale-client-replaced");
  await page.checkClean();
});

test("Forget this device works even while the configuration cannot run", async (t) => {
  const page = await openPage(env, t);
  const good = configFor("client_secret_basic");
  await page.goto(labUrl(env.server, good, { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  // Break the configuration (method none is refused), then forget the device.
  await page.goto(labUrl(env.server, configFor("none")));
  await page.reload();
  await page.getByRole("button", { name: "Forget this device" }).click();
  await page.waitForFunction(() => /was forgotten/.test(document.querySelector("#status-text").textContent));
  // With a valid configuration again, the run registers a new client: the old one is gone.
  const result = await page.evaluate((c) => window.haapiLab.run(c), good);
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.ok(result.trace.steps.some((s) => s.name === "registration" && s.status === "ok"), "registered again");
  await page.checkClean();
});
