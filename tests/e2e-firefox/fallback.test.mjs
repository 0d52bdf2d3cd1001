// The page end to end in Firefox ESR: a whole attestation fallback from a `#config=…&run=1` link,
// read back through the automation contract (dataset.flowState, window.haapiLab.trace()), the
// way a QA team's WebDriver script would. Debian's firefox-esr through geckodriver's W3C
// WebDriver API (./webdriver.mjs); the Chromium twin of these checks is tests/e2e/methods.test.mjs.
//
//   node --test tests/e2e-firefox/     (after bash scripts/setup.sh and bash scripts/build-pkg.sh)

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO_ROOT, startServer } from "../e2e/server.mjs";
import { startGeckodriver } from "./webdriver.mjs";

const ARTIFACTS = join(REPO_ROOT, "test-results", "e2e-firefox");
const PKG = join(REPO_ROOT, "pkg");
for (const f of ["haapi_lab.js", "haapi_lab_bg.wasm"]) {
  if (!existsSync(join(PKG, f))) throw new Error(`pkg/${f} is missing: run 'bash scripts/build-pkg.sh' first`);
}

// The configuration document the module itself calls the default (what the page starts with),
// so this run follows the product rather than a copy of it.
const mod = await import(join(PKG, "haapi_lab.js"));
await mod.default({ module_or_path: await readFile(join(PKG, "haapi_lab_bg.wasm")) });

/** The default document, with the simulator's demo user for the login form the walk meets. */
function defaultDocument(edit = () => {}) {
  const doc = mod.defaultConfig();
  assert.equal(doc.server.mode, "simulator");
  doc.authentication.inputs = { userName: "demo", password: "Password1" };
  edit(doc);
  assert.deepEqual(mod.validateConfig(doc), [], "the document is valid");
  return doc;
}

/** The page's URL for `doc`: #config=<base64url(JSON)>&run=1. */
const linkFor = (doc) => server.url(`/www/index.html#config=${Buffer.from(JSON.stringify(doc), "utf8").toString("base64url")}&run=1`);

let server;
let driver;
before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  server = await startServer();
  driver = await startGeckodriver();
});
after(async () => {
  if (driver) await writeFile(join(ARTIFACTS, "geckodriver.log"), driver.log());
  await driver?.close();
  await server?.close();
});

/**
 * A new Firefox (a fresh temporary profile, so a fresh IndexedDB) for one test. When the test
 * ends, a screenshot of the page is kept in test-results/e2e-firefox/ (with geckodriver's log).
 */
async function openFirefox(t, name) {
  const session = await driver.newSession();
  assert.equal(session.capabilities.browserName, "firefox");
  assert.equal(session.capabilities["moz:headless"], true);
  const logFrom = driver.log().length;
  /**
   * Fails on an uncaught error of the page (Firefox prints it as "JavaScript error: <url>, ...")
   * or a resource the page loaded or fetched from another origin (Resource Timing).
   */
  session.checkClean = async () => {
    const errors = driver.log().slice(logFrom).split("\n").filter((l) => l.startsWith(`JavaScript error: ${server.origin}/`));
    assert.deepEqual(errors, [], "the page had uncaught errors");
    const names = await session.execute("return performance.getEntriesByType('resource').map((e) => e.name)");
    // In simulator mode the page loads the client with the light simulator compiled in.
    assert.ok(names.some((n) => n.endsWith("/pkg/haapi_lab_with_sim_bg.wasm")), `the module was loaded: ${JSON.stringify(names)}`);
    const foreign = names.filter((n) => !n.startsWith(`${server.origin}/`) && !n.startsWith("data:") && !n.startsWith("blob:"));
    assert.deepEqual(foreign, [], "requests to other origins");
  };
  t.after(async () => {
    try {
      await writeFile(join(ARTIFACTS, `${name}.png`), await session.screenshot());
    } catch {
      // the session may be gone already
    }
    await session.quit().catch(() => {});
  });
  return session;
}

/**
 * Resolves when dataset.flowState is "succeeded" or "failed" and no request is in flight. The
 * page's own attribute changes wake the script (a MutationObserver), so nothing here is timed;
 * the session's script timeout (60 s) only bounds a run that never ends.
 */
const WAIT_FOR_END = `
  const done = arguments[arguments.length - 1];
  const root = document.documentElement;
  const ended = () => ["succeeded", "failed"].includes(root.dataset.flowState) && root.dataset.flowBusy !== "true";
  if (ended()) return done(root.dataset.flowState);
  const observer = new MutationObserver(() => {
    if (!ended()) return;
    observer.disconnect();
    done(root.dataset.flowState);
  });
  observer.observe(root, { attributes: true, attributeFilter: ["data-flow-state", "data-flow-busy"] });
`;

/** Waits for the end of the run the link started; fails with the page's error and trace unless it succeeded. */
async function runToTheEnd(session) {
  const state = await session.executeAsync(WAIT_FOR_END);
  if (state !== "succeeded") {
    const why = await session.execute("return { error: document.querySelector('#run-error')?.textContent ?? null, trace: window.haapiLab?.trace() ?? null }");
    assert.fail(`flowState is ${state}, not succeeded: ${JSON.stringify(why, null, 2)}`);
  }
}

