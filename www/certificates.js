// The mutual-TLS certificate as a browser needs it (README, "The local server": mutual TLS from
// the page): a PKCS#12 download of the configuration's certificate chain and key, made by the
// tools module (pkg/tools/, loaded here on first use), and a client certificate from the local
// server's CA (POST /local-ca/client-certificate: the server certifies a public key, the private
// key never leaves the page).
//
// The PKCS#12 password is never part of the document, so never of the link, the trace or a log:
// it is read from its own field (not a configuration field), or generated and shown once.

import { TEXT } from "./strings.js";

let tools = null;

/** The tools module (an ES module loads once per URL; initialising it again is a no-op). */
async function loadTools() {
  if (!tools) {
    tools = import("../pkg/tools/haapi_lab_tools.js").then(async (mod) => {
      await mod.default();
      return mod;
    }).catch((e) => {
      tools = null;
      throw Object.assign(new Error(`the tools module could not be loaded: ${e?.message ?? e} (build it with bash scripts/build-pkg.sh)`), { code: "MODULE_UNAVAILABLE" });
    });
  }
  return tools;
}

/** A password of 96 random bits, base64url (16 characters). */
function generatePassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** A file name for `name`: letters, digits, dot, dash and underscore only. */
function fileName(name) {
  return `${(name || "client").replace(/[^A-Za-z0-9._-]+/g, "_")}.p12`;
}

/** Offers `bytes` as a download named `name` (a blob URL, revoked once the click is handled). */
function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/x-pkcs12" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * A PKCS#12 file of `certificate` (PEM chain) and `privateKey`, protected by `password` (or a
 * generated one): resolves to `{ fileName, generatedPassword }` after offering the download.
 * Throws the tools module's errors (`code`: INVALID_ARGUMENT, CRYPTO_ERROR) or MODULE_UNAVAILABLE.
 */
export async function downloadPkcs12({ certificate, privateKey, password, name }) {
  if (!certificate || !privateKey) {
    throw Object.assign(new Error(TEXT.p12NeedsCertificate), { code: "INVALID_ARGUMENT" });
  }
  const mod = await loadTools();
  const generated = password ? null : generatePassword();
  const bytes = mod.exportPkcs12(certificate, privateKey, password || generated, name || "haapi-lab client");
  const file = fileName(name);
  download(bytes, file);
  return { fileName: file, generatedPassword: generated };
}

/**
 * Asks the local server at `serverOrigin` for a client certificate for a new P-256 key with
 * subject CN=`commonName`: `{ certificate (chain PEM, leaf first), privateKey (PKCS#8 PEM) }`.
 * Errors: LOCAL_CA_UNAVAILABLE (no answer: not the local server, or not started with
 * --mtls-port), LOCAL_CA_REFUSED (the server's error_description), MODULE_UNAVAILABLE.
 */
export async function certificateFromLocalCa(serverOrigin, commonName) {
  const mod = await loadTools();
  const key = JSON.parse(mod.makeKey("ES256"));
  const url = `${serverOrigin}/local-ca/client-certificate`;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ publicKeyPem: key.publicKeyPem, commonName }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw Object.assign(new Error(TEXT.localCaUnavailable(url, e?.message ?? String(e))), { code: "LOCAL_CA_UNAVAILABLE", url });
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: said below
  }
  if (response.status === 404 || (response.ok && typeof body?.chainPem !== "string")) {
    throw Object.assign(new Error(TEXT.localCaUnavailable(url, `HTTP ${response.status}`)), { code: "LOCAL_CA_UNAVAILABLE", url, status: response.status });
  }
  if (!response.ok) {
    throw Object.assign(new Error(body?.error_description ?? `HTTP ${response.status}`), { code: "LOCAL_CA_REFUSED", url, status: response.status, error: body?.error ?? null });
  }
  return { certificate: body.chainPem, privateKey: key.pkcs8Pem };
}
