// The page works with the keyboard alone: skip link, Next step (Enter and Space), the login in
// the app view (choose, type, Enter) to the end, presenter keys, and the steps of the picture
// are focusable buttons.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, FIRST_RUN, labUrl, openPage, screenshot, setup, traceSummary, waitForFlowState, waitForPaused, waitForReady } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const active = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute("data-step") || document.activeElement?.tagName);

test("Tab to Next step, Enter and Space through the fallback, the keyboard through the login", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("client_secret_post", { authentication: { inputs: {} } })));
  await waitForReady(page);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "idle");

  // The first Tab reaches the skip link to the run controls.
  await page.keyboard.press("Tab");
  assert.match(await page.evaluate(() => document.activeElement.textContent), /Skip to the run controls/);
  await page.keyboard.press("Enter");
  assert.equal(await active(page), "run-section");
  for (let i = 0; i < 5 && (await active(page)) !== "btn-next"; i += 1) await page.keyboard.press("Tab");
  assert.equal(await active(page), "btn-next");

  /** Presses Enter and Space on Next step, one step per press, until the run ends or waits. */
  const stepUntilStop = async (limit) => {
    let presses = 0;
    for (; presses < limit; presses += 1) {
      const [state, paused] = await page.evaluate(() => [document.documentElement.dataset.flowState, document.documentElement.dataset.flowPaused]);
      if (state === "succeeded" || state === "failed" || paused === "true") break;
      assert.equal(await active(page), "btn-next", "focus stays on Next step while the run needs nobody");
      await page.keyboard.press(presses % 2 === 0 ? "Enter" : "Space");
      await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
    }
    return presses;
  };

  // The fallback and the first representations, one press each, up to the authenticator choice.
  const presses = await stepUntilStop(12);
  assert.ok(presses >= 6, `one step per press (${presses} presses)`);
  const question = await waitForPaused(page);
  assert.equal(question.kind, "choose");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "running");
  // The run waits for the person: focus went to the app view's first option.
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains("app-option")), true);
  await page.keyboard.press("Enter");
  await waitForPaused(page);
  // The form: focus on the first empty field; typing is not a shortcut (n, x, r are letters here).
  assert.equal(await page.evaluate(() => document.activeElement.name), "userName");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.name), "password");
  await page.keyboard.type("Password1");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.documentElement.dataset.flowPaused === "false" && document.documentElement.dataset.flowBusy !== "true");
  // After the answer, focus is back on Next step: the rest of the login, one press each.
  assert.equal(await active(page), "btn-next");
  await stepUntilStop(8);
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.deepEqual(await traceSummary(page), FIRST_RUN);

  // On to the picture: each step is a focusable button; Enter and Space inspect it.
  for (let i = 0; i < 30 && (await active(page)) !== "discovery"; i += 1) await page.keyboard.press("Tab");
  assert.equal(await active(page), "discovery");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("role")), "button");
  await page.keyboard.press("Enter");
  assert.match(await page.locator("#inspected-step").textContent(), /Discovery/);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.equal(await active(page), "dcr-token");
  await page.keyboard.press("Space");
  assert.match(await page.locator("#inspected-step").textContent(), /dcr-token/);
  // The login's rows are buttons too: down to the form's, which the inspector also draws as the app did.
  for (let i = 0; i < 6; i += 1) await page.keyboard.press("ArrowDown");
  assert.match(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), /H2 Authenticate: choose “Username and password”/);
  await page.keyboard.press("Enter");
  assert.match(await page.locator("#inspected-step").textContent(), /H2/);
  assert.equal(await page.locator("#inspector .app-drawing form input[type=password]").count(), 1);
  await screenshot(page, "keyboard-focus-on-step", { fullPage: false });
  await page.checkClean();
});

test("single-key shortcuts: n steps, x resets, r runs, a goes to the app view", async (t) => {
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
  // A person's run asks how to log in; the form is prefilled from authentication.inputs.
  assert.equal((await waitForPaused(page)).kind, "choose");
  await page.keyboard.press("Enter");
  assert.equal((await waitForPaused(page)).kind, "form");
  assert.equal(await page.locator("#app-view input[name=userName]").inputValue(), "demo");
  // Letters typed into the form are text, never shortcuts: x does not reset, p does not present.
  const user = page.locator("#app-view input[name=userName]");
  await user.fill("");
  await user.focus();
  await page.keyboard.type("xrnapt");
  assert.equal(await user.inputValue(), "xrnapt");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowPaused), "true");
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains("presenter")), false);
  await user.fill("demo");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("a");
  assert.equal(await page.evaluate(() => document.activeElement.closest("#app-section") !== null), true);
  await page.locator("#app-view form button[type=submit]").click();
  assert.equal(await waitForFlowState(page), "succeeded");
  // Shortcuts can be turned off (WCAG 2.1.4).
  await page.locator("#shortcuts-toggle").uncheck();
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("x");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.flowState), "succeeded");
  await page.checkClean();
});

test("presenter mode: PageDown through the fallback, to the app view when the login asks, on to the tokens", async (t) => {
  const page = await openPage(env, t, { viewport: { width: 1920, height: 1080 } });
  await page.goto(labUrl(env.server, configFor("private_key_jwt", { authentication: { inputs: {} } })));
  await waitForReady(page);
  await page.keyboard.press("p");
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains("presenter")), true);
  for (let i = 0; i < 12 && (await page.evaluate(() => document.documentElement.dataset.flowPaused)) !== "true"; i += 1) {
    await page.keyboard.press("PageDown");
    await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
  }
  assert.equal((await waitForPaused(page)).kind, "choose");
  // PageDown while the login asks does not skip the question: it keeps focus in the app view.
  await page.keyboard.press("PageDown");
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains("app-option")), true);
  assert.equal((await page.evaluate(() => window.haapiLab.question())).kind, "choose");
  await page.keyboard.press("Enter");
  assert.equal((await waitForPaused(page)).kind, "form");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Password1");
  await screenshot(page, "presenter-login-form", { fullPage: false });
  await page.keyboard.press("Enter");
  for (let i = 0; i < 8 && (await page.evaluate(() => document.documentElement.dataset.flowState)) === "running"; i += 1) {
    await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
    await page.keyboard.press("PageDown");
    await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
  }
  assert.equal(await waitForFlowState(page), "succeeded");
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  // ← reviews: the previous step is inspected.
  await page.keyboard.press("ArrowLeft");
  assert.match(await page.locator("#inspected-step").textContent(), /H4/);
  await screenshot(page, "presenter-logged-in", { fullPage: false });
  await page.checkClean();
});
