// Every sentence the page shows, in one place (like the jwt.io debugger's strings.js), so the
// wording can be reviewed, kept calm and consistent, and translated later.

/** The steps drawn in the sequence picture, in the order they run (DESIGN.md step names). */
export const STEPS = [
  { name: "discovery", tag: "0", title: "Discovery", from: "device", to: "server", request: "GET /.well-known/openid-configuration", answer: "metadata" },
  { name: "attestation", tag: "A", title: "Attestation", from: "device", to: "token", request: "GET token/cat (compliant devices only)", answer: "CAT, or refused" },
  { name: "dcr-token", tag: "F1", title: "Initial token", from: "device", to: "token", request: "POST token · client_credentials scope=dcr + client auth", answer: "one-time dcr token" },
  { name: "registration", tag: "F2", title: "Register", from: "device", to: "registration", request: "POST registration · Bearer dcr · software_id", answer: "client_id, client_secret" },
  { name: "store", tag: "F3", title: "Store", from: "device", to: "device", request: "keep the dynamic client on the device", answer: "" },
  { name: "haapi-token", tag: "F4", title: "HAAPI token", from: "device", to: "token", request: "POST token · scope=haapi · Basic dynamic client + DPoP", answer: "DPoP-bound access token" },
  { name: "authorize", tag: "H", title: "Authorize", from: "device", to: "authorize", request: "GET authorize · Authorization: DPoP + proof", answer: "application/vnd.auth+json" },
];

/** Actors (lifelines) of the sequence picture. */
export const ACTORS = [
  { id: "device", label: "Device app", sub: "this page (WebAssembly)" },
  { id: "token", label: "Token endpoint", sub: "also /cat" },
  { id: "registration", label: "Registration endpoint", sub: "RFC 7591" },
  { id: "authorize", label: "Authorize / HAAPI", sub: "vnd.auth+json" },
];

export const SERVER_GROUP = { simulator: "Curity Identity Server (simulated in this page)", http: "Curity Identity Server" };

export const STATUS_WORD = { ok: "ok", failed: "failed", skipped: "skipped", running: "running", pending: "not run yet" };
export const STATUS_GLYPH = { ok: "✓", failed: "✗", skipped: "↷", running: "…", pending: "" };

export const FLOW_STATE_TEXT = {
  idle: "Ready. Press Run all, or Next step to walk through the sequence one request at a time.",
};

function failedTitle(step, sent = false) {
  if (step) return `The run failed at ${step}.`;
  return sent ? "The run failed." : "The run failed before any request was sent.";
}

