//! The JavaScript API in headless Chromium: both DPoP key stores, the device store (IndexedDB,
//! encrypted at rest), errors as JS `Error`s with a `code`, and the fetch transport against the
//! local server (started by scripts/test.sh, which sets HAAPI_LAB_TEST_SERVER at build time).
#![cfg(target_arch = "wasm32")]

use haapi_lab::wasm::Lab;
use js_sys::{Reflect, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap()
}

fn rust(v: &JsValue) -> Value {
    serde_json::from_str(&String::from(js_sys::JSON::stringify(v).unwrap())).unwrap()
}

/// The default configuration with the simulator's demo user as `authentication.inputs`, edited.
fn config(edit: impl FnOnce(&mut Value)) -> JsValue {
    let mut v = rust(&haapi_lab::wasm::default_config());
    v["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
    edit(&mut v);
    js(&v)
}

async fn create(config: JsValue, options: Value) -> Lab {
    Lab::open(config, js(&options)).await.unwrap_or_else(|e| panic!("{:?}", rust(&e)))
}

async fn run(lab: &Lab) -> Value {
    rust(&JsFuture::from(lab.run(None)).await.unwrap())
}

fn names(result: &Value) -> Vec<(String, String)> {
    result["trace"]["steps"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().to_owned(), s["status"].as_str().unwrap().to_owned())).collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Math::random().to_string().replace('.', ""))
}

