// The HAAPI login in the page (issue 7): a person clicks and types through it to decoded tokens
// with each authenticator; a link or a script logs in headless from authentication.inputs; a
// missing value pauses the run (flowPaused) until it is typed or answered; a wrong password
// shows the problem and what to do; the access token's cnf.jkt is the device key's thumbprint;
// and Curity's published representations draw in the app view.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { configFor, DEMO, FIRST_RUN, labUrl, loginInPage, openPage, screenshot, setup, traceSummary, waitForFlowState, waitForPaused, waitForReady } from "./helpers.mjs";
import { REPO_ROOT } from "./server.mjs";

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.close();
});

const dataset = (page) => page.evaluate(() => ({ ...document.documentElement.dataset }));
/** A configuration without login values: a person types them. */
const typed = (method = "client_secret_basic", extra = {}) => configFor(method, { authentication: { inputs: {} }, ...extra });
const waitForDevice = { server: { simulator: { authentication: { pollingOutcome: "wait" } } } };

function decode(jwt) {
  const [header, claims, signature] = jwt.split(".");
  const json = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  return { header: json(header), claims: json(claims), signature };
}

/** The tokens panel and the trace agree: decoded claims explained, cnf.jkt the device key's thumbprint. */
async function checkTokens(page, { amr }) {
  const tokens = page.locator("#tokens-section");
  assert.equal(await tokens.isVisible(), true, "the tokens panel is shown");
  const device = await page.evaluate(() => window.haapiLab.device());
  const thumbprint = device.dpop.thumbprint;
  assert.ok(thumbprint);
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const exchange = trace.steps.at(-1);
  assert.equal(exchange.name, "code-exchange");
  const access = exchange.jwts.find((j) => j.at === "response.body.access_token");
  assert.equal(access.header.typ, "at+jwt");
  assert.equal(access.claims.cnf.jkt, thumbprint, "the access token is bound to this device's DPoP key");
  assert.equal(access.claims.sub, "demo");

  // The panel shows cnf.jkt beside the device key's thumbprint, and says they match.
  const jkt = tokens.locator('#token-access tr[data-claim="cnf.jkt"]');
  assert.match(await jkt.textContent(), new RegExp(thumbprint.replace(/[-]/g, "\\-")));
  assert.equal(await jkt.locator("[data-device-thumbprint]").textContent(), thumbprint);
  assert.equal(await jkt.locator("[data-binding]").getAttribute("data-binding"), "match");
  assert.match(await jkt.textContent(), /only a request with a proof signed by that key can use this token/);
  // Each claim has its meaning.
  for (const claim of ["sub", "aud", "scope", "client_id", "iss", "exp", "iat"]) {
    const meaning = await tokens.locator(`#token-access tr[data-claim="${claim}"] td.meaning`).textContent();
    assert.ok(meaning.length > 20 && meaning !== "—", `access token ${claim} is explained`);
  }
  for (const claim of ["sub", "aud", "azp", "amr", "auth_time", "iss", "exp"]) {
    const meaning = await tokens.locator(`#token-id tr[data-claim="${claim}"] td.meaning`).textContent();
    assert.ok(meaning.length > 20 && meaning !== "—", `ID token ${claim} is explained`);
  }
  assert.match(await tokens.locator('#token-id tr[data-claim="amr"]').textContent(), new RegExp(amr));
  assert.equal(await tokens.locator("#token-refresh [data-refresh]").getAttribute("data-refresh"), "present");
  // The refresh token is never shown, the JWT signatures neither.
  const revealed = await page.evaluate(() => window.haapiLab.trace({ reveal: true }));
  const refresh = JSON.parse(revealed.steps.at(-1).response.body).refresh_token;
  assert.ok(refresh && !(await tokens.textContent()).includes(refresh));
  const signature = decode(JSON.parse(revealed.steps.at(-1).response.body).access_token).signature;
  assert.ok(!(await tokens.textContent()).includes(signature));
}

