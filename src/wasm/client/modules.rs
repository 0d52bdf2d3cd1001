//! The simulated server and the tools, wherever they are: compiled into this module (a build
//! with the `sim` / `tools` features, as the wasm tests use; the light simulator in the page's
//! simulator-mode module, `sim-core`), or in their own WebAssembly modules, loaded on first use
//! through `src/js/modules.js` (the page, a worker, Node).

use super::super::{coded, js_error};
use crate::client::config::Config;
use crate::client::error::Error;
use crate::client::material::PublicMaterial;
use crate::proto::clock::Timestamp;
use crate::proto::http::{HttpRequest, HttpResponse};
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[cfg(not(all(feature = "sim", feature = "tools")))]
#[wasm_bindgen(module = "/src/js/modules.js")]
extern "C" {
    #[cfg(not(feature = "sim"))]
    #[wasm_bindgen(js_name = openSim, catch)]
    async fn js_open_sim(config: &str, material: &str, seed: f64, state: Option<String>, full: bool) -> Result<JsValue, JsValue>;
    #[cfg(not(feature = "tools"))]
    #[wasm_bindgen(js_name = toolsReadKey, catch)]
    async fn js_read_key(text: &str, kid: Option<String>) -> Result<JsValue, JsValue>;
    #[cfg(not(feature = "tools"))]
    #[wasm_bindgen(js_name = toolsGenerateKey, catch)]
    async fn js_generate_key(alg: &str) -> Result<JsValue, JsValue>;
    #[cfg(not(feature = "tools"))]
    #[wasm_bindgen(js_name = toolsSign, catch)]
    async fn js_sign(alg: &str, pkcs8_pem: &str, bytes: &[u8]) -> Result<JsValue, JsValue>;
    #[cfg(not(feature = "tools"))]
    #[wasm_bindgen(js_name = toolsIssueCertificates, catch)]
    async fn js_issue_certificates(method: &str, client_id: &str, now_secs: f64) -> Result<JsValue, JsValue>;
}

#[cfg(not(feature = "sim"))]
#[wasm_bindgen]
extern "C" {
    /// A `SimServer` of the simulator module.
    pub type JsSimServer;
    #[wasm_bindgen(method, catch)]
    fn handle(this: &JsSimServer, request: &str, now_ms: f64) -> Result<String, JsValue>;
    #[wasm_bindgen(method, js_name = exportState)]
    fn export_state(this: &JsSimServer) -> String;
    #[wasm_bindgen(method, js_name = dynamicClients)]
    fn dynamic_clients(this: &JsSimServer) -> String;
    #[wasm_bindgen(method, js_name = resetDatabase)]
    fn reset_database(this: &JsSimServer);
    #[wasm_bindgen(method, js_name = decidePolling)]
    fn decide_polling(this: &JsSimServer, approve: bool) -> u32;
}

/// The simulated server a `Lab` in `simulator` mode talks to: compiled into this module (feature
/// `sim-core`: the light simulator, `sim`: the whole one), or a `SimServer` of a simulator module.
pub(crate) enum SimHandle {
    #[cfg(feature = "sim-core")]
    Here(Box<crate::sim::Simulator>),
    #[cfg(not(feature = "sim"))]
    There(JsSimServer),
}

/// Whether the simulator compiled into this module serves a configuration that `needs_whole`
/// simulator (`PublicMaterial::full_simulator_reason`): the whole one serves every configuration,
/// the light one those that need no more, and a module without one none.
fn compiled_in(needs_whole: bool) -> bool {
    cfg!(feature = "sim") || (cfg!(feature = "sim-core") && !needs_whole)
}

