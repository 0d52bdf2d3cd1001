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
use crate::flow::{DynamicClient, Flow, FlowOptions, Next, Step};
use crate::http::{HttpRequest, HttpResponse};
use crate::jose::PrivateKey;
use crate::material::Material;
use crate::trace::Trace;
use js_sys::{Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

mod device;
mod prover;
mod tools;

use device::*;

pub use prover::DpopProver;
pub use tools::*;

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
    /// A WebCrypto DPoP key made for this device and not yet stored: loading a configuration
    /// changes nothing stored until a run starts.
    unsaved_webcrypto_key: Option<JsValue>,
}

/// One device and one configuration: runs the attestation fallback all at once or step by step.
#[wasm_bindgen]
pub struct Lab {
    inner: Rc<RefCell<Inner>>,
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
        let options = RunOptions::from(options);
        future_to_promise(async move { drive(inner, false, options).await })
    }

    /// Runs until at least one more step of the trace is complete (a skipped step completes
    /// together with the next one). Resolves to the same shape as `run`, with `done` and the name
    /// of the last `step` finished.
    #[wasm_bindgen(unchecked_return_type = "Promise<RunResult>")]
    pub fn step(&self, #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>) -> js_sys::Promise {
        let inner = self.inner.clone();
        let options = RunOptions::from(options);
        future_to_promise(async move { drive(inner, true, options).await })
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
        let summary = |c: &DynamicClient| {
            json!({ "clientId": c.client_id, "softwareId": c.software_id, "registeredAt": c.registered_at, "issuer": c.issuer, "tokenEndpointAuthMethod": c.token_endpoint_auth_method, "destinations": c.destinations })
        };
        // `client`: the one this configuration's issuer would use (the newest for it).
        let client = s.record.clients.iter().filter(|c| c.issuer == s.config.server.issuer).max_by_key(|c| c.registered_at).map(summary);
        to_js(&json!({
            "client": client,
            "clients": s.record.clients.iter().map(summary).collect::<Vec<_>>(),
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

    /// Empties the in-page simulator's client database, as when Curity's database is recreated:
    /// the client this device keeps goes stale and the next run registers again. Rejects with
    /// `INVALID_ARGUMENT` when the configuration does not use the in-page simulator.
    #[wasm_bindgen(js_name = resetServer, unchecked_return_type = "Promise<void>")]
    pub fn reset_server(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            match inner.borrow_mut().sim.as_mut() {
                Some(sim) => reset_sim(sim),
                None => return Err(js_error("INVALID_ARGUMENT", "resetServer: this configuration talks to a real server (server.mode \"http\"); only the in-page simulator can be reset", None)),
            }
            persist_simulator(&inner).await?;
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
        let mut record = match js_get_secret(&device, RECORD).await.map_err(|e| storage_error("reading the device", e))?.as_string() {
            Some(text) => DeviceRecord::from_json(&text),
            None => DeviceRecord::default(),
        };
        let mut rng: Box<dyn Entropy> = match options.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed)),
            None => Box::new(OsEntropy),
        };
        let material = material_for(&config, &mut record, rng.as_mut()).map_err(into_js_error)?;
        let mut unsaved_webcrypto_key = None;
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
                    unsaved_webcrypto_key = Some(stored.clone());
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
                unsaved_webcrypto_key,
            })),
        })
    }
}

/// Options of `run` and `step`.
struct RunOptions {
    signal: JsValue,
    flow: FlowOptions,
}

impl RunOptions {
    fn from(options: Option<JsValue>) -> RunOptions {
        let get = |name: &str| match &options {
            Some(o) if o.is_object() => Reflect::get(o, &name.into()).unwrap_or(JsValue::UNDEFINED),
            _ => JsValue::UNDEFINED,
        };
        RunOptions { signal: get("signal"), flow: FlowOptions { allow_new_origin: get("allowNewOrigin").as_bool().unwrap_or(false) } }
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

async fn drive(inner: Rc<RefCell<Inner>>, one_step: bool, options: RunOptions) -> Result<JsValue, JsValue> {
    let signal = options.signal;
    let starting = {
        let mut s = inner.borrow_mut();
        if s.flow.as_ref().is_none_or(Flow::is_finished) || s.last_error.is_some() {
            let rng = s.entropy();
            let stored = s.record.clients.clone();
            let flow = Flow::new(s.config.clone(), &s.material, stored, s.dpop.public_jwk(), rng, options.flow).map_err(into_js_error)?;
            s.flow = Some(flow);
            s.last_error = None;
            true
        } else {
            false
        }
    };
    if starting {
        // A run starts: what loading the configuration prepared (keys, material) is kept now.
        let (device, key, text) = {
            let mut s = inner.borrow_mut();
            (s.device.clone(), s.unsaved_webcrypto_key.take(), serde_json::to_string(&s.record).unwrap_or_default())
        };
        if let Some(key) = key {
            js_put_plain(&device, WEBCRYPTO_KEY, &key).await.map_err(|e| storage_error("storing the DPoP key", e))?;
        }
        js_put_secret(&device, RECORD, &text).await.map_err(|e| storage_error("saving the device", e))?;
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
            Next::Store(_) | Next::Forget(_) => {
                let (device, text) = {
                    let mut s = inner.borrow_mut();
                    match &next {
                        Next::Store(client) => crate::driver::ClientStore::store(&mut s.record.clients, client),
                        Next::Forget(id) => crate::driver::ClientStore::forget(&mut s.record.clients, id),
                        _ => {}
                    }
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
