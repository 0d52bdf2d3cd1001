//! The client module's free functions: configuration checks, key and certificate generation for
//! the configuration panel (RSA, P-384 and certificates through the tools module), JWT
//! decoding, and the hand-written TypeScript types of the whole API.

use super::super::{from_js, js_error, to_js};
use super::device::{js_open_device, js_remove, storage_error, RECORD, WEBCRYPTO_KEY};
use super::{into_js_error, modules};
use crate::client::config::{Config, ConfigProblem, Method};
use crate::client::flow::text;
use crate::proto::entropy::OsEntropy;
use crate::proto::jose::p256::P256Key;
use crate::proto::jose::{Alg, KeyFamily};
use crate::proto::step::Step;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

fn checked(config: JsValue) -> (Option<Config>, Vec<ConfigProblem>) {
    match from_js(config) {
        Ok(v) => match Config::from_value(&v) {
            Ok(config) => {
                let problems = simulator_problems(&config);
                (Some(config), problems)
            }
            Err(problems) => (None, problems),
        },
        Err(e) => (None, vec![ConfigProblem { path: "(document)".into(), message: super::message_of(&e) }]),
    }
}

/// Checks a configuration document; returns the list of problems (empty when it can run).
#[wasm_bindgen(js_name = validateConfig, unchecked_return_type = "ConfigProblem[]")]
pub fn validate_config(#[wasm_bindgen(unchecked_param_type = "unknown")] config: JsValue) -> JsValue {
    to_js(&crate::client::config::problems_json(&checked(config).1))
}

/// Checks a configuration document: `{ problems, ignored }`, where `ignored` lists fields the
/// chosen method does not use (left over from switching methods: ignored, never an error).
#[wasm_bindgen(js_name = checkConfig, unchecked_return_type = "{ problems: ConfigProblem[], ignored: ConfigProblem[] }")]
pub fn check_config(#[wasm_bindgen(unchecked_param_type = "unknown")] config: JsValue) -> JsValue {
    let (config, problems) = checked(config);
    let ignored = config.map(|c| c.ignored_fields()).unwrap_or_default();
    to_js(&json!({ "problems": crate::client::config::problems_json(&problems), "ignored": crate::client::config::problems_json(&ignored) }))
}

/// Problems in `server.simulator`, when the simulator is compiled into this module (the page
/// asks the whole simulator module instead, `checkSimulatorOverrides`).
#[cfg(feature = "sim")]
fn simulator_problems(config: &Config) -> Vec<ConfigProblem> {
    match (&config.server.simulator, config.server.mode) {
        (Some(overrides), crate::client::config::ServerMode::Simulator) => crate::lab::check_simulator_overrides(overrides),
        _ => vec![],
    }
}
#[cfg(not(feature = "sim"))]
fn simulator_problems(_: &Config) -> Vec<ConfigProblem> {
    vec![]
}

/// The JWS algorithms a client assertion can use: `{ asymmetric, symmetric }`.
#[wasm_bindgen(unchecked_return_type = "{ asymmetric: string[], symmetric: string[] }")]
pub fn algorithms() -> JsValue {
    let names = |symmetric: bool| Alg::ALL.iter().filter(|a| a.is_symmetric() == symmetric).map(|a| a.name()).collect::<Vec<_>>();
    to_js(&json!({ "asymmetric": names(false), "symmetric": names(true) }))
}

/// Deletes a device's stored clients, keys and simulator database without needing a valid
/// configuration ("Forget this device" for a page whose configuration cannot run).
#[wasm_bindgen(js_name = forgetDevice, unchecked_return_type = "Promise<void>")]
pub fn forget_device(device: Option<String>) -> js_sys::Promise {
    crate::wasm::promise(async move {
        let store = js_open_device(device.as_deref().unwrap_or("default"), "indexeddb").await.map_err(|e| storage_error("opening the device", e))?;
        js_remove(&store, RECORD).await.map_err(|e| storage_error("forgetting the device", e))?;
        js_remove(&store, WEBCRYPTO_KEY).await.map_err(|e| storage_error("forgetting the device", e))?;
        Ok(JsValue::UNDEFINED)
    })
}

/// The default configuration document (the README's example).
#[wasm_bindgen(js_name = defaultConfig, unchecked_return_type = "LabConfig")]
pub fn default_config() -> JsValue {
    to_js(&Config::default().to_json())
}

/// Generates a private key for `alg` (PEM and JWK text), for the configuration panel. ES256 keys
/// are made here; RS*, PS* and ES384 keys by the tools module, loaded on first use.
#[wasm_bindgen(js_name = generateKey, unchecked_return_type = "Promise<{ pem: string, jwk: string, publicJwk: object }>")]
pub fn generate_key(alg: String) -> js_sys::Promise {
    crate::wasm::promise(async move {
        let alg = Alg::parse(&alg).map_err(|e| into_js_error(e.into()))?;
        let v: Value = match alg.family() {
            KeyFamily::P256 => {
                let key = P256Key::generate(&mut OsEntropy);
                json!({ "pem": key.to_pkcs8_pem().expose(), "jwk": key.to_private_jwk().expose(), "publicJwk": key.public_jwk() })
            }
            KeyFamily::Hmac => return Err(js_error("INVALID_ARGUMENT", &format!("{alg} signs with a shared secret, not a key: use credential.secret"), None)),
            _ => {
                let key = modules::generate_key(alg).await?;
                json!({ "pem": key.pkcs8_pem, "jwk": key.private_jwk, "publicJwk": key.public_jwk })
            }
        };
        Ok(to_js(&v))
    })
}

