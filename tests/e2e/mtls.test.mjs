// The page in `http` mode over mutual TLS against the lab's own server (README, "The local
// server"): the server runs with a data directory, a mutual-TLS port and --mtls-main-client (the
// main client uses tls_client_auth, trusting the local CA). The page asks the local CA for a
// certificate, downloads it as PKCS#12, and a browser context that holds that file (Playwright's
// clientCertificates: what importing it into a browser does) runs the whole flow to tokens; a
// context without it gets the server's 401 invalid_client, shown as the typed error.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FIRST_RUN, configFor, labUrl, openPage, screenshot, setup, startLabServer, traceSummary, waitForFlowState, waitForReady } from "./helpers.mjs";

let env;
let real;
let dataDir;
before(async () => {
  env = await setup();
  dataDir = await mkdtemp(join(tmpdir(), "haapi-lab-e2e-mtls-"));
  real = await startLabServer({ args: ["--data-dir", dataDir, "--mtls-port", "0", "--mtls-main-client"] });
  assert.ok(real.mtls, `the server announced its mutual-TLS port: ${real.output()}`);
});
after(async () => {
  await real?.close();
  await env?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const PASSWORD = "p12-Passw0rd-for-the-test";
/**
 * http mode: the server's own issuer, no sendVia. Its discovery names the mutual-TLS port's token
 * endpoint in mtls_endpoint_aliases, and the client sends its certificate request there (RFC 8705
 * §5); every other request goes to the plain port. (The self_signed test below sends every request
 * to the mutual-TLS port with sendVia instead.)
 */
const mtlsConfig = (credential = {}) => configFor("tls_client_auth", { server: { mode: "http", issuer: real.issuer }, credential });

/** Clicks Download as PKCS#12 and resolves to the downloaded file's name and bytes. */
async function downloadP12(page) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#btn-download-p12").click()]);
  return { name: download.suggestedFilename(), pfx: await readFile(await download.path()) };
}

/** A page that got its certificate from the local CA and downloaded it: the configuration and the file. */
async function certificateFromThePage(t) {
  // The local CA trusted (README: trust DATA_DIR/ca.pem), as the page calls its HTTPS port.
  const page = await openPage(env, t, { contextOptions: { ignoreHTTPSErrors: true } });
  await page.goto(labUrl(env.server, mtlsConfig()));
  await waitForReady(page);
  // Without a certificate, http mode says a real server needs one it trusts.
  await page.locator("#config-summary", { hasText: "a real server only accepts a certificate it trusts" }).waitFor();
  const ask = page.locator("#btn-local-ca-cert");
  assert.ok(await ask.isVisible(), "tls_client_auth in http mode offers the local CA");
  await ask.click();
  await page.waitForFunction(() => !/Asking/.test(document.querySelector("#credential-status").textContent));
  assert.match(await page.locator("#credential-status").textContent(), /issued a client certificate for CN=haapi-android-client/);
  await page.locator("#p12-password").fill(PASSWORD);
  const file = await downloadP12(page);
  assert.equal(file.name, "haapi-android-client.p12");
  assert.match(await page.locator("#p12-status").textContent(), /Downloaded haapi-android-client\.p12/);
  assert.equal(await page.locator("#p12-password").inputValue(), "", "the typed password is cleared");
  const config = await page.evaluate(() => window.haapiLab.config());
  // The password is in no link, configuration or trace.
  assert.ok(!page.url().includes(PASSWORD) && !JSON.stringify(config).includes(PASSWORD));
  assert.ok(!JSON.stringify(await page.evaluate(() => window.haapiLab.trace({ reveal: true }))).includes(PASSWORD));
  assert.match(config.credential.certificate, /BEGIN CERTIFICATE/);
  await screenshot(page, "mtls-certificate-downloaded", { fullPage: false });
  await page.checkClean({ allowForeign: [real.origin, real.mtls] });
  return { config, pfx: file.pfx, page };
}

test("a certificate from the local CA, downloaded as PKCS#12 and held by the browser, logs in over mutual TLS to tokens", async (t) => {
  const { config, pfx } = await certificateFromThePage(t);
  // Node (OpenSSL) reads the file with the password, and refuses another.
  assert.doesNotThrow(() => createSecureContext({ pfx, passphrase: PASSWORD }));
  assert.throws(() => createSecureContext({ pfx, passphrase: "wrong" }), /mac verify/i);

  const page = await openPage(env, t, {
    contextOptions: { clientCertificates: [{ origin: real.mtls, pfx, passphrase: PASSWORD }], ignoreHTTPSErrors: true },
  });
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded", JSON.stringify((await page.evaluate(() => window.haapiLab.trace())).steps.map((s) => s.error)));
  assert.deepEqual(await traceSummary(page), FIRST_RUN);
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const f1 = trace.steps.find((s) => s.name === "dcr-token");
  assert.ok(f1.request.url.startsWith(`${real.mtls}/`), `F1 went to the mutual-TLS alias: ${f1.request.url}`);
  const f4 = trace.steps.find((s) => s.name === "haapi-token");
  assert.ok(f4.request.url.startsWith(`${real.origin}/`), `the dynamic client's request went to the plain port: ${f4.request.url}`);
  assert.match(f1.request.clientCertificate ?? "", /BEGIN CERTIFICATE/);
  assert.equal(f1.response.status, 200);
  const exchange = trace.steps.find((s) => s.name === "code-exchange");
  assert.equal(exchange.jwts.find((j) => j.at === "response.body.access_token")?.claims.sub, "demo");
  await screenshot(page, "mtls-run-succeeded", { fullPage: false });
  // The browser logs the 400 use_dpop_nonce answer of the DPoP nonce handshake (RFC 9449 §8).
  await page.checkClean({ allowConsole: [/status of 400 \(Bad Request\)/], allowForeign: [real.origin, real.mtls] });
});

test("without the client certificate the server answers 401 invalid_client, shown as the typed error", async (t) => {
  const { config } = await certificateFromThePage(t);
  const page = await openPage(env, t, { contextOptions: { ignoreHTTPSErrors: true } });
  await page.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  const trace = await page.evaluate(() => window.haapiLab.trace());
  const f1 = trace.steps.at(-1);
  assert.equal(f1.name, "dcr-token");
  assert.equal(f1.error.code, "OAUTH_SERVER_ERROR");
  assert.equal(f1.error.status, 401);
  assert.equal(f1.error.error, "invalid_client");
  assert.match(f1.error.errorDescription, /no client certificate presented/);
  const shown = await page.locator("#run-error").textContent();
  assert.match(shown, /OAUTH_SERVER_ERROR/);
  assert.match(shown, /invalid_client/);
  await screenshot(page, "mtls-no-certificate", { fullPage: false });
  await page.checkClean({ allowConsole: [/401|Failed to load resource/], allowForeign: [real.origin, real.mtls] });
});

test("an empty password field: a password is generated, shown once, and opens the file", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("self_signed_tls_client_auth")));
  await waitForReady(page);
  // Nothing to export yet: said, nothing downloaded.
  await page.locator("#btn-download-p12").click();
  await page.locator("#p12-status", { hasText: "INVALID_ARGUMENT: There is no certificate to export" }).waitFor();
  assert.ok(await page.locator("#btn-local-ca-cert").isHidden(), "the local CA is offered for tls_client_auth in http mode only");
  await page.locator("#btn-generate-cert").click();
  await page.locator("#credential-status", { hasText: "self-signed client certificate" }).waitFor();
  const file = await downloadP12(page);
  const status = await page.locator("#p12-status").textContent();
  const password = /shown this once \(it is not kept anywhere\): (\S+)$/.exec(status)?.[1];
  assert.ok(password && password.length >= 16, status);
  assert.doesNotThrow(() => createSecureContext({ pfx: file.pfx, passphrase: password }));
  const config = await page.evaluate(() => window.haapiLab.config());
  assert.ok(!page.url().includes(password) && !JSON.stringify(config).includes(password));
  await page.checkClean();
});