export const TEXT = {
  serverReset: "The simulated server's database is empty: it no longer knows this device's client, so the next run finds it stale and registers again.",
  destinationTitle: "Send this device's client to a new place?",
  destinationBody: (id, kept, to) => `This device keeps dynamic client ${id} (its id and secret) for ${kept}. This configuration would send it to ${to}. A configuration can come from a link, so nothing was sent.`,
  destinationIssuerOrigin: "its issuer's origin",
  destinationHint: "Confirm only if you trust that place (for example your own same-origin proxy to the same server). Otherwise restore server.endpoints and server.sendVia, or press Forget this device to register a new client.",
  destinationConfirm: "I trust it: send the client there and run",
  loadingModule: "Loading the WebAssembly module…",
  moduleFailed: "The WebAssembly module could not be loaded, so nothing can run.",
  moduleFailedAdvice: "Build it with `bash scripts/build-pkg.sh` (it writes pkg/), and serve the repository root so that /pkg/haapi_lab.js is reachable from /www/index.html.",
  preparingDevice: "Opening the device (keys and stored client)…",
  runningStep: (name) => `Running ${name}…`,
  stepDone: (name, status, next) => `Step ${name}: ${status}.` + (next ? ` Next: ${next}.` : ""),
  runSucceeded: (last, ms) => `The run succeeded (last step: ${last}; ${ms} ms spent in the steps).`,
  runStoppedAfter: (last) => `The run stopped after ${last}, as stopAfter asks.`,
  runFailed: failedTitle,
  runFailedStatus: (step, sent = false) => `${failedTitle(step, sent)} The explanation is below the controls.`,
  reset: "Reset: the next run starts from discovery. The device keeps its registered client.",
  forgetting: "Forgetting this device…",
  forgotten: "This device was forgotten: its dynamic client, keys and the simulated server's database are gone. The next run registers again.",
  busy: "A step is running; wait for it to finish (or press Reset to stop it).",
  aborted: "Stopped.",
  configChanged: "The configuration changed; the next run uses it.",
  configProblems: (n) => (n === 1 ? "1 problem: the configuration cannot run until it is fixed." : `${n} problems: the configuration cannot run until they are fixed.`),
  configOk: "The configuration is valid.",
  configUnchecked: "The configuration is checked once the WebAssembly module has loaded.",
  fragmentUnreadable: (why) => `The link's configuration (#config=…) could not be read: ${why}. The default configuration is shown instead.`,
  jsonNotApplied: (why) => `Not applied: this is not a JSON object (${why}).`,
  jsonImported: (name) => `Imported the configuration from ${name}.`,
  jsonImportFailed: (name, why) => `Could not import ${name}: ${why}`,
  linkCopied: "Link copied: it reproduces this configuration.",
  copyFailed: "The clipboard is not available here; select the text and copy it yourself.",
  curlCopied: "Copied the curl command.",
  keyGenerated: (alg) => `Generated a new ${alg} private key (PEM). It is part of the configuration, and so of the link.`,
  keyGenerating: (alg) => `Generating a ${alg} key…` + (/^(RS|PS)/.test(alg) ? " RSA keys take a while in WebAssembly." : ""),
  certGenerated: (method) => `Generated a ${method === "tls_client_auth" ? "CA-issued client certificate (the CA is appended to the chain)" : "self-signed client certificate"} and its private key.`,
  fileRead: (name) => `Read ${name}.`,
  fileFailed: (name, why) => `Could not read ${name}: ${why}`,
  traceExported: (name) => `Exported the trace (secrets redacted) as ${name}.`,
  nothingToExport: "There is no trace yet: run the flow first.",
  revealOn: "Secrets revealed: the inspector shows secrets, keys, tokens and signatures. Turn it off before sharing your screen.",
  revealOff: "Secrets hidden (redacted).",
  themeNames: { auto: "auto", light: "light", dark: "dark" },
  themeButton: (t) => `Theme: ${t}`,
  presenterOn: "Presenter mode on: press n, → or PageDown for the next step, ← or PageUp to review, Esc to leave.",
  presenterOff: "Presenter mode off.",
  shortcutsOff: "Single-key shortcuts are off.",
  shortcutsOn: "Single-key shortcuts are on.",
};

export const INSPECTOR = {
  empty: "Run the flow, then choose a step (in the picture or the list) to see its request, response and tokens.",
  purpose: "Why this step exists",
  notes: "What happened",
  request: "Request",
  response: "Response",
  noRequest: "No HTTP request: this step happens on the device, or was skipped.",
  noResponse: "No response.",
  headers: "Headers",
  body: "Body",
  noBody: "(no body)",
  retries: (n) => (n === 1 ? "1 earlier attempt" : `${n} earlier attempts`),
  jwts: "Tokens and proofs in this step",
  jwtHeader: "Header",
  jwtClaims: "Claims",
  jwtSignature: "Signature",
  jwtUndecodable: "Could not decode this token",
  sigRedacted: "redacted: the trace keeps header and claims but drops signatures, so it can be shared and cannot be replayed. Turn on Reveal secrets to see it.",
  sigNotVerified: "not verified here: this page only decodes; the server verified it (or refused it).",
  error: "What went wrong",
  recovered: "Refused, and the app carried on",
  advice: "What to change",
  clientCertificate: "Mutual TLS: this request presents a client certificate during the TLS handshake.",
  copyCurl: "Copy as curl",
  curlHeading: "The request as a curl command",
  duration: (ms) => (ms == null ? "" : `${ms} ms`),
  formParams: "Form parameters (decoded)",
  claimName: "Claim",
  paramName: "Parameter",
  queryParams: "Query parameters (decoded)",
  claimValue: "Value",
  claimMeaning: "Meaning",
  status: "Status",
  attempt: (i) => `Attempt ${i}`,
  redactedTraceNote: "Secrets in this view are redacted.",
  revealedTraceNote: "Secrets are revealed in this view.",
};