impl SimHandle {
    /// A server for `config` that knows `material`, seeded, with a saved client database.
    pub(crate) async fn open(config: &Config, material: &PublicMaterial, seed: u64, state: Option<&Value>) -> Result<SimHandle, JsValue> {
        let needs_whole = material.full_simulator_reason(config).is_some();
        if compiled_in(needs_whole) {
            #[cfg(feature = "sim-core")]
            {
                let settings = crate::lab::simulator_settings(config, material).map_err(super::into_js_error)?;
                let mut sim = crate::sim::Simulator::new(settings, seed);
                if let Some(state) = state {
                    let _ = sim.import_state(state);
                }
                return Ok(SimHandle::Here(Box::new(sim)));
            }
        }
        #[cfg(not(feature = "sim"))]
        {
            // The light simulator module unless this configuration needs the whole one.
            let material = material.to_json().to_string();
            // 53 bits: what a JavaScript number carries exactly.
            let sim = js_open_sim(&config.to_json().to_string(), &material, (seed & ((1 << 53) - 1)) as f64, state.map(Value::to_string), needs_whole).await?;
            Ok(SimHandle::There(sim.unchecked_into()))
        }
        #[cfg(feature = "sim")]
        unreachable!("the whole simulator is compiled in")
    }

    /// Answers one request.
    pub(crate) fn handle(&mut self, request: &HttpRequest, now: Timestamp) -> Result<HttpResponse, JsValue> {
        match self {
            #[cfg(feature = "sim-core")]
            SimHandle::Here(sim) => Ok(sim.handle(request, now)),
            #[cfg(not(feature = "sim"))]
            SimHandle::There(sim) => {
                let answer = sim.handle(&request.to_json().to_string(), now.millis() as f64)?;
                let answer: Value = crate::proto::json::parse(&answer).map_err(coded("INVALID_ARGUMENT"))?;
                HttpResponse::from_json(&answer).map_err(coded("INVALID_ARGUMENT"))
            }
        }
    }

    /// The client database.
    pub(crate) fn export_state(&self) -> Value {
        match self {
            #[cfg(feature = "sim-core")]
            SimHandle::Here(sim) => sim.export_state(),
            #[cfg(not(feature = "sim"))]
            SimHandle::There(sim) => crate::proto::json::parse(&sim.export_state()).unwrap_or_default(),
        }
    }

    /// The registered dynamic clients (no secrets).
    pub(crate) fn dynamic_clients(&self) -> Value {
        match self {
            #[cfg(feature = "sim-core")]
            SimHandle::Here(sim) => Value::Array(sim.dynamic_clients().iter().map(crate::sim::DynamicClientInfo::to_json).collect()),
            #[cfg(not(feature = "sim"))]
            SimHandle::There(sim) => crate::proto::json::parse(&sim.dynamic_clients()).unwrap_or_default(),
        }
    }

    /// Forgets every dynamic client.
    pub(crate) fn reset_database(&mut self) {
        match self {
            #[cfg(feature = "sim-core")]
            SimHandle::Here(sim) => sim.reset_database(),
            #[cfg(not(feature = "sim"))]
            SimHandle::There(sim) => sim.reset_database(),
        }
    }

    /// The other device approves (or denies) every polling login that waits.
    pub(crate) fn decide_polling(&mut self, approve: bool) -> u32 {
        match self {
            #[cfg(feature = "sim-core")]
            SimHandle::Here(sim) => sim.decide_polling(approve) as u32,
            #[cfg(not(feature = "sim"))]
            SimHandle::There(sim) => sim.decide_polling(approve),
        }
    }
}

/// A key read or made by the tools: `(family, pkcs8Pem, publicJwk, kid)`.
pub(crate) struct ToolKey {
    pub family: crate::proto::jose::KeyFamily,
    pub pkcs8_pem: String,
    pub public_jwk: Value,
    pub kid: Option<String>,
    pub private_jwk: Option<String>,
}

fn family(name: &str) -> Result<crate::proto::jose::KeyFamily, JsValue> {
    use crate::proto::jose::KeyFamily as F;
    [F::P256, F::P384, F::Rsa].into_iter().find(|f| f.name() == name).ok_or_else(|| js_error("CRYPTO_ERROR", &format!("unknown key family {name:?}"), None))
}

