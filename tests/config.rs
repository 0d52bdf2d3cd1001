//! The configuration document: parsing, every problem at once, field paths, refusals.

use haapi_lab::client::config::{Config, Method};
use serde_json::json;

fn doc() -> serde_json::Value {
    json!({
        "version": 1,
        "server": { "mode": "simulator", "issuer": "https://localhost:8443/oauth/v2/oauth-anonymous",
                    "endpoints": { "token": null, "registration": null, "authorization": null, "cat": null }, "sendVia": null },
        "client": { "clientId": "haapi-android-client", "templateClientId": "haapi-template-client", "redirectUri": "app://haapi", "scope": "openid profile" },
        "credential": { "method": "private_key_jwt", "secret": null, "alg": "ES256", "privateKey": null, "certificate": null, "audience": null },
        "dpop": { "alg": "ES256", "keyStore": "wasm" },
        "device": { "attestation": "unsupported" },
        "stopAfter": null
    })
}

fn problems(v: serde_json::Value) -> Vec<(String, String)> {
    Config::from_value(&v).unwrap_err().into_iter().map(|p| (p.path, p.message)).collect()
}

#[test]
fn the_design_example_parses_and_equals_the_default() {
    let c = Config::from_value(&doc()).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(Config::from_value(&c.to_json()).unwrap(), c);
}

#[test]
fn method_none_is_refused_with_advice() {
    let mut v = doc();
    v["credential"] = json!({ "method": "none" });
    let p = problems(v);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, "credential.method");
    for hint in ["secret", "mutual TLS", "signed JWT", "fails before reaching the server"] {
        assert!(p[0].1.contains(hint), "{}", p[0].1);
    }
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let mut v = doc();
    v["server"]["issuer"] = json!("not a url");
    v["server"]["colour"] = json!("blue");
    v["credential"]["method"] = json!("client_secret_basic");
    v["credential"]["alg"] = json!(null);
    v["client"]["clientId"] = json!("");
    v["dpop"]["alg"] = json!("HS256");
    v["extra"] = json!(1);
    let paths: Vec<String> = problems(v).into_iter().map(|p| p.0).collect();
    for path in ["server.issuer", "server.colour", "credential.secret", "client.clientId", "dpop.alg", "extra"] {
        assert!(paths.contains(&path.to_owned()), "{path} missing from {paths:?}");
    }
}

#[test]
fn type_errors_name_their_path() {
    let mut v = doc();
    v["credential"]["method"] = json!("client_secret_magic");
    let p = problems(v);
    assert_eq!(p[0].0, "credential.method");
    assert!(p[0].1.contains("client_secret_magic"), "{}", p[0].1);
}

#[test]
fn algorithms_must_fit_the_method_and_the_key() {
    let mut v = doc();
    v["credential"] = json!({ "method": "client_secret_jwt", "secret": "s", "alg": "ES256" });
    assert_eq!(problems(v.clone())[0].0, "credential.alg");
    v["credential"] = json!({ "method": "private_key_jwt", "alg": "HS256" });
    assert!(problems(v.clone())[0].1.contains("client_secret_jwt"));
    v["credential"] = json!({ "method": "private_key_jwt", "alg": "ES512" });
    assert!(problems(v.clone())[0].1.contains("ES512"));
    let key = haapi_lab::proto::jose::p256::P256Key::generate(&mut haapi_lab::proto::entropy::SeededEntropy::new(1));
    v["credential"] = json!({ "method": "private_key_jwt", "alg": "RS256", "privateKey": key.to_pkcs8_pem().expose() });
    let p = problems(v);
    assert!(p[0].1.contains("P-256") && p[0].1.contains("ES256"), "{p:?}");
}

#[test]
fn a_real_server_needs_registered_key_material() {
    let mut v = doc();
    v["server"]["mode"] = json!("http");
    let p = problems(v);
    assert_eq!(p[0].0, "credential.privateKey");
}

#[test]
fn attestation_supported_is_explained() {
    let mut v = doc();
    v["device"]["attestation"] = json!("supported");
    assert_eq!(problems(v)[0].0, "device.attestation");
}

#[test]
fn every_method_but_none_has_a_valid_document() {
    for m in Method::ALL {
        let mut v = doc();
        v["credential"] = match m {
            Method::ClientSecretBasic | Method::ClientSecretPost => json!({ "method": m.name(), "secret": "Password1" }),
            Method::ClientSecretJwt => json!({ "method": m.name(), "secret": "Password1", "alg": "HS256" }),
            Method::PrivateKeyJwt => json!({ "method": m.name(), "alg": "ES256" }),
            Method::TlsClientAuth | Method::SelfSignedTlsClientAuth => json!({ "method": m.name() }),
            Method::None => continue,
        };
        Config::from_value(&v).unwrap_or_else(|e| panic!("{}: {e:?}", m.name()));
    }
}

#[test]
fn a_key_without_its_certificate_is_refused_for_mutual_tls() {
    let key = haapi_lab::proto::jose::p256::P256Key::generate(&mut haapi_lab::proto::entropy::SeededEntropy::new(2));
    let mut v = doc();
    v["credential"] = json!({ "method": "tls_client_auth", "privateKey": key.to_pkcs8_pem().expose() });
    let p = problems(v);
    assert_eq!(p[0].0, "credential.certificate", "{p:?}");
}

#[test]
fn simulator_overrides_are_checked_with_their_path_and_no_internal_position() {
    let p = haapi_lab::lab::check_simulator_overrides(&json!({ "dpopNonce": "sometimes" }));
    assert_eq!(p[0].path, "server.simulator.dpopNonce");
    assert!(p[0].message.contains("sometimes") && !p[0].message.contains("line 1"), "{}", p[0].message);
    let p = haapi_lab::lab::check_simulator_overrides(&json!({ "colour": 1 }));
    assert!(p[0].message.contains("colour"), "{p:?}");
    assert!(haapi_lab::lab::check_simulator_overrides(&json!({ "dpopNonce": "required" })).is_empty());
}

#[test]
fn debug_output_redacts_the_secret_and_the_key() {
    let mut v = doc();
    v["credential"] = json!({ "method": "client_secret_basic", "secret": "Password1" });
    let text = format!("{:?}", Config::from_value(&v).unwrap());
    assert!(!text.contains("Password1") && text.contains("[redacted]"), "{text}");
}
