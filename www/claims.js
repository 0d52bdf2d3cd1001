// One-line meanings of the JOSE header parameters and JWT claims this lab shows, with the
// specification that defines each. Used by the inspector next to every decoded token.

/** JOSE header parameters (RFC 7515 §4.1, RFC 9449 §4.2). */
export const HEADER_PARAMS = {
  alg: "Signature algorithm (RFC 7515 §4.1.1); ES256 = ECDSA P-256 with SHA-256, HS* = HMAC with a shared secret.",
  typ: "Media type of the token (RFC 7515 §4.1.9): dpop+jwt for a DPoP proof, at+jwt for an access token (RFC 9068).",
  kid: "Key id (RFC 7515 §4.1.4): which of the signer's keys to verify with.",
  jwk: "The signer's public key, embedded (RFC 7515 §4.1.3); in a DPoP proof, the key the token is bound to (RFC 9449 §4.2).",
  x5c: "The signer's X.509 certificate chain (RFC 7515 §4.1.6).",
  "x5t#S256": "SHA-256 thumbprint of the signer's certificate (RFC 7515 §4.1.8).",
  cty: "Content type of the payload (RFC 7515 §4.1.10).",
  crit: "Extensions the verifier must understand (RFC 7515 §4.1.11).",
};

/** JWT claims (RFC 7519 §4.1, RFC 9449 §4.2, RFC 7523, RFC 9068, RFC 7800). */
export const CLAIMS = {
  iss: "Issuer: who made the token (RFC 7519 §4.1.1). In a client assertion, the client's own id.",
  sub: "Subject: whom the token is about (RFC 7519 §4.1.2). In a client assertion, the client id again; in an access token, the client or user.",
  aud: "Audience: who must accept it (RFC 7519 §4.1.3). A client assertion names the token endpoint (RFC 7523 §3).",
  exp: "Expires at (seconds since 1970, RFC 7519 §4.1.4): refused after this time.",
  iat: "Issued at (seconds since 1970, RFC 7519 §4.1.6). A DPoP proof must be fresh (RFC 9449 §11.1).",
  nbf: "Not before (seconds since 1970, RFC 7519 §4.1.5): refused before this time.",
  jti: "Unique id (RFC 7519 §4.1.7), so the server can refuse a replayed assertion or proof.",
  htm: "DPoP: the HTTP method of the request this proof is for (RFC 9449 §4.2).",
  htu: "DPoP: the URL of the request, without query or fragment (RFC 9449 §4.2); the server's own URL, even behind a proxy.",
  ath: "DPoP: SHA-256 hash of the access token sent with this proof (RFC 9449 §4.2), binding proof and token.",
  nonce: "DPoP: a value the server gave (DPoP-Nonce) to limit how long proofs can be used (RFC 9449 §8).",
  cnf: "Confirmation (RFC 7800): the key this token is bound to; cnf.jkt is the DPoP key's thumbprint (RFC 9449 §6).",
  jkt: "Thumbprint of the bound DPoP key (RFC 7638, RFC 9449 §6.1).",
  scope: "What the token allows (RFC 6749 §3.3): dcr = register one client; urn:se:curity:scopes:haapi = use HAAPI.",
  client_id: "The client the token was issued to (RFC 9068 §2.2).",
  azp: "Authorized party: the client the token was issued to (OIDC Core §2).",
  client_assurance_level: "How the client proved itself (this lab's simulator): fallback = a dynamic client registered without attestation; attested = hardware attestation.",
  auth_time: "When the user authenticated (seconds since 1970, OIDC Core §2).",
  acr: "Authentication context class: how strongly the user authenticated (OIDC Core §2).",
  amr: "Authentication methods used (RFC 8176).",
  sid: "Session id (OIDC Front-Channel Logout §3).",
  software_id: "The template client a dynamic client is registered from (RFC 7591 §2).",
  purpose: "Curity: what the token is for.",
  delegationId: "Curity: the delegation (grant) this token belongs to.",
  token_type: "How to send the token (RFC 6749 §7.1): Bearer, or DPoP with a proof.",
};

/** Claims whose value is a time in seconds since 1970. */
export const TIME_CLAIMS = new Set(["exp", "iat", "nbf", "auth_time"]);

/** Where in a request or response a token was found (the trace's `jwts[].at`), in words. */
export function describeLocation(at) {
  const known = {
    "request.headers.dpop": "DPoP proof (request header DPoP)",
    "request.headers.authorization": "access token (request header Authorization)",
    "request.body.client_assertion": "client assertion (request body)",
    "response.body.access_token": "access token (response body)",
    "response.body.id_token": "ID token (response body)",
  };
  return known[at] ?? at;
}

/** The meaning of a header parameter or claim, or "" when this dictionary does not know it. */
export function meaning(kind, name) {
  const table = kind === "header" ? HEADER_PARAMS : CLAIMS;
  return Object.hasOwn(table, name) ? table[name] : "";
}

/** A claim value as text: times also in words, objects as compact JSON. */
export function claimText(name, value) {
  if (TIME_CLAIMS.has(name) && typeof value === "number") {
    const when = new Date(value * 1000);
    return Number.isNaN(when.getTime()) ? String(value) : `${value} (${when.toISOString().replace(".000Z", "Z")})`;
  }
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
