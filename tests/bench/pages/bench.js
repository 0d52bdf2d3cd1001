// The browser half of the benchmark, in one page (tests/bench/pages/bench.html): figures, never
// pass/fail.
//
//   - "proofs": full ES256 DPoP proofs (header + claims JSON, base64url, sign, compact JWS) made by
//     the module's DpopProver with its "wasm" and "webcrypto" key stores, by hand-written JS on
//     WebCrypto (the floor), and by panva's jose SignJWT on a WebCrypto key (the peer); plus raw
//     ES256 signatures with WebCrypto (no JWS) for reference;
//   - "stubbed-*" (in the same rounds): the same contenders with crypto.subtle.sign replaced, for
//     their batches only, by a stub that returns a fixed signature at once: what each costs
//     besides the signature itself (JSON, base64url, JS <-> wasm boundary, promises). Diagnostic
//     only: reported apart from the figures above;
//   - "runs": whole runs against the in-page simulator, a new Lab each time (registers: F1-F4) and
//     a second run reusing the stored client (F4 onwards), for both key stores: up to authorize
//     (the fallback alone), and to tokens (the HAAPI login with authentication.inputs demo /
//     Password1: authorize, four authenticate steps, the code exchange).
//
// Measuring: every contender of a group is set up and checked first (a proof that does not verify,
// or a run that does not succeed, is never timed); then warmed up for about `warmUpMs`, which also
// estimates one operation's cost; then `batches` rounds, each running one batch of about `batchMs`
// per contender, in an order rotated every round (interleaved, so drift hits all alike). Operations
// run one after another (each awaited), as a client makes them. The figure is the median batch's
// time per operation. Timed with performance.now() (coarsened by the browser to 100 us at most,
// negligible against ~300 ms batches).
//
// Headless: tests/bench/run.mjs (bash scripts/bench.sh --browser) calls window.haapiBench.run().
// By hand: `node tests/bench/serve.mjs` (it serves the repository root, node_modules/jose
// included) and open /tests/bench/pages/bench.html at the origin it prints.
//
// The client module is imported from /pkg/; Lab.create with the simulator loads the simulator
// module itself (src/js/modules.js), as a worker or a page opened in http mode does. The module
// the lab page loads in simulator mode, the client with the light simulator compiled in
// (/pkg/haapi_lab_with_sim.js, its crypto crates at opt-level 3), is measured beside it: its
// "wasm" key store and its runs to tokens (contenders "... with-sim"), when it is built.

import init, { DpopProver, Lab, defaultConfig } from "/pkg/haapi_lab.js";

/**
 * The client module with the light simulator, or null when this build has none (an older one:
 * the runner then opens this page with `?withSim=0`).
 */
const withSimReady =
  new URLSearchParams(location.search).get("withSim") === "0"
    ? Promise.resolve(null)
    : import("/pkg/haapi_lab_with_sim.js").then(async (m) => {
        await m.default();
        return m;
      });

const HTM = "POST";
const HTU = "https://localhost:8443/oauth/v2/oauth-token";
const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" };
const ECDSA_SIGN = { name: "ECDSA", hash: "SHA-256" };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const DEFAULTS = Object.freeze({ warmUpMs: 500, batchMs: 300, batches: 7 });

// ---------------------------------------------------------------- base64url, proofs by hand

const HAS_TO_BASE64 = typeof Uint8Array.prototype.toBase64 === "function";

