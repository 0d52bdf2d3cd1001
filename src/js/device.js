// Device storage and the WebCrypto key store, for the wasm module (imported by src/wasm.rs).
//
// The "device" is an IndexedDB database. Secrets (the dynamic client's secret, private keys, the
// in-page simulator's database) are stored only as AES-GCM ciphertext under a non-extractable
// AES key that lives in the same database: the browser can use that key, script cannot read it
// (like a mobile keystore). The DPoP key of the "webcrypto" key store is a non-extractable ECDSA
// key stored as a CryptoKey object. Where IndexedDB is missing (Node), a memory store is used.

const DB_VERSION = 1;
const STORE = "device";

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) throw new Error("WebCrypto (crypto.subtle) is not available: use a secure context (https or localhost)");
  return c.subtle;
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

class MemoryBackend {
  constructor() { this.map = new Map(); }
  async get(key) { return this.map.get(key); }
  async put(key, value) { this.map.set(key, value); }
  async delete(key) { this.map.delete(key); }
  async clear() { this.map.clear(); }
}

class IdbBackend {
  constructor(db) { this.db = db; }
  tx(mode) { return this.db.transaction(STORE, mode).objectStore(STORE); }
  get(key) { return request(this.tx("readonly").get(key)); }
  put(key, value) { return request(this.tx("readwrite").put(value, key)); }
  delete(key) { return request(this.tx("readwrite").delete(key)); }
  clear() { return request(this.tx("readwrite").clear()); }
}

/** Opens (or creates) the device called `name`; `kind` is "indexeddb" or "memory". */
export async function openDevice(name, kind) {
  let backend;
  if (kind === "memory" || typeof indexedDB === "undefined") {
    backend = new MemoryBackend();
  } else {
    const open = indexedDB.open(`haapi-lab:${name}`, DB_VERSION);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    backend = new IdbBackend(await request(open));
  }
  let wrap = await backend.get("wrap-key");
  if (!wrap) {
    wrap = await subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await backend.put("wrap-key", wrap);
  }
  return { backend, wrap, kind: backend instanceof IdbBackend ? "indexeddb" : "memory" };
}

/** Encrypts `text` and stores it under `key`. */
export async function putSecret(device, key, text) {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(text);
  const ciphertext = new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv }, device.wrap, data));
  await device.backend.put(key, { v: 1, iv, ciphertext });
}

/** The decrypted text under `key`, or null. */
export async function getSecret(device, key) {
  const rec = await device.backend.get(key);
  if (!rec) return null;
  const plain = await subtle().decrypt({ name: "AES-GCM", iv: rec.iv }, device.wrap, rec.ciphertext);
  return new TextDecoder().decode(plain);
}

/** Stores a plain (non-secret) value. */
export async function putPlain(device, key, value) {
  await device.backend.put(key, value);
}

/** A plain value, or null. */
export async function getPlain(device, key) {
  const v = await device.backend.get(key);
  return v === undefined ? null : v;
}

/** Deletes `key`. */
export async function remove(device, key) {
  await device.backend.delete(key);
}

/** The raw stored record (for tests that check encryption at rest). */
export async function rawRecord(device, key) {
  const v = await device.backend.get(key);
  return v === undefined ? null : v;
}

/** A non-extractable P-256 key pair for DPoP: { privateKey, publicJwk }. */
export async function generateDpopKey() {
  const pair = await subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const jwk = await subtle().exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }) };
}

/** ES256 signature (r || s, as JWS wants: WebCrypto's ECDSA output is already that form). */
export async function signEs256(privateKey, bytes) {
  return new Uint8Array(await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, bytes));
}

/** HMAC (HS256/384/512 of a client_secret_jwt assertion) keyed with the secret's UTF-8 bytes. */
export async function hmacSign(hash, secret, bytes) {
  const key = await subtle().importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await subtle().sign("HMAC", key, bytes));
}

/** Resolves after `ms` milliseconds (the wait between polls of a polling-step). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How much of a broken answer's body goes back to the module as evidence (bytes). */
const PARTIAL_BYTES = 64 * 1024;

/** A failure as the module reads it (proto::http::TransportError::from_json). */
function failure(kind, message, extra = {}) {
  return JSON.stringify({ failure: { kind, message, ...extra } });
}

