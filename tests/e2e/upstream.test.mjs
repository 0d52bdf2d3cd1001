// The page in `http` mode through the local server's same-origin proxy (`--upstream`): the page
// is served by one instance (the proxy), whose `server.sendVia` it uses, and the "real Curity" is
// a second instance that allows no other origin (CORS), so a request that bypassed the proxy
// would be blocked. DPoP `htu` names the upstream, which checks it against its own origin.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FIRST_RUN, REUSED_RUN, configFor, freePort, labUrl, openPage, screenshot, setup, startLabServer, traceSummary, waitForFlowState } from "./helpers.mjs";

let base;
let upstream;
let proxy;
let env;
before(async () => {
  base = await setup();
  upstream = await startLabServer({ allowOrigin: null, log: true });
  proxy = await startLabServer({ allowOrigin: null, log: true, args: ["--upstream", upstream.origin] });
  // The page comes from the proxy instance: requests to any other origin are reported.
  env = { ...base, server: proxy };
});
after(async () => {
  await proxy?.close();
  await upstream?.close();
  await base?.close();
});

const viaProxy = () => configFor("client_secret_basic", { server: { mode: "http", issuer: upstream.issuer, sendVia: proxy.origin } });

test("a whole run through --upstream: requests to the proxy, htu naming the upstream, accepted there", async (t) => {
  const page = await openPage(env, t);
  const before = { proxy: proxy.lines().length, upstream: upstream.lines().length };
  await page.goto(labUrl(proxy, viaProxy(), { run: true }));
  assert.equal(await waitForFlowState(page), "succeeded", await page.locator("#run-error").textContent());
  assert.deepEqual(await traceSummary(page), FIRST_RUN);

  const trace = await page.evaluate(() => window.haapiLab.trace());
  const sent = trace.steps.filter((s) => s.request);
  assert.ok(sent.length >= 10, `${sent.length} requests`);
  for (const step of sent) {
    assert.ok(step.request.url.startsWith(`${proxy.origin}/`), `${step.name} went to ${step.request.url}`);
  }
  const proofs = trace.steps.flatMap((s) => (s.jwts ?? []).filter((j) => j.at === "request.headers.dpop").map((j) => [s, j]));
  assert.ok(proofs.length >= 4, `${proofs.length} DPoP proofs`);
  for (const [step, jwt] of proofs) {
    const path = new URL(step.request.url).pathname;
    assert.equal(jwt.claims.htu, `${upstream.origin}${path}`, step.name);
  }

  // The proxy passed each API request on; the upstream answered the same paths with the same
  // statuses. (Each server writes its line before it answers; the pipes may still be carrying them.)
  // Every request of the run: each step's, and each retry's (a DPoP nonce challenge).
  const retries = trace.steps.flatMap((s) => s.retries ?? []);
  const requests = sent.length + retries.length;
  const logged = async () => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((ok) => setTimeout(ok, 50))) {
      const p = proxy.lines().slice(before.proxy).filter((l) => l.upstream);
      const u = upstream.lines().slice(before.upstream);
      if (p.length >= requests && u.length >= requests) return [p, u];
    }
    return [proxy.lines().slice(before.proxy).filter((l) => l.upstream), upstream.lines().slice(before.upstream)];
  };
  const [proxied, answered] = await logged();
  assert.equal(proxied.length, requests, JSON.stringify(proxied.map((l) => l.path)));
  assert.deepEqual(proxied.map((l) => [l.path, l.status]), answered.map((l) => [l.path, l.status]));
  for (const l of proxied) assert.equal(l.upstream, `${upstream.origin}${l.path}`);
  assert.ok(proxied.some((l) => l.path === "/oauth/v2/oauth-token" && l.client_id === "haapi-android-client" && l.status === 200));
  assert.ok(proxied.some((l) => l.path === "/token-service/oauth-registration" && l.status === 201));
  assert.ok(proxied.some((l) => l.path.startsWith("/authn/")), JSON.stringify(proxied.map((l) => l.path)));
  assert.ok(!proxy.output().includes("Password1"), "a secret in the proxy's log");
  // The only refusals were the upstream's DPoP nonce challenges (400 use_dpop_nonce), each
  // answered by one retry with the nonce the proxy passed back.
  assert.ok(retries.length >= 1 && retries.every((r) => r.response.status === 400 && /nonce/i.test(r.reason)), JSON.stringify(retries.map((r) => r.reason)));
  assert.equal(proxied.filter((l) => l.status === 400).length, retries.length);
  assert.equal(proxied.filter((l) => l.status >= 400 && l.status !== 400).length, 0);
  await screenshot(page, "upstream-run", { fullPage: false });

  // The device kept its client: the next run reuses it, still through the proxy.
  await page.reload();
  assert.equal(await waitForFlowState(page), "succeeded");
  assert.deepEqual(await traceSummary(page), REUSED_RUN);
  await page.checkClean({ allowConsole: [/status of 400 \(Bad Request\)/] });
});

test("without sendVia the page meets the upstream's CORS, which the proxy made unnecessary", async (t) => {
  const page = await openPage(env, t);
  const direct = configFor("client_secret_basic", { server: { mode: "http", issuer: upstream.issuer } });
  await page.goto(labUrl(proxy, direct, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  const text = await page.locator("#run-error").textContent();
  // The upstream allows no other origin, not even for discovery: without the proxy nothing is read.
  assert.match(text, /CORS_BLOCKED/);
  await page.checkClean({ allowConsole: [/CORS|Failed to load resource|Access-Control/i], allowForeign: [upstream.origin] });
});

test("an upstream that is down: the proxy's 502 reaches the page as SERVER_UNAVAILABLE with what failed", async (t) => {
  const port = await freePort();
  const dead = `http://127.0.0.1:${port}`;
  const lonely = await startLabServer({ allowOrigin: null, ready: "/healthz", args: ["--upstream", dead] });
  t.after(() => lonely.close());
  const page = await openPage({ ...env, server: lonely }, t);
  const config = configFor("client_secret_basic", { server: { mode: "http", issuer: `${dead}/oauth/v2/oauth-anonymous`, sendVia: lonely.origin } });
  await page.goto(labUrl(lonely, config, { run: true }));
  assert.equal(await waitForFlowState(page), "failed");
  assert.deepEqual(await traceSummary(page), [["discovery", "failed"]]);
  const text = await page.locator("#run-error").textContent();
  assert.match(text, /SERVER_UNAVAILABLE/);
  assert.match(text, /HTTP 502 \(upstream_unreachable\)/);
  await page.checkClean({ allowConsole: [/502|Failed to load resource/] });
});