/** base64url without padding (RFC 7515 §2). Uses Uint8Array.prototype.toBase64 where it exists. */
function b64u(bytes) {
  if (HAS_TO_BASE64) return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function b64uDecode(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text, { alphabet: "base64url" });
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** A `jti` like the module's: 16 random bytes, base64url. */
function jti() {
  return b64u(crypto.getRandomValues(new Uint8Array(16)));
}

/** `htu`: the URL without query and fragment (RFC 9449 §4.2). */
function htu(url) {
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

/** A non-extractable P-256 key pair and its public JWK, as the "webcrypto" key store makes them. */
async function webCryptoKey() {
  const pair = await crypto.subtle.generateKey(ECDSA_KEY, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

/** The floor: a DPoP proof written by hand on WebCrypto, the same header and claims as the others. */
async function directProof(privateKey, jwk, method, url) {
  const header = b64u(encoder.encode(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk })));
  const claims = b64u(encoder.encode(JSON.stringify({ jti: jti(), htm: method, htu: htu(url), iat: Math.floor(Date.now() / 1000) })));
  const input = `${header}.${claims}`;
  const signature = new Uint8Array(await crypto.subtle.sign(ECDSA_SIGN, privateKey, encoder.encode(input)));
  return `${input}.${b64u(signature)}`;
}

/**
 * Checks a proof before anything is timed: three parts, RFC 9449 header and claims, the expected
 * public key, a fresh jti, and an ES256 signature that verifies with that key.
 */
async function checkProof(jws, jwk, seenJtis) {
  const parts = jws.split(".");
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${jws}`);
  const header = JSON.parse(decoder.decode(b64uDecode(parts[0])));
  const claims = JSON.parse(decoder.decode(b64uDecode(parts[1])));
  const problems = [];
  if (header.typ !== "dpop+jwt") problems.push(`typ ${header.typ}`);
  if (header.alg !== "ES256") problems.push(`alg ${header.alg}`);
  for (const k of ["kty", "crv", "x", "y"]) if (header.jwk?.[k] !== jwk[k]) problems.push(`jwk.${k}`);
  if (header.jwk && "d" in header.jwk) problems.push("jwk has a private part");
  if (claims.htm !== HTM) problems.push(`htm ${claims.htm}`);
  if (claims.htu !== HTU) problems.push(`htu ${claims.htu}`);
  if (!Number.isInteger(claims.iat) || Math.abs(claims.iat - Date.now() / 1000) > 300) problems.push(`iat ${claims.iat}`);
  if (typeof claims.jti !== "string" || claims.jti.length < 16 || seenJtis.has(claims.jti)) problems.push(`jti ${claims.jti}`);
  seenJtis.add(claims.jti);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, ECDSA_KEY, false, ["verify"]);
  const ok = await crypto.subtle.verify(ECDSA_SIGN, publicKey, b64uDecode(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`));
  if (!ok) problems.push("the signature does not verify");
  if (problems.length) throw new Error(`bad DPoP proof (${problems.join(", ")}): ${jws}`);
  return { bytes: jws.length, headerKeys: Object.keys(header), claimKeys: Object.keys(claims) };
}

// ---------------------------------------------------------------- the contenders

let josePromise = null;
/** panva's jose: its browser build (dist/webapi, plain ES modules), an npm devDependency. */
function loadJose() {
  josePromise ??= import("/node_modules/jose/dist/webapi/jwt/sign.js").catch((e) => {
    josePromise = null;
    throw new Error(`jose is not in node_modules/jose/ (run 'npm ci'): ${e.message}`);
  });
  return josePromise;
}

async function proofContenders() {
  const { SignJWT } = await loadJose();
  const wasmProver = await DpopProver.create("wasm");
  const webcryptoProver = await DpopProver.create("webcrypto");
  const direct = await webCryptoKey();
  const peer = await webCryptoKey();
  const raw = await webCryptoKey();
  // A signing input of a proof's length, for raw signatures.
  const sample = await directProof(raw.privateKey, raw.jwk, HTM, HTU);
  const rawInput = encoder.encode(sample.slice(0, sample.lastIndexOf(".")));
  const withSim = await withSimReady;
  const withSimProver = withSim ? await withSim.DpopProver.create("wasm") : null;
  return [
    { id: "proof-wasm", label: 'DpopProver "wasm" key store', jwk: wasmProver.publicJwk(), op: () => wasmProver.proof(HTM, HTU) },
    ...(withSimProver
      ? [{ id: "proof-wasm-with-sim", label: 'DpopProver "wasm" key store, client + light simulator module', jwk: withSimProver.publicJwk(), op: () => withSimProver.proof(HTM, HTU) }]
      : []),
    { id: "proof-webcrypto", label: 'DpopProver "webcrypto" key store', jwk: webcryptoProver.publicJwk(), op: () => webcryptoProver.proof(HTM, HTU) },
    { id: "proof-direct", label: "direct WebCrypto (hand-written JS)", jwk: direct.jwk, op: () => directProof(direct.privateKey, direct.jwk, HTM, HTU) },
    {
      id: "proof-jose",
      label: "jose SignJWT (WebCrypto key)",
      jwk: peer.jwk,
      op: () =>
        new SignJWT({ jti: jti(), htm: HTM, htu: htu(HTU), iat: Math.floor(Date.now() / 1000) })
          .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: peer.jwk })
          .sign(peer.privateKey),
    },
    { id: "sign-raw", label: "raw ES256 signature, WebCrypto (no JWS)", raw: true, op: async () => new Uint8Array(await crypto.subtle.sign(ECDSA_SIGN, raw.privateKey, rawInput)) },
  ];
}

