//! The JavaScript API (wasm-bindgen). Thin: it parses, calls the core and serialises; transports,
//! the device store and the WebCrypto key store are the only I/O, and they live here and in
//! `js/device.js`. No DOM code: the page is plain JavaScript in `www/`.
//!
//! ```js
//! import init, { Lab } from "./pkg/haapi_lab.js";
//! await init();
//! const lab = await Lab.create(config);            // config: the version-1 document
//! const result = await lab.run();                  // { state, outcome, error, trace }
//! // or step by step: while (!(await lab.step()).done) {}
//! ```

use crate::clock::Timestamp;
use crate::config::{Config, KeyStore, Method, ServerMode};
use crate::dpop::{DpopKey, DpopSigner};
use crate::entropy::{Entropy, OsEntropy, SeededEntropy};
use crate::error::Error;
use crate::flow::{DynamicClient, Flow, Next, Step};
use crate::http::{HttpRequest, HttpResponse};
use crate::jose::PrivateKey;
use crate::material::Material;
use crate::trace::{Status, Trace};
use js_sys::{Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "/src/js/device.js")]
extern "C" {
    #[wasm_bindgen(js_name = openDevice, catch)]
    async fn js_open_device(name: &str, kind: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = putSecret, catch)]
    async fn js_put_secret(device: &JsValue, key: &str, text: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = getSecret, catch)]
    async fn js_get_secret(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = putPlain, catch)]
    async fn js_put_plain(device: &JsValue, key: &str, value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = getPlain, catch)]
    async fn js_get_plain(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = remove, catch)]
    async fn js_remove(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = rawRecord, catch)]
    async fn js_raw_record(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = generateDpopKey, catch)]
    async fn js_generate_dpop_key() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = signEs256, catch)]
    async fn js_sign_es256(key: &JsValue, bytes: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = send, catch)]
    async fn js_send(method: &str, url: &str, headers: &JsValue, body: Option<String>, signal: &JsValue) -> Result<JsValue, JsValue>;
}

const SERIALIZER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::json_compatible();

fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&SERIALIZER).unwrap_or(JsValue::NULL)
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| js_error("INVALID_ARGUMENT", &e.to_string(), None))
}

/// A JS `Error` with `code` and, when given, the evidence fields.
fn js_error(code: &str, message: &str, evidence: Option<&Value>) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    if let Some(Value::Object(fields)) = evidence {
        for (k, v) in fields {
            if k != "code" && k != "message" {
                let _ = Reflect::set(&err, &k.into(), &to_js(v));
            }
        }
    }
    err.into()
}

/// The one boundary helper: a core [`Error`] becomes a JS `Error` with a stable `code` and its
/// evidence (`step`, `status`, `error`, `errorDescription`, `problems`).
pub(crate) fn into_js_error(e: Error) -> JsValue {
    js_error(e.code(), &e.to_string(), Some(&e.to_json()))
}

fn now() -> Timestamp {
    Timestamp::from_millis(js_sys::Date::now() as u64)
}

fn parse_config(config: JsValue) -> Result<Config, JsValue> {
    let value: Value = from_js(config)?;
    Config::from_value(&value).map_err(|p| into_js_error(Error::Config(p)))
}

/// Options of [`Lab::create`].
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct LabOptions {
    /// `"indexeddb"` (default in a browser) or `"memory"`.
    storage: Option<String>,
    /// Which device (IndexedDB database suffix). Default `"default"`.
    device: Option<String>,
    /// A seed for deterministic randomness (demos and tests); the platform CSPRNG when absent.
    seed: Option<u64>,
}

enum DpopHandle {
    Wasm(DpopKey),
    WebCrypto { key: JsValue, jwk: Value },
}

impl DpopHandle {
    fn public_jwk(&self) -> Value {
        match self {
            DpopHandle::Wasm(k) => k.public_jwk(),
            DpopHandle::WebCrypto { jwk, .. } => jwk.clone(),
        }
    }
}

/// What the device keeps (encrypted at rest as one record).
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceRecord {
    client: Option<DynamicClient>,
    /// `method/alg` the generated material was made for.
    material_for: Option<String>,
    assertion_key_pem: Option<String>,
    certificate_chain: Option<String>,
    certificate_key_pem: Option<String>,
    device_ca_certificate: Option<String>,
    device_ca_key_pem: Option<String>,
    /// The wasm key store's DPoP key (PKCS#8 PEM).
    dpop_key_pem: Option<String>,
    /// The in-page simulator's database.
    simulator: Option<Value>,
}

