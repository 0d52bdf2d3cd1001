//! The free functions of the JavaScript API (configuration checks, key and certificate
//! generation for the configuration panel, JWT decoding) and its hand-written TypeScript types.

use super::*;

/// Checks a configuration document; returns the list of problems (empty when it can run).
#[wasm_bindgen(js_name = validateConfig, unchecked_return_type = "ConfigProblem[]")]
pub fn validate_config(#[wasm_bindgen(unchecked_param_type = "unknown")] config: JsValue) -> JsValue {
    let problems = match serde_wasm_bindgen::from_value::<Value>(config) {
        Ok(v) => match Config::from_value(&v) {
            Ok(config) => simulator_problems(&config),
            Err(problems) => problems,
        },
        Err(e) => vec![crate::config::ConfigProblem { path: "(document)".into(), message: e.to_string() }],
    };
    to_js(&problems)
}

/// Problems in `server.simulator` (its settings are checked against the simulator's schema).
#[cfg(feature = "sim")]
fn simulator_problems(config: &Config) -> Vec<crate::config::ConfigProblem> {
    match (&config.server.simulator, config.server.mode) {
        (Some(overrides), ServerMode::Simulator) => crate::lab::check_simulator_overrides(overrides),
        _ => vec![],
    }
}
#[cfg(not(feature = "sim"))]
fn simulator_problems(_: &Config) -> Vec<crate::config::ConfigProblem> {
    vec![]
}

/// The JWS algorithms a client assertion can use: `{ asymmetric, symmetric }`.
#[wasm_bindgen(unchecked_return_type = "{ asymmetric: string[], symmetric: string[] }")]
pub fn algorithms() -> JsValue {
    let names = |symmetric: bool| crate::jose::Alg::ALL.iter().filter(|a| a.is_symmetric() == symmetric).map(|a| a.name()).collect::<Vec<_>>();
    to_js(&json!({ "asymmetric": names(false), "symmetric": names(true) }))
}

/// Deletes a device's stored client, keys and simulator database without needing a valid
/// configuration ("Forget this device" for a page whose configuration cannot run).
#[wasm_bindgen(js_name = forgetDevice, unchecked_return_type = "Promise<void>")]
pub fn forget_device(device: Option<String>) -> js_sys::Promise {
    future_to_promise(async move {
        let store = js_open_device(device.as_deref().unwrap_or("default"), "indexeddb").await.map_err(|e| storage_error("opening the device", e))?;
        js_remove(&store, RECORD).await.map_err(|e| storage_error("forgetting the device", e))?;
        js_remove(&store, WEBCRYPTO_KEY).await.map_err(|e| storage_error("forgetting the device", e))?;
        Ok(JsValue::UNDEFINED)
    })
}

/// The default configuration document (DESIGN.md's example).
#[wasm_bindgen(js_name = defaultConfig, unchecked_return_type = "LabConfig")]
pub fn default_config() -> JsValue {
    to_js(&Config::default().to_json())
}

/// Generates a private key for `alg` (PEM and JWK text), for the configuration panel.
#[wasm_bindgen(js_name = generateKey, unchecked_return_type = "{ pem: string, jwk: string, publicJwk: object }")]
pub fn generate_key(alg: &str) -> Result<JsValue, JsValue> {
    let alg = crate::jose::Alg::parse(alg).map_err(|e| into_js_error(e.into()))?;
    let key = PrivateKey::generate_for(alg, &mut OsEntropy).map_err(|e| into_js_error(e.into()))?;
    Ok(to_js(&json!({ "pem": key.to_pkcs8_pem().expose(), "jwk": key.to_private_jwk().expose(), "publicJwk": key.public_jwk_value() })))
}

/// Generates a client certificate for a mutual-TLS method (`tls_client_auth`: CA-issued, the CA
/// appended to the chain; `self_signed_tls_client_auth`: self-signed).
#[wasm_bindgen(js_name = generateCertificate, unchecked_return_type = "{ certificate: string, privateKey: string, pin: string }")]
pub fn generate_certificate(method: &str, subject: &str) -> Result<JsValue, JsValue> {
    let now = now().secs();
    let e = |e: crate::x509::X509Error| into_js_error(Error::Crypto(e.to_string()));
    let (chain, key) = match method {
        "tls_client_auth" => {
            let ca = crate::x509::generate_ca("haapi-lab device CA", now, crate::material::CERTIFICATE_VALIDITY_SECS, &mut OsEntropy).map_err(e)?;
            let leaf = crate::x509::issue_client_certificate(&ca, subject, now, crate::material::CERTIFICATE_VALIDITY_SECS, &mut OsEntropy).map_err(e)?;
            (format!("{}{}", leaf.certificate_pem, ca.certificate_pem), leaf.private_key_pem)
        }
        "self_signed_tls_client_auth" => {
            let c = crate::x509::self_signed_client_certificate(subject, now, crate::material::CERTIFICATE_VALIDITY_SECS, &mut OsEntropy).map_err(e)?;
            (c.certificate_pem, c.private_key_pem)
        }
        other => return Err(js_error("INVALID_ARGUMENT", &format!("{other:?} is not a mutual-TLS method"), None)),
    };
    let pin = crate::x509::spki_sha256_pin(&chain).map_err(e)?;
    Ok(to_js(&json!({ "certificate": chain, "privateKey": key, "pin": pin })))
}