const trace = (session, reveal = false) => session.execute("return window.haapiLab.trace(arguments[0])", { reveal });
const device = (session) => session.executeAsync("window.haapiLab.device().then(arguments[arguments.length - 1], (e) => arguments[arguments.length - 1]({ error: String(e) }))");
const step = (t, name) => t.steps.find((s) => s.name === name);
const form = (body) => Object.fromEntries(new URLSearchParams(body ?? ""));

const FALLBACK = [["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "ok"], ["registration", "ok"], ["store", "ok"], ["haapi-token", "ok"], ["authorize", "ok"]];
const REUSED = [["discovery", "ok"], ["attestation", "skipped"], ["dcr-token", "skipped"], ["registration", "skipped"], ["store", "skipped"], ["haapi-token", "ok"], ["authorize", "ok"]];

/**
 * The trace's [name, status] pairs: `fallback` first, then the HAAPI login (at least one
 * `authenticate`, every one ok) and the `code-exchange`, ok. How many authenticate steps the
 * simulator's login takes is its business, not the browser's.
 */
function assertRun(t, fallback) {
  const pairs = t.steps.map((s) => [s.name, s.status]);
  assert.deepEqual(pairs.slice(0, fallback.length), fallback, "the fallback's steps");
  const login = pairs.slice(fallback.length);
  assert.deepEqual(login.at(-1), ["code-exchange", "ok"], `the run ends with the code exchange: ${JSON.stringify(login)}`);
  const walk = login.slice(0, -1);
  assert.ok(walk.length >= 1, "the login has at least one authenticate step");
  for (const pair of walk) assert.deepEqual(pair, ["authenticate", "ok"]);
  for (const s of t.steps) assert.equal(s.error, null, `${s.name} has no error`);
}

test("Firefox: the default configuration (simulator, private_key_jwt ES256, wasm key store) runs from a #config=…&run=1 link", async (t) => {
  const session = await openFirefox(t, "default-private_key_jwt");
  const doc = defaultDocument();
  assert.equal(doc.credential.method, "private_key_jwt");
  await session.navigate(linkFor(doc));
  await runToTheEnd(session);

  assert.match(await session.execute("return navigator.userAgent"), /Gecko\/20100101 Firefox\//, "the page ran in Firefox");
  const redacted = await trace(session);
  assert.equal(redacted.redacted, true);
  assertRun(redacted, FALLBACK);
  assert.match(step(redacted, "haapi-token").request.headers.dpop, /^ey[^.]+\.ey[^.]+\.\[redacted\]$/, "a redacted proof keeps header and claims only");

  const revealed = await trace(session, true);
  assert.equal(revealed.redacted, false);
  const dcr = step(revealed, "dcr-token");
  assert.equal(form(dcr.request.body).client_assertion_type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  assert.equal(dcr.jwts.find((j) => j.at === "request.body.client_assertion")?.header.alg, "ES256");
  const registered = JSON.parse(step(revealed, "registration").response.body);
  const haapi = step(revealed, "haapi-token");
  assert.match(haapi.request.headers.dpop, /^ey[^.]+\.ey[^.]+\.[A-Za-z0-9_-]{86}$/, "an unredacted ES256 proof");
  assert.equal(JSON.parse(haapi.response.body).token_type, "DPoP");
  const exchange = step(revealed, "code-exchange");
  assert.equal(exchange.response.status, 200);
  assert.equal(JSON.parse(exchange.response.body).token_type, "DPoP");

  const held = await device(session);
  assert.equal(held.storage, "indexeddb");
  assert.equal(held.dpop.keyStore, "wasm");
  assert.equal(held.client.clientId, registered.client_id);
  await session.checkClean();
});

test("Firefox: client_secret_basic with a non-extractable WebCrypto DPoP key, kept in IndexedDB across a reload", async (t) => {
  const session = await openFirefox(t, "client_secret_basic-webcrypto");
  const doc = defaultDocument((d) => {
    d.credential = { ...d.credential, method: "client_secret_basic", secret: "Password1", alg: null };
    d.dpop = { ...d.dpop, keyStore: "webcrypto" };
  });
  await session.navigate(linkFor(doc));
  await runToTheEnd(session);

  const first = await trace(session, true);
  assertRun(first, FALLBACK);
  assert.equal(step(first, "dcr-token").request.headers.authorization, `Basic ${Buffer.from("haapi-android-client:Password1").toString("base64")}`);
  const held = await device(session);
  assert.equal(held.storage, "indexeddb");
  assert.equal(held.dpop.keyStore, "webcrypto");
  const proof = step(first, "haapi-token").jwts.find((j) => j.at === "request.headers.dpop");
  assert.deepEqual(proof.header.jwk, held.dpop.publicJwk, "the proof is signed by the device's WebCrypto key");

  // The same link in a new document: the dynamic client (AES-GCM ciphertext under a
  // non-extractable key) and the non-extractable DPoP key come back from IndexedDB (CryptoKey
  // objects survive structured cloning in Firefox too), so F1-F3 are skipped and the proofs
  // carry the same public key.
  await session.refresh();
  await runToTheEnd(session);
  const second = await trace(session, true);
  assertRun(second, REUSED);
  const again = await device(session);
  assert.equal(again.client.clientId, held.client.clientId, "the same dynamic client");
  const proof2 = step(second, "haapi-token").jwts.find((j) => j.at === "request.headers.dpop");
  assert.deepEqual(proof2.header.jwk, held.dpop.publicJwk, "the same DPoP key after the reload");
  await session.checkClean();
});