/// The in-page simulated server; a build without the `sim` feature has none (uninhabited).
#[cfg(feature = "sim")]
type Sim = crate::sim::Simulator;
#[cfg(not(feature = "sim"))]
enum Sim {}

#[cfg(feature = "sim")]
fn make_sim(config: &Config, material: &Material, seed: u64, state: Option<&Value>) -> Result<Sim, JsValue> {
    let settings = crate::lab::simulator_settings(config, material).map_err(into_js_error)?;
    let mut sim = crate::sim::Simulator::new(settings, seed);
    if let Some(state) = state {
        // A database that no longer fits (another credential) is dropped: the device re-registers.
        let _ = sim.import_state(state);
    }
    Ok(sim)
}
#[cfg(not(feature = "sim"))]
fn make_sim(_: &Config, _: &Material, _: u64, _: Option<&Value>) -> Result<Sim, JsValue> {
    Err(js_error("CONFIG_INVALID", "this build of the module has no simulator (built without the \"sim\" feature): set server.mode to \"http\" or load the full module", None))
}
#[cfg(feature = "sim")]
fn sim_handle(sim: &mut Sim, request: &HttpRequest, now: Timestamp) -> HttpResponse {
    sim.handle(request, now)
}
#[cfg(not(feature = "sim"))]
fn sim_handle(sim: &mut Sim, _: &HttpRequest, _: Timestamp) -> HttpResponse {
    match *sim {}
}
#[cfg(feature = "sim")]
fn sim_state(sim: &Sim) -> (Value, Value) {
    (sim.export_state(), serde_json::to_value(sim.dynamic_clients()).unwrap_or_default())
}
#[cfg(not(feature = "sim"))]
fn sim_state(sim: &Sim) -> (Value, Value) {
    match *sim {}
}

const RECORD: &str = "record";
const WEBCRYPTO_KEY: &str = "dpop-webcrypto";

struct Inner {
    config: Config,
    device: JsValue,
    record: DeviceRecord,
    material: Material,
    dpop: DpopHandle,
    sim: Option<Sim>,
    flow: Option<Flow>,
    trace: Trace,
    last_error: Option<Value>,
    seed: Option<u64>,
    runs: u64,
}

/// One device and one configuration: runs the attestation fallback all at once or step by step.
#[wasm_bindgen]
pub struct Lab {
    inner: Rc<RefCell<Inner>>,
}

fn material_key(config: &Config) -> String {
    format!("{}/{}", config.credential.method.name(), config.credential.alg.as_deref().unwrap_or("-"))
}

impl Inner {
    fn entropy(&mut self) -> Box<dyn Entropy> {
        self.runs += 1;
        match self.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed.wrapping_add(self.runs))),
            None => Box::new(OsEntropy),
        }
    }

    async fn save(device: &JsValue, record: &DeviceRecord) -> Result<(), JsValue> {
        let text = serde_json::to_string(record).map_err(|e| js_error("STORAGE_ERROR", &e.to_string(), None))?;
        js_put_secret(device, RECORD, &text).await.map_err(|e| storage_error("saving the device", e))?;
        Ok(())
    }
}

fn storage_error(what: &str, e: JsValue) -> JsValue {
    let detail = e.as_string().or_else(|| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string())).unwrap_or_default();
    js_error("STORAGE_ERROR", &format!("{what} failed: {detail}"), None)
}

