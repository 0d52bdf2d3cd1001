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
  jkt: "The SHA-256 thumbprint of the device's DPoP public key (RFC 7638, RFC 9449 §6.1): only a request with a proof signed by that key can use this token.",
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
  name: "The user's full name (OIDC Core §5.1), from the profile scope.",
  at_hash: "Hash of the access token issued with this ID token (OIDC Core §3.1.3.6).",
};

/**
 * What a claim means in the tokens the login bought (the code exchange), where some claims say
 * more than in the fallback's own tokens. Falls back to CLAIMS.
 */
export const TOKEN_CLAIMS = {
  access: {
    iss: "Issuer: the Curity server that made the token (RFC 9068 §2.2); resource servers check it.",
    sub: "Subject: the user who logged in (RFC 9068 §2.2), not the app.",
    aud: "Audience: the API(s) that accept this token (RFC 9068 §3); an API refuses a token not meant for it.",
    scope: "What the user allowed the app to do (RFC 6749 §3.3, RFC 9068 §2.2.3).",
    client_id: "The dynamic client this device registered (RFC 9068 §2.2): the token was issued to this device's own client.",
    cnf: "Confirmation (RFC 7800): the key this token is bound to, so a stolen copy is useless without it.",
    jkt: "The SHA-256 thumbprint of the device's DPoP public key: only a request with a proof signed by that key can use this token (RFC 9449 §6.1).",
    exp: "Expires at (seconds since 1970): after this the app uses the refresh token (with a new DPoP proof) for a new one.",
    iat: "Issued at (seconds since 1970).",
    jti: "Unique id of this token (RFC 9068 §2.2).",
    client_assurance_level: "How the client proved itself (this lab's simulator; Curity's attribute is not public): fallback = a dynamic client registered without attestation.",
  },
  id: {
    iss: "Issuer: who asserts the login (OIDC Core §2); the app checks it is the configured issuer.",
    sub: "Subject: the user's id at the issuer (OIDC Core §2); stable for this user and client.",
    aud: "Audience: the client the ID token is for (OIDC Core §2), this device's dynamic client; the app checks it.",
    azp: "Authorized party: the client the token was issued to (OIDC Core §2), here the dynamic client.",
    amr: "Authentication methods used (RFC 8176): pwd = a password; mfa = more than one factor (here, approval on another device).",
    auth_time: "When the user authenticated (seconds since 1970, OIDC Core §2).",
    exp: "Expires at (seconds since 1970): the app must not accept the ID token after this.",
    iat: "Issued at (seconds since 1970).",
    name: "The user's full name (OIDC Core §5.1), from the profile scope.",
    nonce: "The value the app sent in the authorization request, echoed against replay (OIDC Core §3.1.2.1).",
    acr: "Authentication context class: how strongly the user authenticated (OIDC Core §2).",
    sid: "Session id at the issuer (OIDC Front-Channel Logout §3).",
  },
};

/** The meaning of a claim of the access (`kind` "access") or ID token ("id"). */
export function tokenClaimMeaning(kind, name) {
  const table = TOKEN_CLAIMS[kind] ?? {};
  if (Object.hasOwn(table, name)) return table[name];
  return Object.hasOwn(CLAIMS, name) ? CLAIMS[name] : "";
}

/** The header and claims of a JWT (`header.payload.signature`; the signature may be `[redacted]`), or null. */
export function decodeJwt(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const json = (part) => {
    const b64 = part.replaceAll("-", "+").replaceAll("_", "/");
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  };
  try {
    return { header: json(parts[0]), claims: json(parts[1]), signature: parts[2] };
  } catch {
    return null;
  }
}

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
    "response.body.refresh_token": "refresh token (response body)",
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
