// The module outside the browser: Node 20 (global fetch and WebCrypto, no IndexedDB, so the
// device store falls back to memory). Run: node --test tests/node/ (after building pkg/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";

const pkg = new URL("../../pkg/", import.meta.url);
if (!existsSync(new URL("haapi_lab.js", pkg))) {
  throw new Error("pkg/ is missing: build it first with `bash scripts/build-pkg.sh`");
}
const mod = await import(new URL("haapi_lab.js", pkg));
await mod.default({ module_or_path: await readFile(new URL("haapi_lab_bg.wasm", pkg)) });

test("the whole fallback runs against the in-module simulator in Node", async () => {
  const lab = await mod.Lab.create(mod.defaultConfig());
  const result = await lab.run();
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.deepEqual(result.trace.steps.map((s) => s.name), ["discovery", "attestation", "dcr-token", "registration", "store", "haapi-token", "authorize"]);
  assert.equal(lab.device().storage, "memory");
  assert.equal(result.outcome.representation.type, "authentication-step");
});

test("the webcrypto key store works with Node's WebCrypto", async () => {
  const config = mod.defaultConfig();
  config.dpop.keyStore = "webcrypto";
  const result = await (await mod.Lab.create(config)).run();
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
});

test("a refused configuration rejects with a coded Error", async () => {
  const config = mod.defaultConfig();
  config.credential = { method: "none" };
  await assert.rejects(mod.Lab.create(config), (e) => e instanceof Error && e.code === "CONFIG_INVALID" && e.problems[0].path === "credential.method");
  assert.equal(mod.validateConfig(config)[0].path, "credential.method");
});

test("an AbortSignal stops a run", async () => {
  const lab = await mod.Lab.create(mod.defaultConfig());
  const controller = new AbortController();
  controller.abort();
  const result = await lab.run({ signal: controller.signal });
  assert.equal(result.state, "failed");
  assert.equal(result.error.code, "TRANSPORT_ERROR");
  assert.match(result.error.message, /aborted/);
});