/// Generates a client certificate for a mutual-TLS method (`tls_client_auth`: CA-issued, the CA
/// appended to the chain; `self_signed_tls_client_auth`: self-signed), by the tools module.
#[wasm_bindgen(js_name = generateCertificate, unchecked_return_type = "Promise<{ certificate: string, privateKey: string, pin: string }>")]
pub fn generate_certificate(method: String, subject: String) -> js_sys::Promise {
    crate::wasm::promise(async move {
        if !matches!(method.as_str(), "tls_client_auth" | "self_signed_tls_client_auth") {
            return Err(js_error("INVALID_ARGUMENT", &format!("{method:?} is not a mutual-TLS method"), None));
        }
        let issued = modules::issue_certificates(&method, &subject, super::super::now()).await?;
        let s = |k: &str| issued.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Ok(to_js(&json!({ "certificate": format!("{}{}", s("chainPem"), s("deviceCaPem")), "privateKey": s("keyPem"), "pin": s("pin") })))
    })
}

/// Decodes a JWT without verifying it: `{ header, claims, signature }`.
#[wasm_bindgen(js_name = decodeJwt, unchecked_return_type = "{ header: object, claims: object, signature: string }")]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    let d = crate::proto::jose::decode_unverified(token).map_err(|e| into_js_error(e.into()))?;
    Ok(to_js(&json!({ "header": d.header, "claims": d.claims, "signature": d.signature })))
}

/// The step names in order, with the sentence that explains each.
#[wasm_bindgen(unchecked_return_type = "{ name: string, purpose: string }[]")]
pub fn steps() -> JsValue {
    let all = [Step::Discovery, Step::Attestation, Step::DcrToken, Step::Registration, Step::Store, Step::HaapiToken, Step::Authorize];
    to_js(&Value::Array(all.iter().map(|s| json!({ "name": s.name(), "purpose": text::purpose(*s) })).collect()))
}

/// Every credential method, for the configuration panel.
#[wasm_bindgen(unchecked_return_type = "string[]")]
pub fn methods() -> JsValue {
    to_js(&Value::Array(Method::ALL.iter().map(|m| Value::from(m.name())).collect()))
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
  authentication?: { followRedirects?: boolean; authenticator?: string | null; inputs?: Record<string, string>; codeExchange?: boolean; pollIntervalMs?: number };
  stopAfter?: StepName | null;
}
export type StepName = "discovery" | "attestation" | "dcr-token" | "registration" | "store" | "haapi-token" | "authorize" | "authenticate" | "code-exchange";
export interface LabOptions { storage?: "indexeddb" | "memory"; device?: string; seed?: number }
export interface RunOptions { signal?: AbortSignal; allowNewOrigin?: boolean; interactive?: boolean; answer?: Answer }
/** The answer to a paused run's question. */
export type Answer = { values: Record<string, string> } | { choose: number } | { proceed: true } | { cancel: true } | { giveUp: true };
/** What a paused run waits for. `representation` is the HAAPI representation it comes from (redacted). */
export type Question = ({ kind: "form"; title: string | null; actionTitle: string | null; missing: string[];
    fields: { name: string; type: string; label: string | null; hasValue: boolean; value: string | null }[] }
  | { kind: "choose"; options: { title: string; href: string; authenticatorType: string | null }[]; configured: number | null }
  | { kind: "redirect"; href: string }
  | { kind: "poll"; polls: number; intervalMs: number }) & { representation: object; problem: object | null; interactive: boolean };
export interface ConfigProblem { path: string; message: string }
export interface LabError { code: string; message: string; step?: StepName; status?: number; error?: string; errorDescription?: string; problems?: ConfigProblem[];
  clientId?: string; registeredAt?: { tokenEndpoint: string; sendOrigin: string }[]; requested?: { tokenEndpoint: string; sendOrigin: string } }
export interface TraceStep { name: StepName; status: "ok" | "failed" | "skipped"; purpose: string; notes: string[];
  request: { method: string; url: string; serverUrl: string; headers: Record<string, string>; body?: string; clientCertificate?: string } | null;
  response: { status: number; headers: Record<string, string>; body: string } | null;
  retries: { reason: string; request: object; response: object }[];
  error: LabError | null; startedAt: number | null; durationMs: number | null;
  jwts: { at: string; header?: object; claims?: object; signature?: string; error?: string }[] }
export interface Trace { steps: TraceStep[]; redacted: boolean; notes?: string[]; error?: LabError }
export interface Outcome { lastStep: StepName; dynamicClientId: string | null; reusedStoredClient: boolean; reregistered: boolean;
  haapiToken: string | null; representation: object | null; sessionId: string | null; subject: string | null;
  tokens: { accessToken: string; idToken: string | null; refreshToken: string | null; expiresIn: number | null; scope: string | null } | null }
export interface RunResult { state: "running" | "paused" | "succeeded" | "failed"; done: boolean; step: StepName | null; outcome?: Outcome | null;
  error?: LabError | null; question?: Question; trace: Trace }
export interface StoredClient { clientId: string; softwareId: string; registeredAt: number; issuer: string; tokenEndpointAuthMethod: string;
  destinations: { tokenEndpoint: string; sendOrigin: string }[] }
export interface DeviceState { client: StoredClient | null; clients: StoredClient[];
  storage: "indexeddb" | "memory"; dpop: { keyStore: "wasm" | "webcrypto"; publicJwk: object; thumbprint: string | null };
  credential: object; simulator: { dynamicClients: object[] } | null }
"#;
