//! The client module's JavaScript API (`pkg/haapi_lab.js`): `Lab` (one device, one
//! configuration, runs all at once or step by step), `DpopProver`, and free functions for the
//! configuration panel. The run loop is the core's ([`crate::client::driver::drive`]); this file
//! converts, keeps the device, and nothing more.
//!
//! ```js
//! import init, { Lab } from "./pkg/haapi_lab.js";
//! await init();
//! const lab = await Lab.create(config);            // config: the version-1 document
//! const result = await lab.run();                  // { state, outcome, error, trace }
//! // or step by step: while (!(await lab.step()).done) {}
//! ```

pub mod api;
mod device;
mod env;
mod modules;
mod prover;

pub use prover::DpopProver;

use super::{from_js, js_error, to_js};
use crate::client::config::{Config, KeyStore, ServerMode};
use crate::client::driver::{drive, Progress, Until};
use crate::client::error::Error;
use crate::client::flow::{DynamicClient, Flow, FlowOptions, InputAnswer};
use crate::client::material::Material;
use crate::client::trace::Trace;
use crate::proto::entropy::{Entropy, OsEntropy, SeededEntropy};
use crate::proto::jose::p256::P256Key;
use device::{js_get_plain, js_open_device, js_put_plain, js_raw_record, js_remove, DeviceRecord, RECORD, WEBCRYPTO_KEY};
use js_sys::Reflect;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The one boundary helper: a core [`Error`] becomes a JS `Error` with a stable `code` and its
/// evidence (`step`, `status`, `error`, `errorDescription`, `problems`).
pub(crate) fn into_js_error(e: Error) -> JsValue {
    js_error(e.code(), &e.to_string(), Some(&e.to_json()))
}

/// The message of a thrown JavaScript value.
pub(crate) fn message_of(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "a value that is not an Error was thrown".to_owned())
}

fn parse_config(config: JsValue) -> Result<Config, JsValue> {
    let value = from_js(config)?;
    Config::from_value(&value).map_err(|p| into_js_error(Error::Config(p)))
}

/// Options of [`Lab::create`].
#[derive(Default)]
struct LabOptions {
    /// `"indexeddb"` (default in a browser) or `"memory"`.
    storage: Option<String>,
    /// Which device (IndexedDB database suffix). Default `"default"`.
    device: Option<String>,
    /// A seed for deterministic randomness (demos and tests); the platform CSPRNG when absent.
    seed: Option<u64>,
}

impl LabOptions {
    fn from_json(v: &Value) -> Result<LabOptions, JsValue> {
        let bad = |m: String| js_error("INVALID_ARGUMENT", &format!("Lab.create options: {m}"), None);
        let Value::Object(map) = v else { return Err(bad("must be an object".into())) };
        let mut o = LabOptions::default();
        for (k, v) in map {
            match (k.as_str(), v) {
                (_, Value::Null) => {}
                ("storage", Value::String(s)) => o.storage = Some(s.clone()),
                ("device", Value::String(s)) => o.device = Some(s.clone()),
                ("seed", Value::Number(n)) => o.seed = Some(n.as_u64().ok_or_else(|| bad("seed must be a whole number".into()))?),
                ("storage" | "device" | "seed", _) => return Err(bad(format!("{k} has the wrong type"))),
                (other, _) => return Err(bad(format!("unknown option {other:?} (storage, device, seed)"))),
            }
        }
        Ok(o)
    }
}

/// The device's DPoP key.
pub(crate) enum DpopHandle {
    /// The `wasm` key store: a key in this module (exportable, for teaching).
    Wasm(P256Key),
    /// The `webcrypto` key store: a non-extractable `CryptoKey` and its public JWK.
    WebCrypto { key: JsValue, jwk: Value },
}

impl DpopHandle {
    fn public_jwk(&self) -> Value {
        match self {
            DpopHandle::Wasm(k) => k.public_jwk().clone(),
            DpopHandle::WebCrypto { jwk, .. } => jwk.clone(),
        }
    }
}

/// A lab's state, shared by its promises.
pub(crate) struct Inner {
    config: Config,
    pub(crate) device: JsValue,
    pub(crate) record: DeviceRecord,
    pub(crate) material: Material,
    pub(crate) dpop: DpopHandle,
    pub(crate) sim: Option<modules::SimHandle>,
    /// The run in progress or the last one; taken out while a request is in flight.
    flow: Option<Flow>,
    running: bool,
    /// The trace as the page sees it (kept up to date while a run is in flight).
    pub(crate) trace: Trace,
    last_error: Option<Value>,
    seed: Option<u64>,
    runs: u64,
    /// A WebCrypto DPoP key made for this device and not yet stored: loading a configuration
    /// changes nothing stored until a run starts.
    unsaved_webcrypto_key: Option<JsValue>,
    /// The person cancelled the polling authenticator: the next poll sends its cancel action.
    pub(crate) cancel_polling: bool,
}

