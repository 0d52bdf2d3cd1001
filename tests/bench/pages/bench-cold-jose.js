// Cold load to the first signed DPoP proof with panva's jose: import SignJWT (its own module
// graph, unbundled: jose/jwt/sign and what it imports, served by the benchmark's server from
// node_modules/jose/dist/webapi), make a non-extractable WebCrypto P-256 key, sign one proof with
// the same header and claims as bench-cold.js. Times are performance.now().

import { SignJWT } from "/node_modules/jose/dist/webapi/jwt/sign.js";
import { encode as b64u } from "/node_modules/jose/dist/webapi/util/base64url.js";

const marks = { moduleStart: performance.now() }; // jose's modules are loaded and evaluated
marks.ready = marks.moduleStart;
try {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = { kty, crv, x, y };
  marks.key = performance.now();
  const claims = { jti: b64u(crypto.getRandomValues(new Uint8Array(16))), htm: "POST", htu: "https://localhost:8443/oauth/v2/oauth-token", iat: Math.floor(Date.now() / 1000) };
  const proof = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk }).sign(pair.privateKey);
  marks.proof = performance.now();
  window.__benchCold = { lib: "jose", store: "webcrypto", marks, proof, jwk };
  document.getElementById("out").textContent = proof;
} catch (e) {
  window.__benchCold = { lib: "jose", store: "webcrypto", marks, error: String(e?.message ?? e) };
}