test("a person logs in with username and password: clicks and types to decoded tokens", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed("private_key_jwt")));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();

  // The run asks how to log in: flowState stays running, flowPaused says it waits.
  const choose = await waitForPaused(page);
  assert.equal(choose.kind, "choose");
  assert.deepEqual(choose.options.map((o) => o.authenticatorType), ["html-form", "device-approval"]);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "true"]);
  const options = page.locator("#app-view .app-option");
  assert.deepEqual(await options.allTextContents().then((l) => l.map((x) => x.replace(/\s+/g, " ").trim())),
    ["Username and password html-form (configured)", "Approve on another device device-approval"]);
  // The sequence grew: authorize, then the first HAAPI step (the redirect followed).
  assert.match(await page.locator('.seq-step[data-step="authenticate"]').first().getAttribute("aria-label"), /H1 Authenticate: follow the redirect.*choose \(2 options\)/);
  await screenshot(page, "login-selector", { fullPage: false });
  await options.filter({ hasText: "Username and password" }).click();

  // The form, drawn from the representation: labels, a masked password, the action's title, the link.
  const form = await waitForPaused(page);
  assert.equal(form.kind, "form");
  assert.deepEqual(form.missing, ["userName", "password"]);
  const view = page.locator("#app-view");
  assert.equal(await view.getByLabel("Username").getAttribute("type"), "text");
  assert.equal(await view.getByLabel("Password").getAttribute("type"), "password");
  assert.equal(await view.locator("form button[type=submit]").textContent(), "Login");
  assert.equal(await view.locator(".app-link[data-rel=forgot-password]").textContent(), "Forgot your password?");
  assert.match(await view.locator("[data-demo-hint]").textContent(), /demo \/ Password1/);
  // A link is not followed: the app view says where an app would go.
  await view.locator(".app-link[data-rel=forgot-password]").click();
  assert.match(await view.locator(".app-note").textContent(), /forgot-password/);
  await view.getByLabel("Username").fill(DEMO.userName);
  await view.getByLabel("Password").fill(DEMO.password);
  await screenshot(page, "login-form", { fullPage: false });
  await view.locator("form button[type=submit]").click();

  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.equal((await dataset(page)).flowPaused, "false");
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  // The app view ends with the authorization response; the picture with the code exchange.
  assert.match(await view.textContent(), /Logged in/);
  assert.equal(await page.locator('.seq-step.is-ok[data-step="code-exchange"]').count(), 1);
  assert.match(await page.locator("#status-text").textContent(), /Logged in as demo/);
  await checkTokens(page, { amr: "pwd" });
  await screenshot(page, "login-tokens");
  await page.checkClean();
});

test("a person logs in on another device: the app polls, the Other device panel approves", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed("client_secret_basic", waitForDevice)));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: "Approve on another device" }).click();

  // The app polls by itself and says so; the other device waits for a person (pollingOutcome "wait").
  const other = page.locator("#other-device");
  await other.waitFor({ state: "visible" });
  await page.waitForFunction(() => /poll [2-9]/.test(document.querySelector("#app-view .app-polling")?.textContent ?? ""), null, { timeout: 20_000 });
  assert.match(await page.locator("#app-view .app-polling").textContent(), /Waiting for the other device… poll \d/);
  assert.equal(await page.locator("#app-view .app-cancel").isEnabled(), true);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "false"]);
  await page.waitForFunction(() => /Authenticate: poll ×\d/.test(document.querySelector(".seq-step.is-running")?.getAttribute("aria-label") ?? ""));
  await screenshot(page, "login-polling", { fullPage: false });
  await other.getByRole("button", { name: "Approve" }).click();

  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.equal(await other.isVisible(), false, "the other device panel is gone once nobody waits");
  const steps = (await page.evaluate(() => window.haapiLab.trace())).steps;
  const statuses = steps.filter((s) => s.name === "authenticate").map((s) => JSON.parse(s.response.body)).filter((r) => r.type === "polling-step").map((r) => r.properties.status);
  assert.ok(statuses.filter((s) => s === "pending").length >= 3, statuses.join(" "));
  assert.equal(statuses.at(-1), "done");
  await checkTokens(page, { amr: "mfa" });
  await page.checkClean();
});

test("the other device denies: the login fails, and the page says why", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed("client_secret_basic", waitForDevice)));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: "Approve on another device" }).click();
  await page.locator("#btn-deny").click({ timeout: 20_000 });
  assert.equal(await waitForFlowState(page), "failed");
  assert.match(await page.locator("#run-error").textContent(), /POLLING_FAILED/);
  assert.match(await page.locator("#app-view").textContent(), /did not approve/);
  await page.checkClean();
});

