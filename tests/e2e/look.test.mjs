// Screenshots for people to judge (test-results/e2e/): light, dark, presenter mode, a failed
// step; and the theme and presenter toggles work.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, labUrl, openPage, screenshot, setup, waitForFlowState, waitForReady } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

test("light theme", async (t) => {
  const page = await openPage(env, t, { colorScheme: "light" });
  await page.goto(labUrl(env.server, configFor("private_key_jwt"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  await screenshot(page, "look-light", { fullPage: false });
  await screenshot(page, "look-light-full");
  await page.checkClean();
});

test("dark theme, from prefers-color-scheme and from the toggle", async (t) => {
  const page = await openPage(env, t, { colorScheme: "dark" });
  await page.goto(labUrl(env.server, configFor("client_secret_basic"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  await screenshot(page, "look-dark", { fullPage: false });
  // auto -> light -> dark
  await page.getByRole("button", { name: /Theme/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "light");
  await page.getByRole("button", { name: /Theme/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.checkClean();
});

test("presenter mode: large type, one step per key press", async (t) => {
  const page = await openPage(env, t, { viewport: { width: 1920, height: 1080 } });
  await page.goto(labUrl(env.server, configFor("private_key_jwt")));
  await waitForReady(page);
  await page.keyboard.press("p");
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains("presenter")), true);
  assert.equal(await page.locator("#config-section").isVisible(), false);
  for (let i = 0; i < 3; i += 1) {
    await page.keyboard.press("PageDown");
    await page.waitForFunction((n) => document.documentElement.dataset.flowBusy !== "true" && window.haapiLab.trace().steps.length >= n, i + 1);
  }
  assert.ok((await page.evaluate(() => window.haapiLab.trace().steps.length)) >= 3);
  await screenshot(page, "look-presenter", { fullPage: false });
  await page.keyboard.press("Escape");
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains("presenter")), false);
  await page.checkClean();
});

test("a failed step, dark", async (t) => {
  const page = await openPage(env, t, { colorScheme: "dark" });
  const config = configFor("private_key_jwt", { credential: { audience: "https://wrong.example/token" } });
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  await screenshot(page, "look-failed-dark", { fullPage: false });
  await screenshot(page, "look-failed-dark-full");
  await page.checkClean();
});