function bytesOf(chunks, limit) {
  const out = new Uint8Array(Math.min(limit, chunks.reduce((n, c) => n + c.length, 0)));
  let at = 0;
  for (const c of chunks) {
    if (at >= out.length) break;
    const part = c.subarray(0, out.length - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Whether a request that fetch refused reached a server that does not allow this origin (CORS):
 * a "no-cors" GET of the same URL resolves (to an opaque response) when the server answers at
 * all, and fails like the request did when it is not reachable. Only in a page or worker of
 * another origin; Node has no CORS.
 */
async function corsBlocked(url, timeoutMs) {
  const here = globalThis.location?.origin;
  if (!here || here === "null" || new URL(url, here).origin === here) return false;
  try {
    await globalThis.fetch(url, { method: "GET", mode: "no-cors", credentials: "omit", cache: "no-store", signal: AbortSignal.timeout(Math.min(timeoutMs, 5000)) });
    return true;
  } catch {
    return false;
  }
}

/**
 * The global `fetch` (window, worker or Node) with the run's AbortSignal and a time limit of
 * `timeoutMs` from sending to the last byte; the body is read up to `maxBytes`. Resolves to JSON
 * text: `{status, headers, body}`, or `{failure: {kind, message, partial?, receivedBytes?,
 * timeoutMs?}}` where kind is network | cors | timeout | aborted | too-large | truncated |
 * redirect (the module explains each). `credentials` is "include" for a mutual-TLS request (the
 * browser presents its client certificate), else "omit".
 */
export async function send(method, url, headers, body, signal, timeoutMs, maxBytes, credentials = "omit") {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const stop = () => controller.abort();
  if (signal?.aborted) controller.abort();
  signal?.addEventListener?.("abort", stop, { once: true });
  // "include" only for a mutual-TLS request: the browser's client certificate is a credential.
  const init = { method, headers, redirect: "manual", credentials: credentials === "include" ? "include" : "omit", cache: "no-store", signal: controller.signal };
  if (body !== undefined && body !== null) init.body = body;
  const why = (e) => {
    if (timedOut) return "timeout";
    if (signal?.aborted) return "aborted";
    return null;
  };
  try {
    let resp;
    try {
      resp = await globalThis.fetch(url, init);
    } catch (e) {
      const kind = why(e);
      if (kind === "timeout") return failure("timeout", `no answer within ${timeoutMs} ms`, { timeoutMs });
      if (kind === "aborted") return failure("aborted", "aborted by the caller (AbortSignal)");
      if (await corsBlocked(url, timeoutMs)) {
        return failure("cors", `${e?.message ?? e}: the server answers, but not to this page's origin ${globalThis.location.origin}`);
      }
      return failure("network", `${e?.message ?? e} (a network error, a refused connection, or a CORS refusal by the browser)`);
    }
    if (resp.type === "opaqueredirect" || resp.status === 0) {
      return failure("redirect", "the server answered with an HTTP redirect (the browser does not show where to); HAAPI clients do not follow redirects");
    }
    const out = {};
    resp.headers.forEach((v, k) => {
      out[k] = v;
    });
    const chunks = [];
    let received = 0;
    const partial = () => ({ status: resp.status, headers: out, body: new TextDecoder().decode(bytesOf(chunks, PARTIAL_BYTES)) });
    const declared = Number(resp.headers.get("content-length"));
    if (declared > maxBytes) {
      controller.abort();
      return failure("too-large", `Content-Length is ${declared} bytes, over the ${maxBytes} bytes read`, { partial: partial(), receivedBytes: declared });
    }
    try {
      if (resp.body) {
        const reader = resp.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          received += value.length;
          if (received > maxBytes) {
            controller.abort();
            return failure("too-large", `more than ${maxBytes} bytes`, { partial: partial(), receivedBytes: received });
          }
        }
      }
    } catch (e) {
      const kind = why(e);
      if (kind === "timeout") {
        return failure("timeout", `the answer began (HTTP ${resp.status}) but its body did not finish within ${timeoutMs} ms (${received} bytes arrived)`, {
          partial: partial(),
          receivedBytes: received,
          timeoutMs,
        });
      }
      if (kind === "aborted") return failure("aborted", "aborted by the caller (AbortSignal)", { partial: partial(), receivedBytes: received });
      return failure("truncated", `${e?.message ?? e} after ${received} bytes`, { partial: partial(), receivedBytes: received });
    }
    return JSON.stringify({ status: resp.status, headers: out, body: new TextDecoder().decode(bytesOf(chunks, received)) });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener?.("abort", stop);
  }
}
