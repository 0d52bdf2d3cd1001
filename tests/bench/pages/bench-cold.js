// Cold load to the first signed DPoP proof with the module: load and instantiate it, make a key,
// sign one proof. Its counterpart is bench-cold-jose.js (same HTML shell, same server, same
// proof); tests/bench/run.mjs loads both in fresh browser contexts and reads window.__benchCold.
// Times are performance.now(): ms since the navigation started.

import init, { DpopProver } from "/pkg/haapi_lab.js";

const marks = { moduleStart: performance.now() }; // the module and its static imports are loaded
const store = new URLSearchParams(location.search).get("store") ?? "webcrypto";
try {
  await init();
  marks.ready = performance.now(); // wasm fetched, compiled and instantiated
  const prover = await DpopProver.create(store);
  marks.key = performance.now();
  const proof = await prover.proof("POST", "https://localhost:8443/oauth/v2/oauth-token");
  marks.proof = performance.now();
  window.__benchCold = { lib: "haapi-lab", store, marks, proof, jwk: prover.publicJwk() };
  document.getElementById("out").textContent = proof;
} catch (e) {
  window.__benchCold = { lib: "haapi-lab", store, marks, error: String(e?.message ?? e) };
}
