// Loads the other WebAssembly modules of haapi-lab on first use (imported by the client
// module, src/wasm/client/modules.rs; the one with the light simulator compiled in uses only the
// whole simulator and the tools from here):
//   pkg/sim-lite/haapi_lab_sim_lite.js  the simulated Curity, for server.mode "simulator"
//                                       (HS* and ES256, no X.509: most configurations);
//   pkg/sim/haapi_lab_sim.js      the whole simulated Curity (RSA, P-384, mutual TLS), when the
//                                 configuration needs it (PublicMaterial::full_simulator_reason);
//   pkg/tools/haapi_lab_tools.js  RSA and P-384 keys, certificates.
// This file is copied by wasm-bindgen to pkg/snippets/<crate>-<hash>/src/js/, so pkg/ is four
// levels up. A page may import the same URLs earlier (in parallel with its first paint): an ES
// module is loaded once per URL, and initialising it again is a no-op.

const loaded = new Map();

function pkgUrl(path) {
  return new URL(`../../../../${path}`, import.meta.url);
}

async function instantiate(url, wasmName) {
  const mod = await import(url.href);
  if (url.protocol === "file:") {
    // Node: no fetch of file URLs, so the bytes are read and handed over.
    const { readFile } = await import("node:fs/promises");
    await mod.default({ module_or_path: await readFile(new URL(wasmName, url)) });
  } else {
    await mod.default();
  }
  return mod;
}

function load(what, path, wasmName) {
  if (!loaded.has(what)) {
    const url = pkgUrl(path);
    const pending = instantiate(url, wasmName).catch((e) => {
      loaded.delete(what);
      throw Object.assign(new Error(`the ${what} module could not be loaded from ${url.href}: ${e?.message ?? e} (build it with bash scripts/build-pkg.sh)`), { code: "MODULE_UNAVAILABLE" });
    });
    loaded.set(what, pending);
  }
  return loaded.get(what);
}

const sim = () => load("simulator", "sim/haapi_lab_sim.js", "haapi_lab_sim_bg.wasm");
const simLite = () => load("light simulator", "sim-lite/haapi_lab_sim_lite.js", "haapi_lab_sim_lite_bg.wasm");
const tools = () => load("tools", "tools/haapi_lab_tools.js", "haapi_lab_tools_bg.wasm");

/** A SimServer of the whole or the light simulator module (see src/wasm/sim.rs). */
export async function openSim(config, material, seed, state, full) {
  return (await (full ? sim() : simLite())).SimServer.forLab(config, material, seed, state ?? undefined);
}

/** JSON text: the key in `text`, read by the tools module. */
export async function toolsReadKey(text, kid) {
  return (await tools()).readPrivateKey(text, kid ?? undefined);
}

/** JSON text: a new key for `alg`. */
export async function toolsGenerateKey(alg) {
  return (await tools()).makeKey(alg);
}

/** A JWS signature by the tools module. */
export async function toolsSign(alg, pkcs8Pem, bytes) {
  return (await tools()).signWith(alg, pkcs8Pem, bytes);
}

/** JSON text: a client certificate for a mutual-TLS method. */
export async function toolsIssueCertificates(method, clientId, nowSecs) {
  return (await tools()).issueCertificates(method, clientId, nowSecs);
}