test("Cancel while polling goes back to the authenticator choice", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed("client_secret_basic", waitForDevice)));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: "Approve on another device" }).click();
  await page.locator("#app-view .app-cancel:not([disabled])").click({ timeout: 20_000 });
  const again = await waitForPaused(page);
  assert.equal(again.kind, "choose", "the selector is asked again");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  assert.match(trace.steps.at(-1).request.url, /cancel$/);
  assert.equal(await loginInPage(page), "succeeded");
  await page.checkClean();
});

test("headless: a #config=…&run=1 link logs in to tokens with each authenticator", async (t) => {
  for (const [authenticator, amr] of [[null, "pwd"], ["device-approval", "mfa"]]) {
    const page = await openPage(env, t);
    const config = configFor("private_key_jwt", { authentication: { inputs: { ...DEMO }, authenticator } });
    await page.goto(labUrl(env.server, config, { run: true }));
    assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
    assert.equal((await dataset(page)).flowPaused, "false");
    const trace = await page.evaluate(() => window.haapiLab.trace());
    assert.deepEqual(trace.steps.slice(0, 7).map((s) => [s.name, s.status]), FIRST_RUN.slice(0, 7));
    assert.equal(trace.steps.at(-1).name, "code-exchange");
    assert.ok(trace.steps.every((s) => s.status !== "failed"));
    // Nobody was asked: the authenticator came from the configuration, the form from inputs.
    assert.ok(trace.steps.some((s) => s.notes.some((n) => /Chose the authenticator/.test(n))));
    if (!authenticator) assert.deepEqual(await traceSummary(page), FIRST_RUN);
    const idToken = trace.steps.at(-1).jwts.find((j) => j.at === "response.body.id_token");
    assert.deepEqual(idToken.claims.amr, [amr]);
    await checkTokens(page, { amr });
    await page.checkClean();
  }
});

test("a missing field value pauses the run until it is typed in the app view", async (t) => {
  const page = await openPage(env, t);
  // A link with the user name only: the run fills what it can and waits for the password.
  const config = configFor("client_secret_basic", { authentication: { inputs: { userName: DEMO.userName } } });
  await page.goto(labUrl(env.server, config, { run: true }));
  const question = await waitForPaused(page);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "true"]);
  assert.equal(question.kind, "form");
  assert.deepEqual(question.missing, ["password"]);
  assert.equal(question.interactive, false);
  const last = (await page.evaluate(() => window.haapiLab.trace())).steps.at(-1);
  assert.equal(last.name, "authenticate");
  assert.match(last.notes.join(" "), /needs password: the run waits/);
  assert.match(await page.locator("#status-text").textContent(), /fill in password/);
  // A script's run does not move the focus; the form shows the configured user name.
  assert.equal(await page.evaluate(() => document.activeElement === document.body), true);
  const view = page.locator("#app-view");
  assert.equal(await view.getByLabel("Username").inputValue(), "demo");
  // Sending it without the password is refused by the app view, and the run still waits.
  await view.locator("form button[type=submit]").click();
  assert.match(await view.locator(".app-field-error:not([hidden])").textContent(), /Enter Password/);
  assert.equal((await dataset(page)).flowPaused, "true");
  await screenshot(page, "login-paused-missing-password", { fullPage: false });
  await view.getByLabel("Password").fill(DEMO.password);
  await view.getByLabel("Password").press("Enter");
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.equal((await dataset(page)).flowPaused, "false");
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  await page.checkClean();
});

test("a paused run is answered with haapiLab.answer; an answer that leaves a field empty is refused", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  // The default configuration has no login values: the script's run pauses at the form.
  const paused = await page.evaluate(() => window.haapiLab.run(null));
  assert.equal(paused.state, "paused");
  assert.equal(paused.question.kind, "form");
  assert.deepEqual(paused.question.missing, ["userName", "password"]);
  assert.deepEqual(await page.evaluate(() => window.haapiLab.question().missing), ["userName", "password"]);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "true"]);

  const refused = await page.evaluate(() => window.haapiLab.answer({ values: { userName: "demo" } }).then(() => null, (e) => ({ code: e.code, message: e.message })));
  assert.equal(refused.code, "FLOW_STATE");
  assert.match(refused.message, /password/);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "true"]);
  assert.equal(await page.evaluate(() => window.haapiLab.question().kind), "form");

  const result = await page.evaluate((values) => window.haapiLab.answer({ values }), DEMO);
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.equal(result.outcome.subject, "demo");
  assert.match(result.outcome.tokens.accessToken, /^ey[^.]+\.ey[^.]+\.\[redacted\]$/);
  assert.equal(await page.evaluate(() => window.haapiLab.question()), null);
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["succeeded", "false"]);
  // Nothing waits any more: an answer now is refused without touching the result.
  const late = await page.evaluate(() => window.haapiLab.answer({ values: {} }).then(() => null, (e) => e.code));
  assert.equal(late, "FLOW_STATE");
  assert.equal((await dataset(page)).flowState, "succeeded");
  await page.checkClean();
});