#[cfg(not(feature = "tools"))]
fn tool_key(answer: JsValue) -> Result<ToolKey, JsValue> {
    let v: Value = crate::proto::json::parse(&answer.as_string().unwrap_or_default()).map_err(coded("CRYPTO_ERROR"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(ToolKey {
        family: family(&s("family").unwrap_or_default())?,
        pkcs8_pem: s("pkcs8Pem").unwrap_or_default(),
        public_jwk: v["publicJwk"].clone(),
        kid: s("kid"),
        private_jwk: s("privateJwk"),
    })
}

#[cfg(feature = "tools")]
fn native_key(key: &crate::proto::jose::keys::PrivateKey, kid: Option<String>) -> Result<ToolKey, JsValue> {
    Ok(ToolKey {
        family: family(key.family().name())?,
        pkcs8_pem: key.to_pkcs8_pem().expose().to_owned(),
        public_jwk: key.public_jwk(),
        kid,
        private_jwk: Some(key.to_private_jwk().expose().to_owned()),
    })
}

/// Reads a private key of any family (RSA, P-384 need the tools).
pub(crate) async fn read_key(text: &str, kid: Option<&str>) -> Result<ToolKey, JsValue> {
    #[cfg(feature = "tools")]
    {
        let found = crate::proto::jose::keytext::read_private_key(text, kid).map_err(coded("CRYPTO_ERROR"))?;
        let key = crate::proto::jose::keys::PrivateKey::from_key_text(&found).map_err(coded("CRYPTO_ERROR"))?;
        native_key(&key, found.kid)
    }
    #[cfg(not(feature = "tools"))]
    {
        tool_key(js_read_key(text, kid.map(str::to_owned)).await?)
    }
}

/// A new key for `alg`.
pub(crate) async fn generate_key(alg: crate::proto::jose::Alg) -> Result<ToolKey, JsValue> {
    #[cfg(feature = "tools")]
    {
        let key = crate::proto::jose::keys::PrivateKey::generate_for(alg, &mut crate::proto::entropy::OsEntropy).map_err(coded("CRYPTO_ERROR"))?;
        native_key(&key, None)
    }
    #[cfg(not(feature = "tools"))]
    {
        tool_key(js_generate_key(alg.name()).await?)
    }
}

/// Signs with a PKCS#8 key the client core cannot use itself (RSA, P-384).
pub(crate) async fn sign(alg: crate::proto::jose::Alg, pkcs8_pem: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
    #[cfg(feature = "tools")]
    {
        let key = crate::proto::jose::keys::PrivateKey::parse(pkcs8_pem)?;
        Ok(key.sign(alg, input, &mut crate::proto::entropy::OsEntropy)?)
    }
    #[cfg(not(feature = "tools"))]
    {
        let answer = js_sign(alg.name(), pkcs8_pem, input).await.map_err(|e| Error::Crypto(super::message_of(&e)))?;
        Ok(js_sys::Uint8Array::new(&answer).to_vec())
    }
}

/// A client certificate for a mutual-TLS method: `(chain, key, device CA, device CA key)`.
pub(crate) async fn issue_certificates(method: &str, client_id: &str, now: Timestamp) -> Result<Value, JsValue> {
    #[cfg(feature = "tools")]
    {
        let (leaf, ca) = crate::proto::x509::client_certificates(
            method == "tls_client_auth",
            client_id,
            now.secs(),
            crate::client::material::CERTIFICATE_VALIDITY_SECS,
            &mut crate::proto::entropy::OsEntropy,
        )
        .map_err(coded("CRYPTO_ERROR"))?;
        let pin = crate::proto::x509::spki_sha256_pin(&leaf.certificate_pem).map_err(coded("CRYPTO_ERROR"))?;
        Ok(
            serde_json::json!({ "chainPem": leaf.certificate_pem, "keyPem": leaf.private_key_pem, "deviceCaPem": ca.as_ref().map(|c| c.certificate_pem.clone()), "deviceCaKeyPem": ca.as_ref().map(|c| c.private_key_pem.clone()), "pin": pin }),
        )
    }
    #[cfg(not(feature = "tools"))]
    {
        let answer = js_issue_certificates(method, client_id, now.secs() as f64).await?;
        crate::proto::json::parse(&answer.as_string().unwrap_or_default()).map_err(coded("CRYPTO_ERROR"))
    }
}
