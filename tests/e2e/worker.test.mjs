// The module works in a Web Worker: the whole fallback runs there, with IndexedDB and a
// non-extractable WebCrypto key, and the second run reuses the stored client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup } from "./helpers.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("the module runs the fallback in a Web Worker", async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(env.server.url("/tests/e2e/fixtures/worker.html"));
    const result = await page.evaluate(() => window.workerResult);
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.inWorker, true);
    assert.equal(result.storage, "indexeddb");
    assert.equal(result.first.state, "succeeded", JSON.stringify(result.first));
    assert.deepEqual(result.first.steps, ["discovery:ok", "attestation:skipped", "dcr-token:ok", "registration:ok", "store:ok", "haapi-token:ok", "authorize:ok",
      "authenticate:ok", "authenticate:ok", "authenticate:ok", "authenticate:ok", "code-exchange:ok"]);
    assert.equal(result.second.state, "succeeded");
    assert.ok(result.second.steps.includes("registration:skipped"), JSON.stringify(result.second));
  } finally {
    await context.close();
  }
});
