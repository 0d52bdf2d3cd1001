// Broken servers over real HTTP (tests/node/broken-server.mjs), to the client module in Node: each
// ends the run with its typed error, the step, the evidence and advice in the trace. The CORS
// block needs a browser (tests/e2e/broken.test.mjs).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { startBrokenServer } from "./broken-server.mjs";

const pkg = new URL("../../pkg/", import.meta.url);
if (!existsSync(new URL("haapi_lab.js", pkg))) {
  throw new Error("pkg/ is missing: build it first with `bash scripts/build-pkg.sh`");
}
const mod = await import(new URL("haapi_lab.js", pkg));
await mod.default({ module_or_path: await readFile(new URL("haapi_lab_bg.wasm", pkg)) });

let broken;
before(async () => {
  broken = await startBrokenServer();
});
after(async () => {
  await broken?.close();
});

/** A real-server configuration whose issuer is the broken case `name`. */
function configFor(name, timeoutMs = 30000) {
  const config = mod.defaultConfig();
  config.server = { mode: "http", issuer: broken.issuer(name), timeoutMs };
  config.credential = { method: "client_secret_basic", secret: "S3cret-main-client" };
  return config;
}

/** Runs case `name`; checks what every broken case has: a failed run, its code and step, the failed step with advice. */
async function runCase(name, code, step, { timeoutMs } = {}) {
  const lab = await mod.Lab.create(configFor(name, timeoutMs), { storage: "memory" });
  const result = await lab.run();
  assert.equal(result.state, "failed", `${name}: ${JSON.stringify(result.error)}`);
  assert.equal(result.error.code, code, `${name}: ${result.error.message}`);
  assert.equal(result.error.step, step);
  const last = result.trace.steps.at(-1);
  assert.deepEqual([last.name, last.status, last.error.code], [step, "failed", code]);
  assert.ok(last.notes.length > 0 && last.notes.at(-1).length > 40, `${name}: advice in the trace`);
  assert.equal(JSON.stringify(lab.trace()), JSON.stringify(result.trace));
  assert.ok(!JSON.stringify(result).includes("S3cret-main-client"), "the secret is redacted everywhere");
  return { result, advice: last.notes.at(-1) };
}

test("an HTML error page", async () => {
  const { result, advice } = await runCase("html", "HTML_RESPONSE", "discovery");
  assert.equal(result.error.status, 404);
  assert.match(result.error.message, /"404 Not Found"/);
  assert.match(result.error.evidence.body, /^<!DOCTYPE html>/);
  assert.match(advice, /web page, not the API/);
});

test("JSON with the wrong content type", async () => {
  const { result } = await runCase("wrong-type", "WRONG_CONTENT_TYPE", "discovery");
  assert.match(result.error.message, /"text\/plain".*the body is JSON/);
});

test("a connection closed in the middle of the body", async () => {
  const { result } = await runCase("truncated", "TRUNCATED_RESPONSE", "discovery");
  assert.equal(result.error.evidence.body.length, 40, "what arrived is the evidence");
  assert.equal(result.error.evidence.bodyBytes, 40);
  assert.match(result.error.message, /closed in the middle .* after 40 bytes/);
});

test("a body labelled JSON that is not JSON", async () => {
  await runCase("not-json", "MALFORMED_JSON", "discovery");
});

test("a body over the cap", async () => {
  const { result } = await runCase("huge", "RESPONSE_TOO_LARGE", "discovery");
  assert.ok(result.error.evidence.bodyBytes > 1024 * 1024);
  assert.ok(result.error.evidence.body.length <= 2048);
});

test("a redirect is not followed, and where it points is said", async () => {
  const { result, advice } = await runCase("redirect", "UNEXPECTED_REDIRECT", "discovery");
  assert.equal(result.error.status, 302);
  assert.equal(result.error.location, `${broken.issuer("redirect")}/.well-known/openid-configuration/`);
  assert.match(advice, /points to http:\/\/127\.0\.0\.1/);
});

test("a 503 with Retry-After", async () => {
  const { result, advice } = await runCase("unavailable", "SERVER_UNAVAILABLE", "discovery");
  assert.deepEqual([result.error.status, result.error.retryAfter], [503, 120]);
  assert.match(advice, /120 s/);
});

test("a server that answers slowly forever", async () => {
  const { result, advice } = await runCase("slow", "TIMEOUT", "discovery", { timeoutMs: 1000 });
  assert.deepEqual([result.error.status, result.error.timeoutMs], [200, 1000]);
  assert.match(result.error.evidence.body, /^\{/);
  assert.match(advice, /began to answer \(HTTP 200\)/);
});

test("a server that never answers", async () => {
  const { result, advice } = await runCase("silent", "TIMEOUT", "discovery", { timeoutMs: 1000 });
  assert.ok(result.error.status == null, "no answer, no status");
  assert.match(advice, /No answer within 1000 ms \(server\.timeoutMs\)/);
});

test("a discovery document that names another issuer", async () => {
  await runCase("issuer", "ISSUER_MISMATCH", "discovery");
});

test("an HTML login page at the token endpoint", async () => {
  const { result } = await runCase("token", "HTML_RESPONSE", "dcr-token");
  assert.match(result.error.message, /"Sign in"/);
  assert.deepEqual(result.trace.steps.map((s) => [s.name, s.status]), [["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "failed"]]);
});

test("a refused configuration: the error in run()'s rejection lists the fields", async () => {
  const config = configFor("html");
  config.server.timeoutMs = 0;
  await assert.rejects(mod.Lab.create(config), (e) => e instanceof Error && e.code === "CONFIG_INVALID" && e.problems.some((p) => p.path === "server.timeoutMs"));
});