#[wasm_bindgen_test]
async fn the_wasm_key_store_signs_and_can_be_exported() {
    let lab = create(config(|_| {}), json!({ "storage": "memory" })).await;
    let result = run(&lab).await;
    assert_eq!(result["state"], "succeeded", "{result:#}");
    let device = rust(&lab.device());
    assert_eq!(device["dpop"]["keyStore"], "wasm");
    let exported = rust(&lab.export_dpop_key());
    assert!(exported["pem"].as_str().unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[wasm_bindgen_test]
async fn the_webcrypto_key_store_signs_proofs_the_simulator_accepts() {
    let lab = create(config(|v| v["dpop"]["keyStore"] = json!("webcrypto")), json!({ "storage": "memory" })).await;
    let result = run(&lab).await;
    assert_eq!(result["state"], "succeeded", "{result:#}");
    assert!(lab.export_dpop_key().is_null(), "a non-extractable key cannot be exported");
    let device = rust(&lab.device());
    assert_eq!(device["dpop"]["keyStore"], "webcrypto");
    let f4 = result["trace"]["steps"].as_array().unwrap().iter().find(|s| s["name"] == "haapi-token").unwrap();
    let proof = f4["jwts"].as_array().unwrap().iter().find(|j| j["at"] == "request.headers.dpop").unwrap();
    assert_eq!(proof["header"]["jwk"], device["dpop"]["publicJwk"]);
}

#[wasm_bindgen_test]
async fn the_device_persists_encrypted_and_is_reused_then_forgotten() {
    let name = unique("persist");
    let cfg = || config(|v| v["credential"] = json!({ "method": "client_secret_basic", "secret": "Password1" }));
    let lab = create(cfg(), json!({ "device": name })).await;
    let first = run(&lab).await;
    assert_eq!(first["state"], "succeeded", "{first:#}");
    let revealed = rust(&lab.trace(Some(js(&json!({ "reveal": true })))));
    let registration = revealed["steps"].as_array().unwrap().iter().find(|s| s["name"] == "registration").unwrap();
    let body: Value = serde_json::from_str(registration["response"]["body"].as_str().unwrap()).unwrap();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(rust(&lab.device())["storage"], "indexeddb");

    // What sits in IndexedDB is ciphertext: neither the dynamic client's secret nor the main
    // client's secret (nor the client id, in clear) appears in its bytes.
    let raw = JsFuture::from(lab.raw_device_record()).await.unwrap();
    let bytes = Uint8Array::new(&Reflect::get(&raw, &"ciphertext".into()).unwrap()).to_vec();
    assert!(bytes.len() > 100);
    let text = String::from_utf8_lossy(&bytes);
    let client_id = body["client_id"].as_str().unwrap();
    for plain in [secret.as_str(), "Password1", client_id] {
        assert!(!text.contains(plain), "{plain} is stored in clear");
    }
    assert!(!String::from(js_sys::JSON::stringify(&raw).unwrap()).contains(&secret));

    // A new page on the same device reuses the stored client: F1 and F2 are skipped.
    let again = create(cfg(), json!({ "device": name })).await;
    assert_eq!(rust(&again.device())["client"]["clientId"], client_id);
    let second = run(&again).await;
    assert_eq!(second["state"], "succeeded", "{second:#}");
    assert!(names(&second).contains(&("dcr-token".into(), "skipped".into())));
    assert!(names(&second).contains(&("registration".into(), "skipped".into())));

    // Forget the device: the next run registers again.
    JsFuture::from(again.forget()).await.unwrap();
    assert!(rust(&again.device())["client"].is_null());
    let third = run(&again).await;
    assert!(names(&third).contains(&("registration".into(), "ok".into())), "{third:#}");
}

#[wasm_bindgen_test]
async fn errors_reach_javascript_with_a_code_and_their_evidence() {
    let refused = JsFuture::from(Lab::create(config(|v| v["credential"] = json!({ "method": "none" })), None)).await.map(drop).unwrap_err();
    assert!(refused.is_instance_of::<js_sys::Error>());
    let e = rust(&refused);
    let code = Reflect::get(&refused, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("CONFIG_INVALID"), "{e:#}");
    let problems = rust(&Reflect::get(&refused, &"problems".into()).unwrap());
    assert_eq!(problems[0]["path"], "credential.method");

    let lab = create(
        config(|v| {
            v["credential"] = json!({ "method": "client_secret_basic", "secret": "wrong" });
            v["server"]["simulator"] = json!({ "mainClient": { "authentication": { "method": "client_secret_basic", "secret": "Password1" } } });
        }),
        json!({ "storage": "memory" }),
    )
    .await;
    let result = run(&lab).await;
    assert_eq!(result["state"], "failed");
    assert_eq!(result["error"]["code"], "OAUTH_SERVER_ERROR");
    assert_eq!(result["error"]["error"], "invalid_client");
    assert_eq!(result["error"]["status"], 401);
    assert_eq!(result["error"]["step"], "dcr-token");
}

#[wasm_bindgen_test]
async fn step_by_step_reports_each_step() {
    let lab = create(config(|_| {}), json!({ "storage": "memory", "seed": 7 })).await;
    let mut seen = vec![];
    loop {
        let r = rust(&JsFuture::from(lab.step(None)).await.unwrap());
        if r["done"] == true {
            assert_eq!(r["state"], "succeeded", "{r:#}");
            break;
        }
        seen.push(r["step"].as_str().unwrap().to_owned());
    }
    // Each call finished one step (a skipped step is finished along with the next one); the
    // last call (the code exchange) reports done. The login: the redirection-step, the
    // authenticator selector, the form, the redirection-step back to authorize.
    assert_eq!(
        seen,
        ["discovery", "dcr-token", "registration", "store", "haapi-token", "authorize", "authenticate", "authenticate", "authenticate", "authenticate"]
    );
}

#[wasm_bindgen_test]
async fn the_fetch_transport_runs_the_flow_against_the_local_server_with_cors() {
    let Some(server) = option_env!("HAAPI_LAB_TEST_SERVER") else { panic!("set HAAPI_LAB_TEST_SERVER (scripts/test.sh starts the local server and sets it)") };
    let issuer = format!("{server}/oauth/v2/oauth-anonymous");
    let lab = create(
        config(|v| {
            v["server"] = json!({ "mode": "http", "issuer": issuer });
            v["credential"] = json!({ "method": "client_secret_basic", "secret": "Password1" });
        }),
        json!({ "storage": "memory" }),
    )
    .await;
    let result = run(&lab).await;
    assert_eq!(result["state"], "succeeded", "{result:#}");
    let origin = rust(&js_sys::eval("location.origin").unwrap());
    assert_ne!(origin.as_str().unwrap(), server, "the request is cross-origin, so CORS is exercised");
    let authorize = result["trace"]["steps"].as_array().unwrap().iter().find(|s| s["name"] == "authorize").unwrap();
    assert!(authorize["request"]["url"].as_str().unwrap().starts_with(server));
    assert!(authorize["response"]["headers"]["set-session-id"].is_string(), "exposed by CORS");
}

#[wasm_bindgen_test]
async fn dpop_provers_of_both_key_stores_make_proofs_that_verify_with_p256() {
    use p256::ecdsa::signature::Verifier;
    for store in ["wasm", "webcrypto"] {
        let prover: haapi_lab::wasm::DpopProver = {
            let p = JsFuture::from(haapi_lab::wasm::DpopProver::create(store.into())).await.unwrap();
            // The promise resolves to the wrapped Rust value.
            wasm_bindgen::convert::TryFromJsValue::try_from_js_value(p).unwrap_or_else(|_| panic!("{store}: not a DpopProver"))
        };
        let jws =
            JsFuture::from(prover.proof("GET", "https://as.example/authorize?x=1", Some("token".into()), Some("n".into()))).await.unwrap().as_string().unwrap();
        let d = haapi_lab::proto::jose::decode_unverified(&jws).unwrap();
        assert_eq!(d.claims["htu"], "https://as.example/authorize", "{store}");
        assert_eq!(d.claims["ath"], haapi_lab::client::dpop::ath("token"));
        assert_eq!(d.claims["nonce"], "n");
        let vk = haapi_lab::proto::jose::p256::verifying_key_from_jwk(&Value::Object(d.header["jwk"].as_object().unwrap().clone())).unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&haapi_lab::proto::jose::b64url_decode(sig).unwrap()).unwrap();
        vk.verify(input.as_bytes(), &sig).unwrap_or_else(|e| panic!("{store}: {e}"));
    }
}