/// Reuses the device's generated material when it was made for this method and algorithm, or
/// makes (and records) new material.
fn material_for(config: &Config, record: &mut DeviceRecord, rng: &mut dyn Entropy) -> Result<Material, Error> {
    let cr = &config.credential;
    let pasted = cr.private_key.is_some() || cr.certificate.is_some();
    let key = material_key(config);
    if !pasted && record.material_for.as_deref() == Some(key.as_str()) {
        let parse = |pem: &Option<String>| pem.as_deref().map(PrivateKey::parse).transpose();
        let ca = match (&record.device_ca_certificate, &record.device_ca_key_pem) {
            (Some(c), Some(k)) => Some(crate::x509::IssuedCertificate { certificate_pem: c.clone(), private_key_pem: k.clone() }),
            _ => None,
        };
        return Ok(Material {
            assertion_key: parse(&record.assertion_key_pem)?,
            certificate_chain: record.certificate_chain.clone(),
            certificate_key: parse(&record.certificate_key_pem)?,
            device_ca: ca,
            generated: vec!["(kept on this device)"],
        });
    }
    let material = Material::prepare(config, now(), rng)?;
    if !pasted {
        record.material_for = Some(key);
        record.assertion_key_pem = material.assertion_key.as_ref().map(|k| k.to_pkcs8_pem().expose().to_owned());
        record.certificate_chain = material.certificate_chain.clone();
        record.certificate_key_pem = material.certificate_key.as_ref().map(|k| k.to_pkcs8_pem().expose().to_owned());
        record.device_ca_certificate = material.device_ca.as_ref().map(|c| c.certificate_pem.clone());
        record.device_ca_key_pem = material.device_ca.as_ref().map(|c| c.private_key_pem.clone());
        // A new credential means the simulated server must learn it: its database starts over.
        record.simulator = None;
    }
    Ok(material)
}

#[wasm_bindgen]
impl Lab {
    /// Opens the device and prepares a run of `config` (the version-1 document). Rejects with a
    /// `CONFIG_INVALID` error (its `problems` list every field to fix) before anything is sent.
    #[wasm_bindgen(unchecked_return_type = "Promise<Lab>")]
    pub fn create(#[wasm_bindgen(unchecked_param_type = "LabConfig")] config: JsValue, #[wasm_bindgen(unchecked_param_type = "LabOptions")] options: Option<JsValue>) -> js_sys::Promise {
        future_to_promise(async move { Lab::open(config, options.unwrap_or(JsValue::UNDEFINED)).await.map(JsValue::from) })
    }

    /// Runs the flow to its end (a new run if the previous one ended). Resolves to
    /// `{ state: "succeeded" | "failed", outcome, error, trace }` (the trace redacted).
    #[wasm_bindgen(unchecked_return_type = "Promise<RunResult>")]
    pub fn run(&self, #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>) -> js_sys::Promise {
        let inner = self.inner.clone();
        let signal = signal_of(options);
        future_to_promise(async move { drive(inner, false, signal).await })
    }

    /// Runs until at least one more step of the trace is complete (a skipped step completes
    /// together with the next one). Resolves to the same shape as `run`, with `done` and the name
    /// of the last `step` finished.
    #[wasm_bindgen(unchecked_return_type = "Promise<RunResult>")]
    pub fn step(&self, #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>) -> js_sys::Promise {
        let inner = self.inner.clone();
        let signal = signal_of(options);
        future_to_promise(async move { drive(inner, true, signal).await })
    }

    /// Ends the current run, if any; the next `run` or `step` starts a new one.
    pub fn reset(&self) {
        let mut s = self.inner.borrow_mut();
        s.flow = None;
        s.trace = Trace::default();
        s.last_error = None;
    }

    /// The trace of the current or last run: redacted unless `{ reveal: true }`.
    #[wasm_bindgen(unchecked_return_type = "Trace")]
    pub fn trace(&self, #[wasm_bindgen(unchecked_param_type = "{ reveal?: boolean }")] options: Option<JsValue>) -> JsValue {
        let reveal = options.and_then(|o| Reflect::get(&o, &"reveal".into()).ok()).and_then(|v| v.as_bool()).unwrap_or(false);
        let s = self.inner.borrow();
        let trace = s.flow.as_ref().map(|f| f.trace()).unwrap_or(&s.trace);
        to_js(&trace.to_json(reveal))
    }