test("a wrong password shows the problem and what to do; the right one then logs in", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed()));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: "Username and password" }).click();
  const view = page.locator("#app-view");
  await view.getByLabel("Username").fill("demo");
  await view.getByLabel("Password").fill("not-the-password");
  await view.locator("form button[type=submit]").click();

  const again = await waitForPaused(page);
  assert.equal(again.kind, "form");
  assert.equal(again.problem.type, "https://curity.se/problems/incorrect-credentials");
  assert.deepEqual(await dataset(page).then((d) => [d.flowState, d.flowPaused]), ["running", "true"]);
  const problem = view.locator(".app-problem");
  assert.match(await problem.locator(".app-problem-title").textContent(), /Incorrect credentials/);
  assert.match(await problem.textContent(), /attempts left/);
  const advice = await problem.locator("[data-advice]").textContent();
  assert.match(advice, /What to do/);
  assert.match(advice, /type them again/);
  assert.match(advice, /too-many-attempts/);
  // The failed step is in the trace, the step list and the picture, as a step the run went on from.
  const failed = (await page.evaluate(() => window.haapiLab.trace())).steps.at(-1);
  assert.deepEqual([failed.name, failed.status, failed.error.code], ["authenticate", "failed", "HAAPI_PROBLEM"]);
  assert.equal(await page.locator('.seq-step.is-failed[data-step="authenticate"]').count(), 1);
  assert.match(await page.locator("#inspector").textContent(), /Refused, and the app carried on/);
  assert.match(await page.locator("#status-text").textContent(), /Incorrect credentials/);
  // The user name stays, the password does not.
  assert.equal(await view.getByLabel("Username").inputValue(), "demo");
  assert.equal(await view.getByLabel("Password").inputValue(), "");
  await screenshot(page, "login-wrong-password", { fullPage: false });

  await view.getByLabel("Password").fill(DEMO.password);
  await view.locator("form button[type=submit]").click();
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  const names = (await traceSummary(page)).map(([n, s]) => `${n}:${s}`);
  assert.deepEqual(names.slice(7), ["authenticate:ok", "authenticate:ok", "authenticate:failed", "authenticate:ok", "authenticate:ok", "code-exchange:ok"]);
  await page.checkClean();
});

test("three wrong passwords: too-many-attempts ends the run, and the app view says what to do", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, typed()));
  await waitForReady(page);
  await page.getByRole("button", { name: /Run all/ }).click();
  await waitForPaused(page);
  await page.locator("#app-view .app-option", { hasText: "Username and password" }).click();
  const view = page.locator("#app-view");
  for (let i = 0; i < 3; i += 1) {
    await waitForPaused(page);
    await view.getByLabel("Username").fill("demo");
    await view.getByLabel("Password").fill(`wrong-${i}`);
    await view.locator("form button[type=submit]").click();
  }
  assert.equal(await waitForFlowState(page), "failed");
  assert.equal((await dataset(page)).flowPaused, "false");
  assert.match(await page.locator("#run-error").textContent(), /too-many-attempts|HAAPI_PROBLEM/);
  assert.match(await view.locator(".app-problem").getAttribute("data-problem"), /too-many-attempts/);
  assert.match(await view.textContent(), /Press Run all to start a new login/);
  await page.checkClean();
});