/** Checks every proof contender twice (two verifying proofs with distinct jtis) and the raw signer. */
async function checkProofContenders(contenders) {
  const seen = new Set();
  const out = {};
  for (const c of contenders) {
    if (c.raw) {
      const sig = await c.op();
      if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new Error(`${c.id}: not a 64-byte ES256 signature`);
      out[c.id] = { bytes: sig.length };
      continue;
    }
    out[c.id] = await checkProof(await c.op(), c.jwk, seen);
    await checkProof(await c.op(), c.jwk, seen);
  }
  return out;
}

/** Replaces crypto.subtle.sign with a stub that answers a fixed 64-byte signature at once. */
function stubSign() {
  const subtle = crypto.subtle;
  const fixed = new Uint8Array(64).fill(7);
  if (Object.prototype.hasOwnProperty.call(subtle, "sign")) throw new Error("crypto.subtle.sign is already replaced");
  subtle.sign = function stubbedSign(algorithm, key, data) {
    if (!(key instanceof CryptoKey) || data.byteLength === undefined) return Promise.reject(new TypeError("bad arguments"));
    return Promise.resolve(fixed.slice().buffer);
  };
  return () => {
    delete subtle.sign;
    if (subtle.sign !== SubtleCrypto.prototype.sign) throw new Error("crypto.subtle.sign was not restored");
  };
}

/** The simulator's demo user (its documented default), typed into the login form by the run. */
const DEMO_INPUTS = Object.freeze({ userName: "demo", password: "Password1" });

/**
 * The default document with `keyStore`: stopping after authorize (`to: "authorize"`, the fallback
 * alone), or logging in as the demo user to tokens (`to: "tokens"`).
 */
function labConfig(keyStore, to) {
  const config = defaultConfig();
  config.dpop = { ...(config.dpop ?? {}), alg: "ES256", keyStore };
  if (to === "authorize") {
    config.stopAfter = "authorize";
  } else {
    config.stopAfter = null;
    config.authentication = { ...(config.authentication ?? {}), inputs: { ...DEMO_INPUTS }, codeExchange: true };
  }
  return config;
}

/** Adds each step's own duration (the trace's durationMs) to `parts`, as "step <name>". */
function addSteps(result, parts) {
  for (const step of result.trace?.steps ?? []) {
    if (typeof step.durationMs === "number") parts[`step ${step.name}`] = (parts[`step ${step.name}`] ?? 0) + step.durationMs;
  }
}

/** The steps of a login to tokens after the HAAPI token: authorize, four authenticate, the code exchange. */
const LOGIN_STEPS = ["authorize", "authenticate", "authenticate", "authenticate", "authenticate", "code-exchange"];

/** A run did what it should: up to authorize, or logged in as the demo user with tokens. Cheap (timed). */
function checkRun(result, { reused, to }) {
  const o = result?.outcome;
  const ok =
    result?.state === "succeeded" &&
    o &&
    o.dynamicClientId &&
    o.haapiToken &&
    o.reusedStoredClient === reused &&
    (to === "authorize"
      ? o.lastStep === "authorize"
      : o.lastStep === "code-exchange" && o.subject === "demo" && o.tokens?.accessToken && o.tokens.idToken && o.tokens.refreshToken);
  if (!ok) throw new Error(`the run did not do what it should (reused=${reused}, to ${to}): ${JSON.stringify({ state: result?.state, outcome: o, error: result?.error })}`);
}

/**
 * Untimed, once per contender before timing: a login run's steps are the login's (every one ok),
 * and its access token is bound (cnf.jkt) to the device's DPoP key.
 */
function checkLogin(lab, result) {
  const steps = result.trace.steps.map((s) => s.name);
  const tail = steps.slice(steps.indexOf("authorize"));
  if (JSON.stringify(tail) !== JSON.stringify(LOGIN_STEPS) || result.trace.steps.some((s) => s.status === "failed")) {
    throw new Error(`the login's steps are not ${LOGIN_STEPS.join(", ")}: ${result.trace.steps.map((s) => `${s.name}:${s.status}`).join(", ")}`);
  }
  const claims = JSON.parse(decoder.decode(b64uDecode(result.outcome.tokens.accessToken.split(".")[1])));
  const thumbprint = lab.device().dpop.thumbprint;
  if (!thumbprint || claims.cnf?.jkt !== thumbprint) throw new Error(`the access token's cnf.jkt ${claims.cnf?.jkt} is not the device key's thumbprint ${thumbprint}`);
}