    /// What the device holds: the registered client (never its secret), the keys' public parts.
    #[wasm_bindgen(unchecked_return_type = "DeviceState")]
    pub fn device(&self) -> JsValue {
        let s = self.inner.borrow();
        let client = s.record.client.as_ref().map(|c| {
            json!({ "clientId": c.client_id, "softwareId": c.software_id, "registeredAt": c.registered_at, "issuer": c.issuer, "tokenEndpointAuthMethod": c.token_endpoint_auth_method })
        });
        to_js(&json!({
            "client": client,
            "storage": Reflect::get(&s.device, &"kind".into()).ok().and_then(|k| k.as_string()),
            "dpop": { "keyStore": match s.dpop { DpopHandle::Wasm(_) => "wasm", DpopHandle::WebCrypto { .. } => "webcrypto" }, "publicJwk": s.dpop.public_jwk(),
                      "thumbprint": serde_json::from_value::<crate::jose::Jwk>(s.dpop.public_jwk()).ok().and_then(|j| crate::jose::thumbprint(&j).ok()) },
            "credential": s.material.public(),
            "simulator": s.sim.as_ref().map(|sim| json!({ "dynamicClients": sim_state(sim).1 })),
        }))
    }

    /// "Forget this device": deletes the stored client, the keys and the simulator's database,
    /// and makes new keys. The next run registers again.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn forget(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (config, device, options) = {
                let s = inner.borrow();
                (s.config.clone(), s.device.clone(), LabOptions { seed: s.seed, ..LabOptions::default() })
            };
            js_remove(&device, RECORD).await.map_err(|e| storage_error("forgetting the device", e))?;
            js_remove(&device, WEBCRYPTO_KEY).await.map_err(|e| storage_error("forgetting the device", e))?;
            let fresh = Lab::prepare(config, device, options).await?;
            let fresh = Rc::try_unwrap(fresh.inner).map_err(|_| js_error("FLOW_STATE", "busy", None))?.into_inner();
            *inner.borrow_mut() = fresh;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The wasm key store's DPoP private key, for teaching (`{ pem, jwk }`); `null` for the
    /// non-extractable `webcrypto` store.
    #[wasm_bindgen(js_name = exportDpopKey, unchecked_return_type = "{ pem: string, jwk: string } | null")]
    pub fn export_dpop_key(&self) -> JsValue {
        match &self.inner.borrow().dpop {
            DpopHandle::Wasm(k) => {
                let pk = k.to_private_key();
                to_js(&json!({ "pem": pk.to_pkcs8_pem().expose(), "jwk": pk.to_private_jwk().expose() }))
            }
            DpopHandle::WebCrypto { .. } => JsValue::NULL,
        }
    }

    /// The stored device record as it sits in storage (ciphertext), for tests of encryption at rest.
    #[wasm_bindgen(js_name = rawDeviceRecord, unchecked_return_type = "Promise<unknown>")]
    pub fn raw_device_record(&self) -> js_sys::Promise {
        let device = self.inner.borrow().device.clone();
        future_to_promise(async move { js_raw_record(&device, RECORD).await })
    }

    /// The configuration in use.
    #[wasm_bindgen(unchecked_return_type = "LabConfig")]
    pub fn config(&self) -> JsValue {
        to_js(&self.inner.borrow().config.to_json())
    }
}

impl Lab {
    /// [`Lab::create`] for Rust callers (tests): the same, without the `Promise`.
    pub async fn open(config: JsValue, options: JsValue) -> Result<Lab, JsValue> {
        let config = parse_config(config)?;
        let options: LabOptions = if options.is_undefined() || options.is_null() { LabOptions::default() } else { from_js(options)? };
        let kind = options.storage.clone().unwrap_or_else(|| "indexeddb".into());
        if kind != "indexeddb" && kind != "memory" {
            return Err(js_error("INVALID_ARGUMENT", &format!("storage {kind:?}: use \"indexeddb\" or \"memory\""), None));
        }
        let device = js_open_device(options.device.as_deref().unwrap_or("default"), &kind).await.map_err(|e| storage_error("opening the device", e))?;
        Lab::prepare(config, device, options).await
    }