test("followRedirects false: the run stops on each redirection-step, and Follow goes on", async (t) => {
  const page = await openPage(env, t);
  const config = configFor("client_secret_basic", { authentication: { inputs: { ...DEMO }, followRedirects: false } });
  await page.goto(labUrl(env.server, config, { run: true }));
  let follows = 0;
  for (; follows < 6; follows += 1) {
    await page.waitForFunction(() => ["succeeded", "failed"].includes(document.documentElement.dataset.flowState) || document.documentElement.dataset.flowPaused === "true");
    const question = await page.evaluate(() => window.haapiLab.question());
    if (!question) break;
    assert.equal(question.kind, "redirect");
    assert.match(await page.locator("#app-view .app-redirect").textContent(), new RegExp(question.href.replace(/[?.*+()[\]\\]/g, "\\$&")));
    await page.locator("#app-view .app-follow").click();
    await page.waitForFunction(() => document.documentElement.dataset.flowBusy !== "true");
  }
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.equal(follows, 2, "asked twice: authorize's redirect to the selector, and the form's redirect back to authorize");
  const notes = (await page.evaluate(() => window.haapiLab.trace())).steps.flatMap((s) => s.notes);
  assert.ok(notes.some((n) => /followRedirects is false/.test(n)), notes.join(" | "));
  await page.checkClean();
});

test("Curity's published representations draw in the app view", async (t) => {
  const page = await openPage(env, t);
  await page.goto(env.server.url("/www/index.html"));
  await waitForReady(page);
  const dir = join(REPO_ROOT, "tests", "fixtures", "haapi");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length >= 9, files.join(" "));
  const drawn = {};
  for (const file of files) {
    const representation = JSON.parse(await readFile(join(dir, file), "utf8"));
    // Through the page's own modules, into the page: as the inspector draws any step's response,
    // and as the app panel draws a question about it.
    drawn[file] = await page.evaluate(async (rep) => {
      const { renderAppView } = await import("/www/app-view.js");
      const { parse } = await import("/www/haapi.js");
      const host = document.createElement("div");
      host.className = "fixture";
      document.body.append(host);
      const model = parse(rep);
      host.append(renderAppView(rep));
      const kind = model.type === "redirection-step" ? "redirect" : model.actions.some((a) => a.template === "selector") ? "choose" : "form";
      host.append(renderAppView(rep, { live: true, question: { kind, fields: [], configured: null }, polling: { polls: 1, active: true } }));
      const screens = host.querySelectorAll(".app-screen");
      return {
        type: model.type,
        problem: model.problem,
        text: screens[0].textContent,
        inputs: Array.from(screens[0].querySelectorAll("input"), (i) => [i.name, i.type, i.disabled]),
        liveInputs: Array.from(screens[1].querySelectorAll("input"), (i) => [i.name, i.disabled]),
        buttons: Array.from(screens[1].querySelectorAll("button"), (b) => [b.textContent.trim(), b.disabled]),
      };
    }, representation);
  }
  const d = drawn;
  assert.deepEqual(d["login.json"].inputs, [["userName", "text", true], ["password", "password", true]], "static: drawn, not usable");
  assert.deepEqual(d["login.json"].liveInputs, [["userName", false], ["password", false]]);
  assert.deepEqual(d["login.json"].buttons, [["Login", false], ["Forgot your password?", false]]);
  assert.deepEqual(d["selector.json"].buttons.map(([b]) => b.replace(/\s+/g, " ")), ["Username / password html-form", "BankID bankid"]);
  assert.match(d["selector.json"].text, /Select Authentication Method/);
  assert.match(d["redirect.json"].text, /dev\/authn\/authenticate\?serviceProviderId=oauth-dev/);
  assert.deepEqual(d["redirect.json"].buttons, [["Follow", false]]);
  assert.match(d["polling-pending.json"].text, /Waiting for the other device/);
  assert.deepEqual(d["polling-pending.json"].buttons, [["Cancel", false]]);
  assert.match(d["polling-done.json"].text, /approved/);
  assert.match(d["authorization-response.json"].text, /Logged in[\s\S]*OZxymZHVjkEhf9fajYz0jNPOaJaQpXTg[\s\S]*foo/);
  assert.equal(d["incorrect-credentials.json"].problem, "incorrect-credentials");
  assert.match(d["incorrect-credentials.json"].text, /Incorrect credentials/);
  assert.match(d["invalid-input.json"].text, /Form Errors[\s\S]*password: You have to enter your password/);
  assert.match(d["session-mismatch.json"].text, /General Error[\s\S]*original DPoP keys/);
  assert.deepEqual(d["session-mismatch.json"].buttons, [["Try again", false]]);
  for (const [file, v] of Object.entries(d)) assert.ok(v.text.trim().length > 0, `${file} draws something`);
  await screenshot(page, "login-fixtures");
  await page.checkClean();
});