/// Decodes a JWT without verifying it: `{ header, claims, signature }`.
#[wasm_bindgen(js_name = decodeJwt, unchecked_return_type = "{ header: object, claims: object, signature: string }")]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    crate::jose::decode_unverified(token).map(|d| to_js(&d)).map_err(|e| into_js_error(e.into()))
}

/// The step names in order, with the sentence that explains each.
#[wasm_bindgen(unchecked_return_type = "{ name: string, purpose: string }[]")]
pub fn steps() -> JsValue {
    let all = [Step::Discovery, Step::Attestation, Step::DcrToken, Step::Registration, Step::Store, Step::HaapiToken, Step::Authorize];
    to_js(&all.iter().map(|s| json!({ "name": s.name(), "purpose": s.purpose() })).collect::<Vec<_>>())
}

/// Every credential method, for the configuration panel.
#[wasm_bindgen(unchecked_return_type = "string[]")]
pub fn methods() -> JsValue {
    to_js(&Method::ALL.iter().map(|m| m.name()).collect::<Vec<_>>())
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The configuration document, version 1 (see the README). */
export interface LabConfig {
  version: 1;
  server: { mode: "simulator" | "http"; issuer: string;
    endpoints?: { token?: string | null; registration?: string | null; authorization?: string | null; cat?: string | null };
    sendVia?: string | null; simulator?: Record<string, unknown> | null };
  client: { clientId: string; templateClientId: string; redirectUri: string; scope: string };
  credential: { method: "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "client_secret_jwt" | "tls_client_auth" | "self_signed_tls_client_auth" | "none";
    secret?: string | null; alg?: string | null; privateKey?: string | null; certificate?: string | null; audience?: string | null; kid?: string | null };
  dpop?: { alg?: "ES256"; keyStore?: "wasm" | "webcrypto" };
  device?: { attestation: "supported" | "unsupported" | "refused" };
  stopAfter?: StepName | null;
}
export type StepName = "discovery" | "attestation" | "dcr-token" | "registration" | "store" | "haapi-token" | "authorize" | "authenticate" | "code-exchange";
export interface LabOptions { storage?: "indexeddb" | "memory"; device?: string; seed?: number }
export interface RunOptions { signal?: AbortSignal }
export interface ConfigProblem { path: string; message: string }
export interface LabError { code: string; message: string; step?: StepName; status?: number; error?: string; errorDescription?: string; problems?: ConfigProblem[] }
export interface TraceStep { name: StepName; status: "ok" | "failed" | "skipped"; purpose: string; notes: string[];
  request: { method: string; url: string; headers: Record<string, string>; body?: string; clientCertificate?: string } | null;
  response: { status: number; headers: Record<string, string>; body: string } | null;
  retries: { reason: string; request: object; response: object }[];
  error: LabError | null; startedAt: number | null; durationMs: number | null;
  jwts: { at: string; header?: object; claims?: object; signature?: string; error?: string }[] }
export interface Trace { steps: TraceStep[]; redacted: boolean }
export interface Outcome { lastStep: StepName; dynamicClientId: string | null; reusedStoredClient: boolean; reregistered: boolean;
  haapiToken: string | null; representation: object | null; sessionId: string | null }
export interface RunResult { state: "running" | "succeeded" | "failed"; done: boolean; step: StepName | null; outcome?: Outcome | null; error?: LabError | null; trace: Trace }
export interface DeviceState { client: { clientId: string; softwareId: string; registeredAt: number; issuer: string; tokenEndpointAuthMethod: string } | null;
  storage: "indexeddb" | "memory"; dpop: { keyStore: "wasm" | "webcrypto"; publicJwk: object; thumbprint: string | null };
  credential: object; simulator: { dynamicClients: object[] } | null }
"#;