/** What each error code means, and where to look (LabError.code, DESIGN.md "Errors keep their evidence"). */
export const ERROR_CODES = {
  CONFIG_INVALID: "The configuration cannot work, so nothing was sent. Fix the fields listed (they are also marked in the configuration panel).",
  OAUTH_SERVER_ERROR: "The server refused the request with an OAuth error; its error code and description say why.",
  UNEXPECTED_STATUS: "The server answered with an HTTP status this step does not expect, and without an OAuth error. Look at the response body.",
  INVALID_RESPONSE: "The server's answer does not follow the protocol (a missing field, a wrong type or a wrong media type). Look at the response body.",
  TRANSPORT_ERROR: "The request did not reach the server, or its answer could not be read: check the URL, that the server is running, and CORS (or use server.sendVia with a same-origin proxy).",
  CREDENTIAL_DESTINATION_CHANGED: "This device keeps a dynamic client registered elsewhere, and this configuration would send it to a new place. Nothing was sent. Confirm only if you trust the new place.",
  CRYPTO_ERROR: "A key, certificate or JWT could not be made or used. Check the pasted key or certificate.",
  STORAGE_ERROR: "The browser's storage (IndexedDB, WebCrypto) failed. A private window or strict storage settings can cause this.",
  FLOW_STATE: "The flow was driven out of order. Press Reset and run again; if it persists, this is a bug in the lab.",
  INVALID_ARGUMENT: "The page passed an argument the module does not accept. This is a bug in the page.",
  MODULE_UNAVAILABLE: "The WebAssembly module is not loaded.",
  API_MISMATCH: "The WebAssembly module did not behave as its JavaScript API says (a bug in the lab, not in your configuration). Press Reset and run again.",
  MODULE_PANIC: "The WebAssembly module stopped with an internal error (a bug in the lab). The page drops this device session; run again, or reload. The browser console has the details.",
  PAGE_ERROR: "The page failed unexpectedly (a bug in the page). The message says where.",
};

export const ERROR_LABELS = {
  code: "Error code",
  message: "Message",
  step: "Step",
  status: "HTTP status",
  error: "Server error",
  errorDescription: "Server's description",
  problems: "Fields to fix",
};

export const DEVICE = {
  heading: "This device",
  none: "Not opened yet: the device opens with the first valid configuration.",
  client: "Registered client",
  noClient: "none: the next run registers one",
  registeredAt: "Registered",
  softwareId: "From template",
  issuer: "At issuer",
  authMethod: "Authenticates with",
  storage: "Storage",
  keyStore: "DPoP key store",
  keyStoreNames: { wasm: "wasm (inspectable, for teaching)", webcrypto: "webcrypto (non-extractable)" },
  thumbprint: "DPoP key thumbprint (jkt)",
  material: "Main client's credential material",
  generated: "Generated on this device",
  certificatePin: "Certificate pin (SPKI SHA-256)",
  assertionJwk: "Assertion public key (JWK)",
  simulator: "Simulated server knows",
  simulatorClients: (n) => (n === 1 ? "1 dynamic client" : `${n} dynamic clients`),
  dpopPrivate: "DPoP private key (wasm key store, revealed)",
  stale: "(from the last configuration; refreshed at the next run)",
};

export const CONFIG = {
  methodHints: {
    client_secret_basic: "The main client's secret in an HTTP Basic Authorization header (RFC 6749 §2.3.1).",
    client_secret_post: "The main client's id and secret in the form body (RFC 6749 §2.3.1).",
    private_key_jwt: "A JWT client assertion signed with the client's private key (RFC 7523 §2.2).",
    client_secret_jwt: "A JWT client assertion signed with HMAC over the client secret (OIDC Core §9).",
    tls_client_auth: "Mutual TLS with a certificate issued by a CA the server trusts (RFC 8705 §2.1).",
    self_signed_tls_client_auth: "Mutual TLS with a self-signed certificate whose key the server pins (RFC 8705 §2.2).",
    none: "No authentication. The engine refuses it for the fallback: the dcr token is only issued to an authenticated client.",
  },
  jwtAlgs: ["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
  hmacAlgs: ["HS256", "HS384", "HS512"],
  defaultSecret: "Password1",
  stopAfterEnd: "Run to the end",
  keyInURL: "Pasted or generated keys and secrets are part of the configuration, and so of the page's link (#config=…) and your browser history. Use test credentials only.",
  simulatorJsonHint: "Settings of the simulated server, merged over the ones derived from this configuration (for example {\"dpopNonce\": \"required\"}). Leave empty for the defaults.",
  unplacedProblems: "Other problems",
};

export const SHORTCUTS = [
  ["r", "Run all"],
  ["n", "Next step"],
  ["x", "Reset (stops a running step)"],
  ["p", "Presenter mode on or off"],
  ["t", "Theme: auto, light, dark"],
  ["?", "Go to this list"],
  ["Esc", "Leave presenter mode"],
  ["PageDown / → / Space", "Presenter mode: next step (works with a presentation clicker)"],
  ["PageUp / ←", "Presenter mode: inspect the previous step"],
  ["↑ / ↓", "On a step of the picture: move to the previous or next step"],
  ["Enter / Space", "On a step of the picture or of the list: inspect it"],
];