    async fn prepare(config: Config, device: JsValue, options: LabOptions) -> Result<Lab, JsValue> {
        let mut record: DeviceRecord = match js_get_secret(&device, RECORD).await.map_err(|e| storage_error("reading the device", e))?.as_string() {
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => DeviceRecord::default(),
        };
        let mut rng: Box<dyn Entropy> = match options.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed)),
            None => Box::new(OsEntropy),
        };
        let material = material_for(&config, &mut record, rng.as_mut()).map_err(into_js_error)?;
        let dpop = match config.dpop.key_store {
            KeyStore::Wasm => {
                let key = match record.dpop_key_pem.as_deref().map(PrivateKey::parse) {
                    Some(Ok(k)) => DpopKey::from_private_key(&k),
                    _ => None,
                };
                let key = key.unwrap_or_else(|| DpopKey::generate(&mut rng));
                record.dpop_key_pem = Some(key.to_private_key().to_pkcs8_pem().expose().to_owned());
                DpopHandle::Wasm(key)
            }
            KeyStore::Webcrypto => {
                let mut stored = js_get_plain(&device, WEBCRYPTO_KEY).await.map_err(|e| storage_error("reading the DPoP key", e))?;
                if stored.is_null() {
                    stored = js_generate_dpop_key().await.map_err(|e| storage_error("generating the WebCrypto DPoP key", e))?;
                    js_put_plain(&device, WEBCRYPTO_KEY, &stored).await.map_err(|e| storage_error("storing the DPoP key", e))?;
                }
                let key = Reflect::get(&stored, &"privateKey".into())?;
                let jwk = Reflect::get(&stored, &"publicJwk".into())?.as_string().unwrap_or_default();
                DpopHandle::WebCrypto { key, jwk: serde_json::from_str(&jwk).map_err(|e| js_error("STORAGE_ERROR", &e.to_string(), None))? }
            }
        };
        let sim = if config.server.mode == ServerMode::Simulator {
            // Deterministic with a seed (varied by how many clients the database holds, so a
            // reloaded server never reissues an id); otherwise from the platform CSPRNG.
            let held = record.simulator.as_ref().and_then(|s| s["dynamicClients"].as_array().map(Vec::len)).unwrap_or(0) as u64;
            let seed = match options.seed {
                Some(seed) => seed ^ 0x5eed ^ held.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                None => rand_core::RngCore::next_u64(&mut OsEntropy),
            };
            Some(make_sim(&config, &material, seed, record.simulator.as_ref())?)
        } else {
            None
        };
        Inner::save(&device, &record).await?;
        Ok(Lab {
            inner: Rc::new(RefCell::new(Inner {
                config,
                device,
                record,
                material,
                dpop,
                sim,
                flow: None,
                trace: Trace::default(),
                last_error: None,
                seed: options.seed,
                runs: 0,
            })),
        })
    }
}

fn signal_of(options: Option<JsValue>) -> JsValue {
    match options {
        Some(o) if o.is_object() => Reflect::get(&o, &"signal".into()).unwrap_or(JsValue::UNDEFINED),
        _ => JsValue::UNDEFINED,
    }
}

