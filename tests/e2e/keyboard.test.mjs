// The page works with the keyboard alone: skip link, Next step (Enter and Space) to the end,
// and the steps of the picture are focusable buttons.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, FIRST_RUN, labUrl, openPage, screenshot, setup, traceSummary, waitForFlowState, waitForReady } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const active = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute("data-step") || document.activeElement?.tagName);

test("Tab to Next step, then Enter and Space until the run succeeds", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_post")));
  await waitForReady(page);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "idle");

  // The first Tab reaches the skip link to the run controls.
  await page.keyboard.press("Tab");
  assert.match(await page.evaluate(() => document.activeElement.textContent), /Skip to the run controls/);
  await page.keyboard.press("Enter");
  assert.equal(await active(page), "run-section");
  for (let i = 0; i < 5 && (await active(page)) !== "btn-next"; i += 1) await page.keyboard.press("Tab");
  assert.equal(await active(page), "btn-next");

  let presses = 0;
  for (; presses < 12; presses += 1) {
    const state = await page.evaluate(() => document.documentElement.dataset.flowState);
    if (state === "succeeded" || state === "failed") break;
    await page.keyboard.press(presses % 2 === 0 ? "Enter" : "Space");
    await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
    assert.equal(await active(page), "btn-next", "focus stays on Next step");
  }
  assert.equal(await waitForFlowState(page), "succeeded", `after ${presses} presses: ${await page.locator("#run-error").textContent()}`);
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  assert.ok(presses >= 5, `one step per press (${presses} presses)`);

  // On to the picture: each step is a focusable button; Enter and Space inspect it.
  for (let i = 0; i < 6 && (await active(page)) !== "discovery"; i += 1) await page.keyboard.press("Tab");
  assert.equal(await active(page), "discovery");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("role")), "button");
  await page.keyboard.press("Enter");
  assert.match(await page.locator("#inspected-step").textContent(), /Discovery/);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.equal(await active(page), "dcr-token");
  await page.keyboard.press("Space");
  assert.match(await page.locator("#inspected-step").textContent(), /dcr-token/);
  await screenshot(page, "keyboard-focus-on-step", { fullPage: false });
  await page.checkClean();
});

test("single-key shortcuts: n steps, x resets, r runs", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_basic")));
  await waitForReady(page);
  await page.keyboard.press("n");
  await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true" && document.documentElement.dataset.flowState === "running");
  assert.deepEqual(await traceSummary(page), [["discovery", "ok"]]);
  await page.keyboard.press("x");
  assert.equal(await waitForFlowState(page, "idle"), "idle");
  assert.deepEqual(await traceSummary(page), []);
  await page.keyboard.press("r");
  assert.equal(await waitForFlowState(page), "succeeded");
  // Shortcuts can be turned off (WCAG 2.1.4).
  await page.locator("#shortcuts-toggle").uncheck();
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("x");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "succeeded");
  await page.checkClean();
});
