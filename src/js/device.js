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

/** The global `fetch` (window, worker or Node), with the request's own AbortSignal; the response as JSON text. */
/** Resolves after `ms` milliseconds (the wait between polls of a polling-step). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function send(method, url, headers, body, signal) {
  const init = { method, headers, redirect: "manual", credentials: "omit", cache: "no-store" };
  if (body !== undefined && body !== null) init.body = body;
  if (signal) init.signal = signal;
  const resp = await globalThis.fetch(url, init);
  const out = {};
  resp.headers.forEach((v, k) => { out[k] = v; });
  return JSON.stringify({ status: resp.status, headers: out, body: await resp.text() });
}
