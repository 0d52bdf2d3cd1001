//! The library inside a real browser: headless Chromium, through `wasm-bindgen-test-runner`.
//!
//! Run by `bash scripts/test.sh`, or by hand (after `bash scripts/setup.sh`):
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown --test wasm
//! ```
//!
//! Native `cargo test` compiles this file to nothing. Each test fails if the feature it names is
//! broken in WebAssembly: the cryptography, the browser's random number generator, and the whole
//! attestation fallback against the simulator running inside the module.
#![cfg(target_arch = "wasm32")]

use haapi_lab::proto::entropy::{Entropy, OsEntropy};
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::verify::{verify_jws, VerifyKey};
use haapi_lab::proto::jose::{self, Alg, JoseError};
use serde_json::json;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `globalThis[name]`, or `undefined`.
fn global(name: &str) -> JsValue {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// These tests are about the browser: make sure that is where they run (not Node, not a worker),
/// and in one of the two browsers the suite drives (scripts/test.sh checks, from the runner's
/// output, that each run was in the browser it asked for).
#[wasm_bindgen_test]
fn runs_in_a_browser_window() {
    assert!(global("document").is_object(), "no `document`: not running in a browser page");
    let navigator = global("navigator");
    let user_agent = js_sys::Reflect::get(&navigator, &JsValue::from_str("userAgent")).ok().and_then(|v| v.as_string()).unwrap_or_default();
    console_log!("user agent: {user_agent}");
    // Chromium: "... AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36" (its
    // headless mode may say HeadlessChrome/); Firefox: "... rv:153.0) Gecko/20100101 Firefox/153.0".
    let chromium = user_agent.contains("Chrome/") && !user_agent.contains("Firefox/");
    let firefox = user_agent.contains("Firefox/") && user_agent.contains("Gecko/20100101");
    assert!(chromium || firefox, "expected Chromium or Firefox, got user agent {user_agent:?}");
}

#[wasm_bindgen_test]
fn es256_jwt_signs_and_verifies() {
    let key = PrivateKey::generate_for(Alg::ES256, &mut OsEntropy).unwrap();
    let claims = json!({ "iss": "haapi-android-client", "sub": "haapi-android-client", "aud": "https://as.example/token", "iat": 1_800_000_000u64 });
    let jwt = key.sign_jwt(Alg::ES256, None, None, &claims, &mut OsEntropy).expect("ES256 signing works in wasm");
    let vk = VerifyKey::from_jwk(&key.public_jwk()).unwrap();
    let decoded = verify_jws(&jwt, &vk, &[Alg::ES256]).expect("the signature verifies with the signer's public key");
    assert_eq!(decoded.header["alg"], "ES256");
    assert_eq!(serde_json::Value::Object(decoded.claims), claims);

    // A verifier that accepts anything would pass the checks above: make sure it does not.
    let other = PrivateKey::generate_for(Alg::ES256, &mut OsEntropy).unwrap();
    assert_eq!(verify_jws(&jwt, &VerifyKey::from_jwk(&other.public_jwk()).unwrap(), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let mut sig = jose::b64url_decode(signature).unwrap();
    sig[10] ^= 1;
    let tampered = format!("{signed}.{}", jose::b64url(&sig));
    assert_eq!(verify_jws(&tampered, &vk, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    assert!(matches!(verify_jws(&jwt, &vk, &[Alg::RS256]), Err(JoseError::UnsupportedAlg(_))));
}

#[wasm_bindgen_test]
fn os_entropy_uses_the_browser_csprng() {
    let mut rng = OsEntropy;
    let (a, b) = (rng.token(32), rng.token(32));
    assert_eq!(a.len(), 43, "32 bytes are 43 base64url characters without padding");
    assert_eq!(jose::b64url_decode(&a).unwrap().len(), 32);
    assert_ne!(a, b, "two random tokens are equal");
    let mut bytes = [0u8; 64];
    rand_core::RngCore::fill_bytes(&mut rng, &mut bytes);
    assert!(bytes.iter().any(|&b| b != 0), "the random bytes are all zero");
}

#[cfg(all(feature = "sim", feature = "tools"))]
mod fallback {
    use super::*;
    use haapi_lab::client::config::Config;
    use haapi_lab::client::trace::{Status, Trace};
    use haapi_lab::lab::SimLab;
    use haapi_lab::proto::clock::Timestamp;

    const T0: u64 = 1_800_000_000;

    fn steps(trace: &Trace) -> Vec<(&'static str, Status)> {
        trace.steps.iter().map(|s| (s.name.name(), s.status)).collect()
    }

    fn assert_full_fallback(trace: &Trace) {
        use Status::*;
        assert_eq!(
            steps(trace),
            [
                ("discovery", Ok),
                ("attestation", Skipped),
                ("dcr-token", Ok),
                ("registration", Ok),
                ("store", Ok),
                ("haapi-token", Ok),
                ("authorize", Ok),
                ("authenticate", Ok),
                ("authenticate", Ok),
                ("authenticate", Ok),
                ("authenticate", Ok),
                ("code-exchange", Ok)
            ],
            "the trace of a first run"
        );
    }

    /// The default configuration, logging in as the simulator's demo user.
    fn demo_config() -> Config {
        let mut v = Config::default().to_json();
        v["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
        Config::from_value(&v).expect("valid")
    }

    #[wasm_bindgen_test]
    fn private_key_jwt_fallback_then_reuse_of_the_stored_client() {
        let config = demo_config();
        let mut lab = SimLab::new(&config, 7, Timestamp::from_secs(T0)).expect("the simulator starts");

        let run = lab.run(&config, Timestamp::from_secs(T0)).expect("the first run succeeds");
        assert_full_fallback(&run.trace);
        let client_id = run.outcome.dynamic_client_id.clone().expect("a dynamic client was registered");
        assert!(!run.outcome.reused_stored_client);
        assert!(run.outcome.haapi_token.is_some(), "no HAAPI token");
        let representation = run.outcome.representation.as_ref().expect("the walk ended on a representation");
        assert_eq!(representation["type"], "oauth-authorization-response");
        assert_eq!(run.outcome.subject.as_deref(), Some("demo"));
        assert!(run.outcome.tokens.is_some(), "the code bought tokens");

        let again = lab.run(&config, Timestamp::from_secs(T0 + 60)).expect("the second run succeeds");
        assert!(again.outcome.reused_stored_client, "the stored client was not reused");
        assert_eq!(again.outcome.dynamic_client_id.as_deref(), Some(client_id.as_str()));
        for step in ["dcr-token", "registration", "store"] {
            let s = again.trace.steps.iter().find(|s| s.name.name() == step).unwrap_or_else(|| panic!("no {step} step in the second trace"));
            assert_eq!(s.status, Status::Skipped, "{step} should be skipped when the stored client is reused");
        }
        for step in ["haapi-token", "authorize", "authenticate", "code-exchange"] {
            let s = again.trace.steps.iter().find(|s| s.name.name() == step).unwrap_or_else(|| panic!("no {step} step in the second trace"));
            assert_eq!(s.status, Status::Ok, "{step} on the second run");
        }
    }

    #[wasm_bindgen_test]
    fn client_secret_basic_fallback() {
        // The README's example configuration, with a client secret instead of a JWT.
        let config = Config::from_json(
            &json!({
                "version": 1,
                "server": { "mode": "simulator", "issuer": "https://localhost:8443/oauth/v2/oauth-anonymous" },
                "client": {
                    "clientId": "haapi-android-client",
                    "templateClientId": "haapi-template-client",
                    "redirectUri": "app://haapi",
                    "scope": "openid profile"
                },
                "credential": { "method": "client_secret_basic", "secret": "Password1", "alg": null },
                "dpop": { "alg": "ES256", "keyStore": "wasm" },
                "device": { "attestation": "unsupported" },
                "authentication": { "inputs": { "userName": "demo", "password": "Password1" } },
                "stopAfter": null
            })
            .to_string(),
        )
        .expect("the document is valid");
        let mut lab = SimLab::new(&config, 7, Timestamp::from_secs(T0)).expect("the simulator starts");
        let run = lab.run(&config, Timestamp::from_secs(T0)).expect("the run succeeds");
        assert_full_fallback(&run.trace);
        assert!(run.outcome.dynamic_client_id.is_some());
        let dcr = run.trace.steps.iter().find(|s| s.name.name() == "dcr-token").unwrap();
        let request = dcr.request.as_ref().expect("the dcr-token step recorded its request");
        assert_eq!(
            request.headers.get("authorization"),
            Some(haapi_lab::client::client_auth::basic_authorization("haapi-android-client", "Password1").as_str())
        );
        assert_eq!(run.outcome.representation.as_ref().unwrap()["type"], "oauth-authorization-response");
    }
}