async function runContenders() {
  const out = [];
  for (const to of ["authorize", "tokens"]) {
    for (const keyStore of ["wasm", "webcrypto"]) out.push(...runPair(keyStore, to, Lab));
  }
  // The page's module in simulator mode: the simulator in the same module, no JSON between two.
  const withSim = await withSimReady;
  if (withSim) {
    for (const keyStore of ["wasm", "webcrypto"]) out.push(...runPair(keyStore, "tokens", withSim.Lab, "-with-sim"));
  }
  return out;
}

/**
 * A new device (Lab.create + run) and a stored client reused (a second run), to `to`, with the
 * `Lab` of one module (`suffix` names it in the ids and labels).
 */
function runPair(keyStore, to, Lab, suffix = "") {
  const config = labConfig(keyStore, to);
  const kind = to === "authorize" ? "run" : "login";
  const what = to === "authorize" ? { fresh: "F1-F4 + authorize", reused: "F4 + authorize" } : { fresh: "F1-F4 + login to tokens", reused: "F4 + login to tokens" };
  const module = suffix ? ", client + light simulator module" : "";
  const fresh = {
    id: `${kind}-new-${keyStore}${suffix}`,
    to,
    label: `new Lab: create + run (${what.fresh}), ${keyStore}${module}`,
    // parts: Lab.create (keys, simulator, device) and lab.run (discovery .. authorize or tokens).
    op: async (_ctx, parts, check = false) => {
      const t0 = performance.now();
      const lab = await Lab.create(config, { storage: "memory" });
      const t1 = performance.now();
      const result = await lab.run();
      const t2 = performance.now();
      checkRun(result, { reused: false, to });
      if (check) checkLogin(lab, result);
      lab.free();
      parts.create = (parts.create ?? 0) + (t1 - t0);
      parts.run = (parts.run ?? 0) + (t2 - t1);
      addSteps(result, parts);
      return result.outcome.haapiToken;
    },
  };
  const reused = {
    id: `${kind}-reuse-${keyStore}${suffix}`,
    to,
    label: `same Lab, stored client reused (${what.reused}), ${keyStore}${module}`,
    // One Lab per batch; its first run (which registers) is not timed.
    prepare: async () => {
      const lab = await Lab.create(config, { storage: "memory" });
      checkRun(await lab.run(), { reused: false, to });
      return lab;
    },
    op: async (lab, parts, check = false) => {
      const result = await lab.run();
      checkRun(result, { reused: true, to });
      if (check) checkLogin(lab, result);
      addSteps(result, parts);
      return result.outcome.haapiToken;
    },
    finish: async (lab) => lab.free(),
  };
  return [fresh, reused];
}

// ---------------------------------------------------------------- measuring

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Runs `n` operations one after another; time per operation in ms, and the parts' ms per op. */
async function timeBatch(c, n) {
  const ctx = c.prepare ? await c.prepare() : undefined;
  const parts = {};
  let sink = 0;
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = await c.op(ctx, parts);
      sink += typeof r === "string" || r instanceof Uint8Array ? r.length : 1;
    }
    const ms = performance.now() - t0;
    if (sink === 0) throw new Error(`${c.id}: produced nothing`);
    return { msPerOp: ms / n, parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v / n])) };
  } finally {
    if (c.finish) await c.finish(ctx);
  }
}

/** Warms each contender up, sizes its batches, then measures them in interleaved rounds. */
async function measureGroup(name, contenders, settings, progress) {
  const { warmUpMs, batchMs, batches } = settings;
  for (const c of contenders) {
    progress(`${name}: warming up ${c.label}`);
    const ctx = c.prepare ? await c.prepare() : undefined;
    let n = 0;
    const t0 = performance.now();
    try {
      while (performance.now() - t0 < warmUpMs || n < 2) {
        await c.op(ctx, {});
        n++;
      }
    } finally {
      if (c.finish) await c.finish(ctx);
    }
    c.warmUpMsPerOp = (performance.now() - t0) / n;
    c.perBatch = Math.max(1, Math.round(batchMs / c.warmUpMsPerOp));
    c.samples = [];
    c.partSamples = {};
  }
  for (let b = 0; b < batches; b++) {
    progress(`${name}: round ${b + 1} of ${batches}`);
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + b) % contenders.length];
      await nextTask(); // let pending tasks (GC, timers) run outside the timed batch
      const { msPerOp, parts } = await timeBatch(c, c.perBatch);
      c.samples.push(msPerOp * 1000);
      for (const [k, v] of Object.entries(parts)) (c.partSamples[k] ??= []).push(v * 1000);
    }
  }
  return contenders.map((c) => {
    const medianUs = median(c.samples);
    return {
      id: c.id,
      label: c.label,
      medianUs,
      opsPerSec: 1e6 / medianUs,
      minUs: Math.min(...c.samples),
      maxUs: Math.max(...c.samples),
      batches: c.samples.length,
      perBatch: c.perBatch,
      samplesUs: c.samples,
      parts: Object.fromEntries(Object.entries(c.partSamples).map(([k, v]) => [k, median(v)])),
    };
  });
}

