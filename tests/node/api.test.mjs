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

const DEMO = { userName: "demo", password: "Password1" };

/** The default configuration, logging in as the simulator's demo user. */
function demoConfig() {
  const config = mod.defaultConfig();
  config.authentication.inputs = { ...DEMO };
  return config;
}

test("the whole fallback and login run against the in-module simulator in Node", async () => {
  const lab = await mod.Lab.create(demoConfig());
  const result = await lab.run();
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  assert.deepEqual(result.trace.steps.map((s) => s.name), [
    "discovery", "attestation", "dcr-token", "registration", "store", "haapi-token", "authorize",
    "authenticate", "authenticate", "authenticate", "authenticate", "code-exchange",
  ]);
  assert.equal(lab.device().storage, "memory");
  assert.equal(result.outcome.representation.type, "oauth-authorization-response");
  assert.equal(result.outcome.subject, "demo");
  assert.match(result.outcome.tokens.accessToken, /^ey[^.]+\.ey[^.]+\.\[redacted\]$/);
});

test("a form field without a value pauses the run until the answer brings it", async () => {
  const lab = await mod.Lab.create(mod.defaultConfig());
  const paused = await lab.run();
  assert.equal(paused.state, "paused");
  assert.equal(paused.question.kind, "form");
  assert.deepEqual(paused.question.missing, ["userName", "password"]);
  assert.equal(lab.question().kind, "form");
  await assert.rejects(lab.run({ answer: { values: { userName: "demo" } } }), (e) => e.code === "FLOW_STATE" && /password/.test(e.message));
  const wrong = await lab.run({ answer: { values: { ...DEMO, password: "wrong" } } });
  assert.equal(wrong.state, "paused", "a person may try again");
  assert.equal(wrong.question.problem.type, "https://curity.se/problems/incorrect-credentials");
  const done = await lab.run({ answer: { values: DEMO } });
  assert.equal(done.state, "succeeded", JSON.stringify(done.error));
  assert.equal(lab.question(), null);
});

test("a run nobody watches ends at a wrong password with the server's problem", async () => {
  const config = demoConfig();
  config.authentication.inputs.password = "wrong";
  const result = await (await mod.Lab.create(config)).run();
  assert.equal(result.state, "failed");
  assert.equal(result.error.code, "HAAPI_PROBLEM");
  assert.equal(result.error.step, "authenticate");
});

test("the webcrypto key store works with Node's WebCrypto", async () => {
  const config = demoConfig();
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
  assert.equal(result.error.code, "ABORTED");
  assert.match(result.error.message, /aborted/);
});

test("the run result is redacted as the trace is: no session id, secret or password in it", async () => {
  const config = demoConfig();
  config.credential = { method: "client_secret_post", secret: "S3cret-main-client" };
  const lab = await mod.Lab.create(config);
  const result = await lab.run();
  assert.equal(result.state, "succeeded", JSON.stringify(result.error));
  const revealed = lab.trace({ reveal: true });
  const session = revealed.steps.map((s) => s.response?.headers?.["set-session-id"]).find(Boolean);
  const registered = JSON.parse(revealed.steps.find((s) => s.name === "registration").response.body).client_secret;
  assert.ok(session && registered);
  const text = JSON.stringify(result);
  for (const leak of [session, registered, "S3cret-main-client", DEMO.password]) {
    assert.ok(!text.includes(leak), `${leak} leaked in the run result`);
  }
  assert.equal(result.outcome.sessionId, "[redacted]");
});