test("self_signed_tls_client_auth: the page's self-signed certificate, pinned in the server's settings, logs in over mutual TLS", async (t) => {
  const page = await openPage(env, t);
  await page.goto(labUrl(env.server, configFor("self_signed_tls_client_auth")));
  await waitForReady(page);
  await page.locator("#btn-generate-cert").click();
  await page.locator("#credential-status", { hasText: "SPKI pin" }).waitFor();
  const pin = /SPKI pin (\S+)\.$/.exec(await page.locator("#credential-status").textContent())?.[1];
  assert.ok(pin, "the page shows the certificate's pin");
  await page.locator("#p12-password").fill(PASSWORD);
  const { pfx } = await downloadP12(page);
  const { credential } = await page.evaluate(() => window.haapiLab.config());

  // A server whose main client pins that key (the "registration" of RFC 8705 §2.2).
  const pinned = await startLabServer({
    args: ["--data-dir", join(dataDir, "pinned"), "--mtls-port", "0"],
    settingsDir: dataDir,
    settings: (origin) => ({ issuer: `${origin}/oauth/v2/oauth-anonymous`, mainClient: { authentication: { method: "self_signed_tls_client_auth", pinnedSpki: [pin] } } }),
  });
  t.after(() => pinned.close());
  const config = configFor("self_signed_tls_client_auth", { server: { mode: "http", issuer: pinned.issuer, sendVia: pinned.mtls }, credential });
  const run = await openPage(env, t, {
    contextOptions: { clientCertificates: [{ origin: pinned.mtls, pfx, passphrase: PASSWORD }], ignoreHTTPSErrors: true },
  });
  await run.goto(labUrl(env.server, config, { run: true }));
  assert.equal(await waitForFlowState(run), "succeeded", JSON.stringify((await run.evaluate(() => window.haapiLab.trace())).steps.map((s) => s.error)));
  assert.deepEqual(await traceSummary(run), FIRST_RUN);
  await run.checkClean({ allowConsole: [/status of 400 \(Bad Request\)/], allowForeign: [pinned.origin, pinned.mtls] });
});