// ---------------------------------------------------------------- the run

let ready = null;

/** Everything, in one page and one browser: the result object the runner prints. */
async function run(options = {}) {
  await ready;
  const { progress = (text) => console.log(`bench: ${text}`), ...rest } = options;
  const settings = { ...DEFAULTS, ...rest };
  const started = performance.now();
  const out = {
    settings,
    env: {
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      uint8ArrayToBase64: HAS_TO_BASE64,
    },
    groups: {},
    checks: {},
  };

  const proofs = await proofContenders();
  out.checks.proofs = await checkProofContenders(proofs);
  // Diagnostic, in the same interleaved rounds: the same proofs with crypto.subtle.sign stubbed
  // out for the duration of their batches (installed before and removed after each, untimed).
  // The wasm key store signs in Rust (p256): the stub would not touch it. The raw signer becomes
  // the cost of one call that returns a resolved promise.
  const stubbed = (await proofContenders())
    .filter((c) => !c.id.startsWith("proof-wasm"))
    .map((c) => ({ ...c, id: `stubbed-${c.id}`, label: `${c.label}, sign stubbed`, prepare: async () => stubSign(), finish: async (restore) => restore() }));

  out.groups.proofs = await measureGroup("proofs", [...proofs, ...stubbed], settings, progress);

  const runs = await runContenders();
  for (const c of runs) {
    // Checked once each before timing (checkRun throws on anything but success).
    const ctx = c.prepare ? await c.prepare() : undefined;
    try {
      await c.op(ctx, {}, c.to === "tokens");
    } finally {
      if (c.finish) await c.finish(ctx);
    }
  }
  out.checks.runs =
    "every run succeeded: up to authorize, or to tokens for the demo user (authorize, 4 authenticate, code-exchange; cnf.jkt = the device key's thumbprint); new Labs registered, reused ones did not";
  out.groups.runs = await measureGroup("runs", runs, settings, progress);

  out.elapsedMs = performance.now() - started;
  return out;
}

// ---------------------------------------------------------------- the page

function render(result) {
  const root = document.getElementById("out");
  root.replaceChildren();
  const jose = result.groups.proofs.find((r) => r.id === "proof-jose");
  for (const [name, rows] of Object.entries(result.groups)) {
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const h of [name, "us/op", "ops/s", "vs jose", "min us", "max us", "batches"]) head.appendChild(Object.assign(document.createElement("th"), { textContent: h }));
    for (const r of rows) {
      const tr = table.insertRow();
      const ratio = name === "proofs" && jose ? `${(r.opsPerSec / jose.opsPerSec).toFixed(2)}x` : "";
      for (const v of [r.label, r.medianUs.toFixed(1), r.opsPerSec.toFixed(1), ratio, r.minUs.toFixed(1), r.maxUs.toFixed(1), `${r.batches}x${r.perBatch}`]) tr.insertCell().textContent = v;
    }
    root.appendChild(table);
  }
  root.appendChild(Object.assign(document.createElement("pre"), { textContent: JSON.stringify(result, null, 2) }));
}

ready = init();
// defaultConfig: the module's default document, from which the runner derives the http-mode link.
window.haapiBench = Object.freeze({ run, defaults: DEFAULTS, ready, defaultConfig: () => ready.then(() => defaultConfig()) });

const button = document.getElementById("run");
const status = document.getElementById("status");
ready.then(
  () => {
    button.disabled = false;
    status.textContent = "ready";
  },
  (e) => {
    status.textContent = `the module did not load: ${e.message}`;
  },
);
button.addEventListener("click", async () => {
  button.disabled = true;
  try {
    const result = await run({ progress: (text) => (status.textContent = text) });
    status.textContent = `done in ${(result.elapsedMs / 1000).toFixed(1)} s`;
    render(result);
  } catch (e) {
    status.textContent = `failed: ${e.message}`;
  } finally {
    button.disabled = false;
  }
});