impl Inner {
    fn entropy(&mut self) -> Box<dyn Entropy> {
        self.runs += 1;
        match self.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed.wrapping_add(self.runs))),
            None => Box::new(OsEntropy),
        }
    }
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
    /// Nothing is written to the device until a run starts.
    #[wasm_bindgen(unchecked_return_type = "Promise<Lab>")]
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "LabConfig")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LabOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        crate::wasm::promise(async move { Lab::open(config, options.unwrap_or(JsValue::UNDEFINED)).await.map(JsValue::from) })
    }

    /// Runs the flow to its end (a new run if the previous one ended). Resolves to
    /// `{ state: "succeeded" | "failed", outcome, error, trace }` (redacted).
    #[wasm_bindgen(unchecked_return_type = "Promise<RunResult>")]
    pub fn run(&self, #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>) -> js_sys::Promise {
        let inner = self.inner.clone();
        crate::wasm::promise(async move { drive_lab(inner, Until::End, RunOptions::from(options)?).await })
    }

    /// Runs until at least one more step of the trace is complete (a skipped step completes
    /// together with the next one). Resolves to the same shape as `run`, with `done` and the name
    /// of the last `step` finished.
    #[wasm_bindgen(unchecked_return_type = "Promise<RunResult>")]
    pub fn step(&self, #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>) -> js_sys::Promise {
        let inner = self.inner.clone();
        crate::wasm::promise(async move { drive_lab(inner, Until::NextStep, RunOptions::from(options)?).await })
    }

    /// Ends the current run, if any; the next `run` or `step` starts a new one.
    pub fn reset(&self) {
        let mut s = self.inner.borrow_mut();
        if !s.running {
            s.flow = None;
            s.trace = Trace::default();
            s.last_error = None;
        }
    }

    /// The trace of the current or last run: redacted unless `{ reveal: true }`.
    #[wasm_bindgen(unchecked_return_type = "Trace")]
    pub fn trace(&self, #[wasm_bindgen(unchecked_param_type = "{ reveal?: boolean }")] options: Option<JsValue>) -> JsValue {
        let reveal = options.and_then(|o| Reflect::get(&o, &"reveal".into()).ok()).and_then(|v| v.as_bool()).unwrap_or(false);
        let s = self.inner.borrow();
        let trace = s.flow.as_ref().map(|f| f.trace()).unwrap_or(&s.trace);
        to_js(&trace.to_json(reveal))
    }

    /// What the device holds: the registered clients (never their secrets), the keys' public parts.
    #[wasm_bindgen(unchecked_return_type = "DeviceState")]
    pub fn device(&self) -> JsValue {
        let s = self.inner.borrow();
        let summary = |c: &DynamicClient| json!({ "clientId": c.client_id, "softwareId": c.software_id, "registeredAt": c.registered_at, "issuer": c.issuer, "tokenEndpointAuthMethod": c.token_endpoint_auth_method, "destinations": c.destinations.iter().map(crate::client::flow::Destination::to_json).collect::<Vec<_>>() });
        // `client`: the one this configuration's issuer would use (the newest for it).
        let client = s.record.clients.iter().filter(|c| c.issuer == s.config.server.issuer).max_by_key(|c| c.registered_at).map(summary);
        let jwk = s.dpop.public_jwk();
        to_js(&json!({
            "client": client,
            "clients": s.record.clients.iter().map(summary).collect::<Vec<_>>(),
            "storage": device::storage_kind(&s.device),
            "dpop": { "keyStore": match s.dpop { DpopHandle::Wasm(_) => "wasm", DpopHandle::WebCrypto { .. } => "webcrypto" }, "publicJwk": jwk,
                      "thumbprint": crate::proto::jose::thumbprint(&jwk).ok() },
            "credential": s.material.public(&s.config).to_json(),
            "simulator": s.sim.as_ref().map(|sim| json!({ "dynamicClients": sim.dynamic_clients() })),
        }))
    }

    /// "Forget this device": deletes the stored clients, the keys and the simulator's database,
    /// and makes new keys. The next run registers again.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn forget(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        crate::wasm::promise(async move {
            let (config, device, options) = {
                let s = inner.borrow();
                if s.running {
                    return Err(js_error("FLOW_STATE", "a run is in progress: wait for it (or abort it) before forgetting the device", None));
                }
                (s.config.clone(), s.device.clone(), LabOptions { seed: s.seed, ..LabOptions::default() })
            };
            js_remove(&device, RECORD).await.map_err(|e| device::storage_error("forgetting the device", e))?;
            js_remove(&device, WEBCRYPTO_KEY).await.map_err(|e| device::storage_error("forgetting the device", e))?;
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
        crate::wasm::promise(async move {
            let (device, text) = {
                let mut s = inner.borrow_mut();
                let Some(sim) = s.sim.as_mut() else {
                    return Err(js_error(
                        "INVALID_ARGUMENT",
                        "resetServer: this configuration talks to a real server (server.mode \"http\"); only the in-page simulator can be reset",
                        None,
                    ));
                };
                sim.reset_database();
                let state = sim.export_state();
                s.record.simulator = Some(state);
                (s.device.clone(), s.record.to_json())
            };
            device::save_record(&device, &text).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The question a paused run waits on (`{ kind: "form" | "choose" | "redirect" | "poll", … }`),
    /// or `null`. Answer it with `run({ answer })` or `step({ answer })`.
    #[wasm_bindgen(unchecked_return_type = "Question | null")]
    pub fn question(&self) -> JsValue {
        let s = self.inner.borrow();
        let Some(flow) = s.flow.as_ref() else { return JsValue::NULL };
        match flow.question() {
            Some(q) => {
                let mut v = q.to_json();
                flow.trace().scrub(&mut v);
                to_js(&v)
            }
            None => JsValue::NULL,
        }
    }

    /// The polling authenticator's cancel action is sent instead of the next poll.
    #[wasm_bindgen(js_name = cancelPolling)]
    pub fn cancel_polling(&self) {
        self.inner.borrow_mut().cancel_polling = true;
    }

    /// The "other device" of the in-page simulator approves (`true`) or denies every polling
    /// login that waits; resolves to how many it reached. Rejects with `INVALID_ARGUMENT` when
    /// the configuration does not use the in-page simulator.
    #[wasm_bindgen(js_name = decidePolling)]
    pub fn decide_polling(&self, approve: bool) -> Result<u32, JsValue> {
        let mut s = self.inner.borrow_mut();
        let sim =
            s.sim.as_mut().ok_or_else(|| js_error("INVALID_ARGUMENT", "decidePolling: only the in-page simulator has an other device to answer for", None))?;
        Ok(sim.decide_polling(approve))
    }

    /// The wasm key store's DPoP private key, for teaching (`{ pem, jwk }`); `null` for the
    /// non-extractable `webcrypto` store.
    #[wasm_bindgen(js_name = exportDpopKey, unchecked_return_type = "{ pem: string, jwk: string } | null")]
    pub fn export_dpop_key(&self) -> JsValue {
        match &self.inner.borrow().dpop {
            DpopHandle::Wasm(k) => to_js(&json!({ "pem": k.to_pkcs8_pem().expose(), "jwk": k.to_private_jwk().expose() })),
            DpopHandle::WebCrypto { .. } => JsValue::NULL,
        }
    }

    /// The stored device record as it sits in storage (ciphertext), for tests of encryption at rest.
    #[wasm_bindgen(js_name = rawDeviceRecord, unchecked_return_type = "Promise<unknown>")]
    pub fn raw_device_record(&self) -> js_sys::Promise {
        let device = self.inner.borrow().device.clone();
        crate::wasm::promise(async move { js_raw_record(&device, RECORD).await })
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
        let options: LabOptions = if options.is_undefined() || options.is_null() { LabOptions::default() } else { LabOptions::from_json(&from_js(options)?)? };
        let kind = options.storage.clone().unwrap_or_else(|| "indexeddb".into());
        if kind != "indexeddb" && kind != "memory" {
            return Err(js_error("INVALID_ARGUMENT", &format!("storage {kind:?}: use \"indexeddb\" or \"memory\""), None));
        }
        let device = js_open_device(options.device.as_deref().unwrap_or("default"), &kind).await.map_err(|e| device::storage_error("opening the device", e))?;
        Lab::prepare(config, device, options).await
    }

    async fn prepare(config: Config, device: JsValue, options: LabOptions) -> Result<Lab, JsValue> {
        let mut record = device::read_record(&device).await?;
        let mut rng: Box<dyn Entropy> = match options.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed)),
            None => Box::new(OsEntropy),
        };
        let material = device::material_for(&config, &mut record, rng.as_mut()).await?;
        let mut unsaved_webcrypto_key = None;
        let dpop = match config.dpop.key_store {
            KeyStore::Wasm => {
                let key = record
                    .dpop_key_pem
                    .as_deref()
                    .and_then(|pem| P256Key::parse(pem).ok())
                    .unwrap_or_else(|| P256Key::generate(&mut crate::client::material::Rng(rng.as_mut())));
                record.dpop_key_pem = Some(key.to_pkcs8_pem().expose().to_owned());
                DpopHandle::Wasm(key)
            }
            KeyStore::Webcrypto => {
                let mut stored = js_get_plain(&device, WEBCRYPTO_KEY).await.map_err(|e| device::storage_error("reading the DPoP key", e))?;
                if stored.is_null() {
                    stored = device::js_generate_dpop_key().await.map_err(|e| device::storage_error("generating the WebCrypto DPoP key", e))?;
                    unsaved_webcrypto_key = Some(stored.clone());
                }
                let key = Reflect::get(&stored, &"privateKey".into())?;
                let jwk = Reflect::get(&stored, &"publicJwk".into())?.as_string().unwrap_or_default();
                DpopHandle::WebCrypto { key, jwk: crate::proto::json::parse(&jwk).map_err(|e| js_error("STORAGE_ERROR", &e.to_string(), None))? }
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
            Some(modules::SimHandle::open(&config, &material.public(&config), seed, record.simulator.as_ref()).await?)
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
                running: false,
                trace: Trace::default(),
                last_error: None,
                seed: options.seed,
                runs: 0,
                unsaved_webcrypto_key,
                cancel_polling: false,
            })),
        })
    }
}

