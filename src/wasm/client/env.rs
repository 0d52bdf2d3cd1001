//! The browser's (or worker's, or Node's) [`Environment`] for the one run loop: `fetch` or the
//! simulated server, the device's keys (wasm or WebCrypto; the tools module for RSA and
//! P-384), IndexedDB, the JavaScript clock, an `AbortSignal`.

use super::device::{js_hmac_sign, js_send, js_sign_es256, js_sleep, save_record};
use super::{message_of, DpopHandle, Inner};
use crate::client::client_auth::{KeyRole, SignRequest};
use crate::client::driver::{ClientStore, Environment};
use crate::client::error::Error;
use crate::client::flow::{DynamicClient, Flow, InputAnswer, InputKind, InputRequest};
use crate::proto::clock::Timestamp;
use crate::proto::http::{HttpRequest, HttpResponse, TransportError, MAX_RESPONSE_BYTES};
use crate::proto::jose::Alg;
use js_sys::{Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// One run's environment. It borrows the lab's state only between awaits, never across one.
pub(crate) struct WasmEnv {
    pub(crate) inner: Rc<RefCell<Inner>>,
    pub(crate) signal: JsValue,
}

impl WasmEnv {
    async fn save(&self) -> Result<(), Error> {
        let (device, text) = {
            let s = self.inner.borrow();
            (s.device.clone(), s.record.to_json())
        };
        save_record(&device, &text).await.map_err(|e| Error::Storage(message_of(&e)))
    }
}

impl Environment for WasmEnv {
    fn now(&mut self) -> Timestamp {
        super::super::now()
    }

    async fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let (simulated, timeout_ms) = {
            let mut s = self.inner.borrow_mut();
            let now = super::super::now();
            let timeout_ms = s.config.server.timeout_ms;
            (s.sim.as_mut().map(|sim| sim.handle(request, now)), timeout_ms)
        };
        match simulated {
            Some(answer) => {
                let response = answer.map_err(|e| format!("the simulated server failed: {}", message_of(&e)))?;
                // The in-page server's database changed (a registration): keep it with the device.
                let changed = {
                    let mut s = self.inner.borrow_mut();
                    let state = s.sim.as_ref().map(|sim| sim.export_state());
                    let changed = state != s.record.simulator;
                    s.record.simulator = state;
                    changed
                };
                if changed {
                    self.save().await.map_err(|e| e.to_string())?;
                }
                Ok(response)
            }
            None => fetch(request, &self.signal, timeout_ms).await,
        }
    }

    async fn sign(&mut self, job: &SignRequest) -> Result<Vec<u8>, Error> {
        enum How {
            Here(Vec<u8>),
            WebCrypto(JsValue),
            Hmac(String),
            Tools(String),
        }
        let how = {
            let s = self.inner.borrow();
            match (job.role, &s.dpop) {
                (KeyRole::Dpop, DpopHandle::Wasm(k)) => How::Here(k.sign(job.signing_input.as_bytes())),
                (KeyRole::Dpop, DpopHandle::WebCrypto { key, .. }) => How::WebCrypto(key.clone()),
                (KeyRole::SharedSecret, _) => {
                    How::Hmac(s.config.credential.secret.clone().ok_or_else(|| Error::State("client_secret_jwt without credential.secret".into()))?)
                }
                (KeyRole::Assertion, _) => {
                    let key = s.material.assertion_key.as_ref().ok_or_else(|| Error::State("no assertion key".into()))?;
                    match key.as_p256() {
                        Some(k) => How::Here(k.sign(job.signing_input.as_bytes())),
                        None => How::Tools(key.pkcs8_pem.expose().to_owned()),
                    }
                }
            }
        };
        match how {
            How::Here(signature) => Ok(signature),
            How::WebCrypto(key) => {
                let sig = js_sign_es256(&key, job.signing_input.as_bytes())
                    .await
                    .map_err(|e| Error::Crypto(format!("the WebCrypto key could not sign: {}", message_of(&e))))?;
                Ok(Uint8Array::new(&sig).to_vec())
            }
            How::Hmac(secret) => {
                let hash = match job.alg {
                    Alg::HS384 => "SHA-384",
                    Alg::HS512 => "SHA-512",
                    _ => "SHA-256",
                };
                let mac = js_hmac_sign(hash, &secret, job.signing_input.as_bytes())
                    .await
                    .map_err(|e| Error::Crypto(format!("WebCrypto could not compute the HMAC: {}", message_of(&e))))?;
                Ok(Uint8Array::new(&mac).to_vec())
            }
            How::Tools(pem) => super::modules::sign(job.alg, &pem, job.signing_input.as_bytes()).await,
        }
    }

    async fn store(&mut self, client: &DynamicClient) -> Result<(), Error> {
        ClientStore::store(&mut self.inner.borrow_mut().record.clients, client);
        self.save().await
    }

    async fn forget(&mut self, client_id: &str) -> Result<(), Error> {
        ClientStore::forget(&mut self.inner.borrow_mut().record.clients, client_id);
        self.save().await
    }

    /// Polls go on by themselves after the configured wait (the app polls; the person may cancel
    /// with `cancelPolling`). Anything else pauses the run until `run` or `step` brings an
    /// `answer`.
    async fn input(&mut self, request: &InputRequest) -> Option<InputAnswer> {
        match &request.kind {
            InputKind::Poll { interval_ms, .. } => {
                js_sleep(*interval_ms as f64).await;
                let cancel = std::mem::take(&mut self.inner.borrow_mut().cancel_polling);
                Some(if cancel { InputAnswer::Cancel } else { InputAnswer::Proceed })
            }
            _ => None,
        }
    }

    fn cancelled(&mut self) -> Option<String> {
        let aborted = self.signal.is_object() && Reflect::get(&self.signal, &"aborted".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
        aborted.then(|| "aborted by the caller (AbortSignal)".to_owned())
    }

    fn progressed(&mut self, flow: &Flow) {
        self.inner.borrow_mut().trace = flow.trace().clone();
    }
}

/// Sends through the global `fetch`, within `timeout_ms` and reading at most
/// [`MAX_RESPONSE_BYTES`] of the body. A HAAPI client does not follow redirects: said, not
/// hidden. What went wrong (CORS, a timeout, a cut or oversized body) comes back typed, with what
/// arrived. A mutual-TLS request goes with `credentials: "include"`: a client certificate is a
/// credential to fetch, and the browser presents the one it holds for that server (imported as
/// PKCS#12), not one the page chooses.
async fn fetch(request: &HttpRequest, signal: &JsValue, timeout_ms: u32) -> Result<HttpResponse, TransportError> {
    let credentials = if request.client_certificate.is_some() { "include" } else { "omit" };
    let headers = Object::new();
    for (k, v) in request.headers.iter() {
        let _ = Reflect::set(&headers, &k.into(), &v.into());
    }
    let out = js_send(&request.method, &request.url, &headers, request.body.clone(), signal, timeout_ms, MAX_RESPONSE_BYTES as u32, credentials)
        .await
        .map_err(|e| TransportError::network(format!("{} (a network error, a refused connection, or a CORS refusal by the browser)", message_of(&e))))?;
    let v = crate::proto::json::parse(&out.as_string().unwrap_or_default()).map_err(|e| TransportError::network(e.to_string()))?;
    if let Some(failure) = v.get("failure") {
        return Err(TransportError::from_json(failure));
    }
    Ok(HttpResponse::from_json(&v)?)
}