fn aborted(signal: &JsValue) -> bool {
    signal.is_object() && Reflect::get(signal, &"aborted".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// What one transport call needs, taken out of the `RefCell` so no borrow spans an `await`.
enum Send {
    Sim(HttpResponse),
    Fetch(HttpRequest),
}

async fn fetch(request: &HttpRequest, signal: &JsValue) -> Result<HttpResponse, String> {
    if request.client_certificate.is_some() {
        return Err("mutual TLS: a web page cannot present a client certificate of its choosing (the browser picks one from its own store); use the simulator, or the local server's mutual-TLS port from a native client".into());
    }
    let headers = Object::new();
    for (k, v) in request.headers.iter() {
        let _ = Reflect::set(&headers, &k.into(), &v.into());
    }
    let out = js_send(&request.method, &request.url, &headers, request.body.clone(), signal).await.map_err(|e| {
        let msg = Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| format!("{e:?}"));
        format!("{msg} (a network error, a refused connection, or a CORS refusal by the browser)")
    })?;
    let response: HttpResponse = serde_wasm_bindgen::from_value(out).map_err(|e| e.to_string())?;
    if response.status == 0 {
        return Err("the server answered with an HTTP redirect; HAAPI clients do not follow redirects".into());
    }
    Ok(response)
}

async fn drive(inner: Rc<RefCell<Inner>>, one_step: bool, signal: JsValue) -> Result<JsValue, JsValue> {
    {
        let mut s = inner.borrow_mut();
        if s.flow.as_ref().is_none_or(Flow::is_finished) || s.last_error.is_some() {
            let rng = s.entropy();
            let stored = s.record.client.clone();
            let flow = Flow::new(s.config.clone(), &s.material, stored, s.dpop.public_jwk(), rng).map_err(into_js_error)?;
            s.flow = Some(flow);
            s.last_error = None;
        }
    }
    let start_len = inner.borrow().flow.as_ref().map(|f| f.trace().steps.len()).unwrap_or(0);
    loop {
        if aborted(&signal) {
            let mut s = inner.borrow_mut();
            let err = s.flow.as_mut().map(|f| f.on_transport_error("aborted by the caller (AbortSignal)", now())).unwrap_or(Error::State("aborted".into()));
            return Ok(result(&mut s, Some(err), None));
        }
        let next = {
            let mut s = inner.borrow_mut();
            let flow = s.flow.as_mut().expect("a flow was created above");
            flow.poll(now())
        };
        let next = match next {
            Ok(n) => n,
            Err(e) => return Ok(result(&mut inner.borrow_mut(), Some(e), None)),
        };
        match next {
            Next::Done(outcome) => {
                let mut s = inner.borrow_mut();
                return Ok(result(&mut s, None, Some(to_js(&outcome))));
            }
            Next::Sign(proof) => {
                let signature = {
                    let s = inner.borrow();
                    match &s.dpop {
                        DpopHandle::Wasm(k) => Ok(k.sign(proof.signing_input.as_bytes())),
                        DpopHandle::WebCrypto { key, .. } => Err(key.clone()),
                    }
                };
                let signature = match signature {
                    Ok(sig) => sig,
                    Err(key) => {
                        let sig = js_sign_es256(&key, proof.signing_input.as_bytes()).await.map_err(|e| storage_error("signing with the WebCrypto key", e))?;
                        Uint8Array::new(&sig).to_vec()
                    }
                };
                let mut s = inner.borrow_mut();
                if let Err(e) = s.flow.as_mut().expect("flow").on_signature(&signature) {
                    return Ok(result(&mut s, Some(e), None));
                }
            }
            Next::Store(client) => {
                let (device, text) = {
                    let mut s = inner.borrow_mut();
                    s.record.client = Some(client);
                    (s.device.clone(), serde_json::to_string(&s.record).unwrap_or_default())
                };
                js_put_secret(&device, RECORD, &text).await.map_err(|e| storage_error("storing the dynamic client", e))?;
                let mut s = inner.borrow_mut();
                let t = now();
                if let Err(e) = s.flow.as_mut().expect("flow").on_stored(t) {
                    return Ok(result(&mut s, Some(e), None));
                }
            }
            Next::Send(request) => {
                let send = {
                    let mut s = inner.borrow_mut();
                    let t = now();
                    match s.sim.as_mut() {
                        Some(sim) => Send::Sim(sim_handle(sim, &request, t)),
                        None => Send::Fetch(request),
                    }
                };
                let response = match send {
                    Send::Sim(r) => {
                        persist_simulator(&inner).await?;
                        Ok(r)
                    }
                    Send::Fetch(request) => fetch(&request, &signal).await,
                };
                let mut s = inner.borrow_mut();
                let t = now();
                let flow = s.flow.as_mut().expect("flow");
                let outcome = match response {
                    Ok(r) => flow.on_response(r, t),
                    Err(message) => Err(flow.on_transport_error(&message, t)),
                };
                if let Err(e) = outcome {
                    return Ok(result(&mut s, Some(e), None));
                }
                // The server forgot a stored client: the device forgets it too.
                if flow.trace().steps.last().is_some_and(|st| st.name == Step::HaapiToken && st.status == Status::Failed) {
                    s.record.client = None;
                }
            }
        }
        if one_step {
            let s = inner.borrow();
            let len = s.flow.as_ref().map(|f| f.trace().steps.len()).unwrap_or(0);
            // The step that ends the run is reported by `Next::Done` (done: true) on this call.
            if len > start_len && !s.flow.as_ref().is_some_and(Flow::is_finished) {
                let last = s.flow.as_ref().and_then(|f| f.trace().steps.last()).map(|st| st.name.name());
                return Ok(to_js(&json!({ "state": "running", "done": false, "step": last, "trace": s.flow.as_ref().map(|f| f.trace().to_json(false)) })));
            }
        }
    }
}

async fn persist_simulator(inner: &Rc<RefCell<Inner>>) -> Result<(), JsValue> {
    let (device, text) = {
        let mut s = inner.borrow_mut();
        let state = s.sim.as_ref().map(|sim| sim_state(sim).0);
        if state == s.record.simulator {
            return Ok(());
        }
        s.record.simulator = state;
        (s.device.clone(), serde_json::to_string(&s.record).unwrap_or_default())
    };
    js_put_secret(&device, RECORD, &text).await.map_err(|e| storage_error("saving the simulator's database", e))?;
    Ok(())
}

fn result(s: &mut Inner, error: Option<Error>, outcome: Option<JsValue>) -> JsValue {
    let trace = s.flow.as_ref().map(|f| f.trace().clone()).unwrap_or_default();
    let state = if error.is_some() { "failed" } else { "succeeded" };
    let error_json = error.as_ref().map(Error::to_json);
    s.last_error = error_json.clone();
    s.trace = trace.clone();
    let last = trace.steps.last().map(|st| st.name.name());
    let v = to_js(&json!({ "state": state, "done": true, "step": last, "error": error_json, "trace": trace.to_json(false) }));
    let _ = Reflect::set(&v, &"outcome".into(), &outcome.unwrap_or(JsValue::NULL));
    v
}

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

enum ProverKey {
    Wasm(DpopKey),
    WebCrypto(JsValue),
}

/// DPoP proofs on their own (RFC 9449 §4.2), with either key store: what a HAAPI client sends
/// on every request. Also the unit the benchmarks measure.
#[wasm_bindgen]
pub struct DpopProver {
    key: ProverKey,
    jwk: Value,
}

#[wasm_bindgen]
impl DpopProver {
    /// A prover with a new key in the `"wasm"` or `"webcrypto"` (non-extractable) key store.
    #[wasm_bindgen(unchecked_return_type = "Promise<DpopProver>")]
    pub fn create(#[wasm_bindgen(unchecked_param_type = "\"wasm\" | \"webcrypto\"")] key_store: String) -> js_sys::Promise {
        future_to_promise(async move {
            let prover = match key_store.as_str() {
                "wasm" => {
                    let key = DpopKey::generate(&mut OsEntropy);
                    DpopProver { jwk: key.public_jwk(), key: ProverKey::Wasm(key) }
                }
                "webcrypto" => {
                    let pair = js_generate_dpop_key().await.map_err(|e| storage_error("generating the WebCrypto DPoP key", e))?;
                    let jwk = Reflect::get(&pair, &"publicJwk".into())?.as_string().unwrap_or_default();
                    let jwk = serde_json::from_str(&jwk).map_err(|e| js_error("CRYPTO_ERROR", &e.to_string(), None))?;
                    DpopProver { jwk, key: ProverKey::WebCrypto(Reflect::get(&pair, &"privateKey".into())?) }
                }
                other => return Err(js_error("INVALID_ARGUMENT", &format!("key store {other:?}: use \"wasm\" or \"webcrypto\""), None)),
            };
            Ok(prover.into())
        })
    }

    /// The public JWK in every proof's header.
    #[wasm_bindgen(js_name = publicJwk, unchecked_return_type = "object")]
    pub fn public_jwk(&self) -> JsValue {
        to_js(&self.jwk)
    }

    /// A proof for one request: `htm`, `htu` (query and fragment dropped), and `ath` / `nonce`
    /// when given.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn proof(&self, htm: &str, url: &str, access_token: Option<String>, nonce: Option<String>) -> js_sys::Promise {
        let input = crate::dpop::ProofInput { method: htm, url, access_token: access_token.as_deref(), nonce: nonce.as_deref() };
        let unsigned = crate::dpop::unsigned_proof("ES256", &self.jwk, &input, now().secs(), &mut OsEntropy);
        match &self.key {
            ProverKey::Wasm(k) => {
                let jws = crate::dpop::finish(&unsigned, &k.sign(unsigned.signing_input.as_bytes()));
                js_sys::Promise::resolve(&JsValue::from(jws))
            }
            ProverKey::WebCrypto(key) => {
                let key = key.clone();
                future_to_promise(async move {
                    let sig = js_sign_es256(&key, unsigned.signing_input.as_bytes()).await?;
                    Ok(crate::dpop::finish(&unsigned, &Uint8Array::new(&sig).to_vec()).into())
                })
            }
        }
    }
}