/// Options of `run` and `step`.
struct RunOptions {
    signal: JsValue,
    flow: FlowOptions,
    answer: Option<InputAnswer>,
}

impl RunOptions {
    fn from(options: Option<JsValue>) -> Result<RunOptions, JsValue> {
        let get = |name: &str| match &options {
            Some(o) if o.is_object() => Reflect::get(o, &name.into()).unwrap_or(JsValue::UNDEFINED),
            _ => JsValue::UNDEFINED,
        };
        let answer = get("answer");
        let answer = if answer.is_undefined() || answer.is_null() { None } else { Some(answer_of(&from_js(answer)?)?) };
        let flow =
            FlowOptions { allow_new_origin: get("allowNewOrigin").as_bool().unwrap_or(false), interactive: get("interactive").as_bool().unwrap_or(false) };
        Ok(RunOptions { signal: get("signal"), flow, answer })
    }
}

/// An answer to the question a paused run asks: `{ values: { field: "value" } }`,
/// `{ choose: index }`, `{ proceed: true }`, `{ cancel: true }` or `{ giveUp: true }`.
fn answer_of(v: &Value) -> Result<InputAnswer, JsValue> {
    let bad = |m: &str| {
        js_error(
            "INVALID_ARGUMENT",
            &format!("answer: {m}; use {{ values: {{ name: \"value\" }} }}, {{ choose: 0 }}, {{ proceed: true }}, {{ cancel: true }} or {{ giveUp: true }}"),
            None,
        )
    };
    let Value::Object(map) = v else { return Err(bad("must be an object")) };
    if map.len() != 1 {
        return Err(bad("must have exactly one member"));
    }
    match map.iter().next() {
        Some((k, Value::Object(values))) if k == "values" => values
            .iter()
            .map(|(name, value)| value.as_str().map(|s| (name.clone(), s.to_owned())).ok_or_else(|| bad(&format!("values.{name} must be a string"))))
            .collect::<Result<Vec<_>, _>>()
            .map(|pairs| InputAnswer::Values(crate::proto::json::map_of(pairs))),
        Some((k, Value::Number(n))) if k == "choose" => {
            n.as_u64().map(|i| InputAnswer::Choose(i as usize)).ok_or_else(|| bad("choose must be an option's index"))
        }
        Some((k, Value::Bool(true))) if k == "proceed" => Ok(InputAnswer::Proceed),
        Some((k, Value::Bool(true))) if k == "cancel" => Ok(InputAnswer::Cancel),
        Some((k, Value::Bool(true))) if k == "giveUp" => Ok(InputAnswer::GiveUp),
        Some((k, _)) => Err(bad(&format!("{k:?} is not an answer"))),
        None => Err(bad("is empty")),
    }
}

