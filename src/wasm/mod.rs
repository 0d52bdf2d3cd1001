//! The JavaScript APIs (wasm-bindgen) of the four WebAssembly modules built from this crate:
//!
//! | module | feature | exports |
//! |---|---|---|
//! | `pkg/haapi_lab.js` | `wasm-client` | `Lab`, `DpopProver`, configuration checks, JWT decoding ([`client`]) |
//! | `pkg/sim-lite/haapi_lab_sim_lite.js` | `wasm-sim-lite` | `SimServer`, the simulated Curity verifying HS* and ES256 ([`sim`]) |
//! | `pkg/sim/haapi_lab_sim.js` | `wasm-sim` | the same `SimServer` with RSA, P-384 and X.509 |
//! | `pkg/tools/haapi_lab_tools.js` | `wasm-tools` | RSA and P-384 keys, certificates ([`tools`]) |
//!
//! Thin by rule: each export converts its arguments, calls the core and converts the result.
//! Values cross as JSON (one serializer, one error shape); no DOM code lives here.

#[cfg(feature = "wasm-client")]
mod client;
#[cfg(feature = "wasm-client")]
pub use client::{api::*, DpopProver, Lab};
#[cfg(any(feature = "wasm-sim", feature = "wasm-sim-lite"))]
mod sim;
#[cfg(feature = "wasm-tools")]
mod tools;

use js_sys::Reflect;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// A JSON value as a JavaScript value (through JSON text: one small path instead of a serializer
/// per type; JavaScript receives plain objects).
pub(crate) fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}

/// A JavaScript value as JSON (`INVALID_ARGUMENT` when it is not JSON-like: a function, a
/// `BigInt`, a cycle).
#[cfg(feature = "wasm-client")]
pub(crate) fn from_js(value: JsValue) -> Result<Value, JsValue> {
    if value.is_undefined() {
        return Ok(Value::Null);
    }
    let not_json =
        |why: String| js_error("INVALID_ARGUMENT", &format!("expected a JSON value (an object, array, string, number, boolean or null): {why}"), None);
    let text = js_sys::JSON::stringify(&value).map_err(|e| not_json(client::message_of(&e)))?;
    let text = text.as_string().ok_or_else(|| not_json("it has no JSON form".into()))?;
    crate::proto::json::parse(&text).map_err(|e| not_json(e.to_string()))
}

/// A future as a `Promise`. Every export goes through this one (boxed) instantiation of
/// `future_to_promise` instead of one per future type.
#[cfg(feature = "wasm-client")]
pub(crate) fn promise(future: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> js_sys::Promise {
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> = Box::pin(future);
    wasm_bindgen_futures::future_to_promise(boxed)
}

/// A JS `Error` with `code` and, when given, the evidence fields.
pub(crate) fn js_error(code: &str, message: &str, evidence: Option<&Value>) -> JsValue {
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

/// The time, from the JavaScript clock (the only place the modules read one).
#[cfg(any(feature = "wasm-client", feature = "wasm-sim", feature = "wasm-sim-lite"))]
pub(crate) fn now() -> crate::proto::clock::Timestamp {
    crate::proto::clock::Timestamp::from_millis(js_sys::Date::now() as u64)
}

/// A coded error from an error whose text is the message.
pub(crate) fn coded<E: std::fmt::Display>(code: &'static str) -> impl Fn(E) -> JsValue {
    move |e| js_error(code, &e.to_string(), None)
}