/// Runs (or continues) the lab's flow until `until`, through the core's one loop.
async fn drive_lab(inner: Rc<RefCell<Inner>>, until: Until, options: RunOptions) -> Result<JsValue, JsValue> {
    let (mut flow, starting) = {
        let mut s = inner.borrow_mut();
        if s.running {
            return Err(js_error("FLOW_STATE", "a run is already in progress on this Lab: await it (or abort it with its AbortSignal) first", None));
        }
        match s.flow.take() {
            Some(mut flow) if !flow.is_finished() && s.last_error.is_none() => {
                if let Some(answer) = options.answer {
                    if flow.question().is_none() {
                        s.flow = Some(flow);
                        return Err(js_error("FLOW_STATE", "an answer was given but the run asks nothing: answer only a paused run (state \"paused\")", None));
                    }
                    if let Err(e) = flow.on_input(answer, super::now()) {
                        if flow.error().is_none() {
                            // Not an answer to this question (a field still empty): still paused.
                            s.flow = Some(flow);
                            return Err(into_js_error(e));
                        }
                    }
                }
                (flow, false)
            }
            _ if options.answer.is_some() => return Err(js_error("FLOW_STATE", "an answer was given but no run is paused", None)),
            _ => {
                let rng = s.entropy();
                let created = Flow::new(s.config.clone(), &s.material, s.record.clients.clone(), s.dpop.public_jwk(), rng, options.flow);
                match created {
                    Ok(flow) => (flow, true),
                    Err(e) => {
                        // A run that cannot start is still reported through the trace (docs/design.md).
                        s.trace = Trace::refused(e.to_json());
                        s.last_error = Some(e.to_json());
                        return Err(into_js_error(e));
                    }
                }
            }
        }
    };
    {
        let mut s = inner.borrow_mut();
        s.running = true;
        s.last_error = None;
        if starting {
            s.cancel_polling = false;
        }
        s.trace = flow.trace().clone();
    }
    let outcome = async {
        if starting {
            // A run starts: what loading the configuration prepared (keys, material) is kept now.
            let (device, key, text) = {
                let mut s = inner.borrow_mut();
                (s.device.clone(), s.unsaved_webcrypto_key.take(), s.record.to_json())
            };
            if let Some(key) = key {
                js_put_plain(&device, WEBCRYPTO_KEY, &key).await.map_err(|e| Error::Storage(message_of(&e)))?;
            }
            device::save_record(&device, &text).await.map_err(|e| Error::Storage(message_of(&e)))?;
        }
        let mut env = env::WasmEnv { inner: inner.clone(), signal: options.signal };
        drive(&mut flow, &mut env, until).await
    }
    .await;
    let mut s = inner.borrow_mut();
    s.running = false;
    s.trace = flow.trace().clone();
    let result = match outcome {
        Ok(Progress::Stepped) => {
            let last = flow.trace().steps.last().map(|st| st.name.name());
            let v = json!({ "state": "running", "done": false, "step": last, "trace": flow.trace().to_json(false) });
            s.flow = Some(flow);
            return Ok(to_js(&v));
        }
        Ok(Progress::Paused(question)) => {
            let last = flow.trace().steps.last().map(|st| st.name.name());
            let mut v = json!({ "state": "paused", "done": false, "step": last, "question": question.to_json() });
            flow.trace().scrub(&mut v);
            v["trace"] = flow.trace().to_json(false);
            s.flow = Some(flow);
            return Ok(to_js(&v));
        }
        Ok(Progress::Done(outcome)) => Ok(outcome),
        Err(e) => Err(e),
    };
    let last = flow.trace().steps.last().map(|st| st.name.name());
    let mut v = match result {
        Ok(outcome) => json!({ "state": "succeeded", "done": true, "step": last, "error": null, "outcome": outcome.to_json(false) }),
        Err(e) => {
            s.last_error = Some(e.to_json());
            json!({ "state": "failed", "done": true, "step": last, "error": e.to_json(), "outcome": null })
        }
    };
    // The result is redacted as the trace is (Trace::to_json scrubs the trace itself): no secret
    // the run knows of, wherever it appears.
    flow.trace().scrub(&mut v);
    v["trace"] = flow.trace().to_json(false);
    s.flow = Some(flow);
    Ok(to_js(&v))
}
