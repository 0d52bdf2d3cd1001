//! The simulated Curity refuses what a real server must refuse: each test crafts one bad request
//! and checks the exact status, `error` code and, where the RFCs require one, the
//! `WWW-Authenticate` challenge.
#![cfg(feature = "sim")]

#[path = "support/sim.rs"]
mod support;

use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::http::HttpRequest;
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::{self, Alg};
use haapi_lab::proto::x509;
use haapi_lab::sim::{AcceptAudience, DpopNonceMode, SimSettings};
use serde_json::json;
use support::*;

// ---------------------------------------------------------------- client assertions (RFC 7523)

fn assertion_lab() -> Lab {
    Lab::new(private_key_jwt_settings())
}

#[track_caller]
fn refuse_assertion(lab: &mut Lab, assertion: &str, reason: &str) -> serde_json::Value {
    let r = lab.send(&assertion_request(assertion));
    assert!(r.header("www-authenticate").is_none(), "no Basic was attempted: {r:?}");
    assert_refused(&r, 401, "invalid_client", reason)
}

#[test]
fn assertion_with_wrong_aud() {
    let mut lab = assertion_lab();
    let mut c = assertion_claims("j1", NOW);
    c["aud"] = json!("https://proxy.example/oauth/v2/oauth-token");
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "does not identify this server");
}

#[test]
fn assertion_with_issuer_as_aud_depends_on_the_setting() {
    let mut c = assertion_claims("j1", NOW);
    c["aud"] = json!([ISSUER]);
    let a = sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c);
    refuse_assertion(&mut assertion_lab(), &a, "does not identify this server");
    let mut s = private_key_jwt_settings();
    s.accept_audience = AcceptAudience::TokenEndpointOrIssuer;
    assert_eq!(Lab::new(s).send(&assertion_request(&a)).status, 200);
}

#[test]
fn expired_assertion() {
    let mut lab = assertion_lab();
    let c = assertion_claims("j1", NOW - 200); // exp = NOW - 140, beyond the 10 s skew
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "expired");
}

#[test]
fn assertion_not_yet_valid_by_nbf() {
    let mut lab = assertion_lab();
    let mut c = assertion_claims("j1", NOW);
    c["nbf"] = json!(NOW + 30);
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "not valid yet");
}

#[test]
fn assertion_issued_in_the_future() {
    let mut lab = assertion_lab();
    let c = assertion_claims("j1", NOW + 30);
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "in the future");
}

#[test]
fn assertion_lifetime_too_long() {
    let mut lab = assertion_lab();
    let mut c = assertion_claims("j1", NOW);
    c["exp"] = json!(NOW + 3600);
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "lives 3600s");
}

#[test]
fn replayed_assertion_jti() {
    let mut lab = assertion_lab();
    let a = sign_assertion(&main_key(), Alg::ES256, Some("k1"), &assertion_claims("once", NOW));
    assert_eq!(lab.send(&assertion_request(&a)).status, 200);
    lab.now += 5;
    refuse_assertion(&mut lab, &a, "already used");
}

#[test]
fn assertion_signed_by_another_key() {
    let mut lab = assertion_lab();
    let other = PrivateKey::generate_for(Alg::ES256, &mut SeededEntropy::new(99)).unwrap();
    refuse_assertion(&mut lab, &sign_assertion(&other, Alg::ES256, Some("k1"), &assertion_claims("j1", NOW)), "signature does not verify");
}

#[test]
fn unsigned_assertion_with_alg_none() {
    let mut lab = assertion_lab();
    let header = jose::b64url(br#"{"alg":"none"}"#);
    let claims = jose::b64url(assertion_claims("j1", NOW).to_string().as_bytes());
    refuse_assertion(&mut lab, &format!("{header}.{claims}."), "alg \"none\"");
}

#[test]
fn hmac_assertion_keyed_with_the_public_key_is_algorithm_confusion() {
    let mut lab = assertion_lab();
    let public_pem = main_key().public_key_pem();
    let a = sign_assertion_hmac(public_pem.as_bytes(), Alg::HS256, &assertion_claims("j1", NOW));
    refuse_assertion(&mut lab, &a, "algorithm confusion");
}

#[test]
fn asymmetric_assertion_for_a_client_secret_jwt_client_is_algorithm_confusion() {
    let mut lab = Lab::new(client_secret_jwt_settings());
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, None, &assertion_claims("j1", NOW)), "algorithm confusion");
}

#[test]
fn assertion_with_unknown_kid() {
    let mut lab = assertion_lab();
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k2"), &assertion_claims("j1", NOW)), "unknown kid");
}

#[test]
fn assertion_iss_differs_from_sub() {
    let mut lab = assertion_lab();
    let mut c = assertion_claims("j1", NOW);
    c["iss"] = json!("someone-else");
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "iss (someone-else)");
}

#[test]
fn assertion_without_jti() {
    let mut lab = assertion_lab();
    let mut c = assertion_claims("j1", NOW);
    c.as_object_mut().unwrap().remove("jti");
    refuse_assertion(&mut lab, &sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c), "needs a jti");
}

// ---------------------------------------------------------------- client secrets (RFC 6749 §2.3.1)

#[test]
fn wrong_secret_with_basic_gets_a_basic_challenge() {
    let mut lab = Lab::standard();
    let mut r = dcr_request();
    r.headers.set("authorization", basic(MAIN, "Password2"));
    let resp = lab.send(&r);
    assert_refused(&resp, 401, "invalid_client", "wrong client secret");
    assert_challenge(&resp, "Basic", None);
}

#[test]
fn wrong_secret_with_client_secret_post() {
    let mut s = raw();
    s.main_client.authentication = haapi_lab::sim::ClientAuthentication::ClientSecretPost { secret: "Password1".into() };
    let mut lab = Lab::new(s);
    let r = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_id", MAIN), ("client_secret", "nope")]);
    let resp = lab.send(&r);
    assert_refused(&resp, 401, "invalid_client", "wrong client secret");
    assert!(resp.header("www-authenticate").is_none());
}

#[test]
fn secret_sent_with_a_method_the_client_is_not_registered_for() {
    let mut lab = Lab::standard(); // client_secret_basic
    let r = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_id", MAIN), ("client_secret", "Password1")]);
    assert_refused(&lab.send(&r), 401, "invalid_client", "registered for client_secret_basic");
}

#[test]
fn two_authentication_methods_in_one_request() {
    let mut lab = Lab::standard();
    let mut r = dcr_request();
    r.set_form_param("client_secret", "Password1");
    assert_refused(&lab.send(&r), 400, "invalid_request", "more than one");
}

#[test]
fn unknown_client() {
    let mut lab = Lab::standard();
    let mut r = dcr_request();
    r.headers.set("authorization", basic("nobody", "Password1"));
    let resp = lab.send(&r);
    assert_refused(&resp, 401, "invalid_client", "unknown client");
    assert_challenge(&resp, "Basic", None);
}

// ---------------------------------------------------------------- mutual TLS (RFC 8705)

#[test]
fn certificate_from_an_untrusted_ca() {
    let (ca, _) = ca_and_leaf(1, 86400);
    let (_, foreign_leaf) = ca_and_leaf(2, 86400);
    let mut lab = Lab::new(tls_settings(&ca.certificate_pem));
    assert_refused(&lab.send(&mtls_request(Some(&foreign_leaf.certificate_pem))), 401, "invalid_client", "not issued by a CA trusted");
}

#[test]
fn expired_certificate() {
    let (ca, leaf) = ca_and_leaf(1, 30); // valid NOW-60 .. NOW-30
    let mut lab = Lab::new(tls_settings(&ca.certificate_pem));
    assert_refused(&lab.send(&mtls_request(Some(&leaf.certificate_pem))), 401, "invalid_client", "expired");
}

#[test]
fn self_signed_certificate_with_another_key_than_the_pin() {
    let mut rng = SeededEntropy::new(5);
    let registered = x509::self_signed_client_certificate("device", NOW - 60, 86400, &mut rng).unwrap();
    let other = x509::self_signed_client_certificate("device", NOW - 60, 86400, &mut rng).unwrap();
    let mut lab = Lab::new(pinned_settings(&x509::spki_sha256_pin(&registered.certificate_pem).unwrap()));
    assert_refused(&lab.send(&mtls_request(Some(&other.certificate_pem))), 401, "invalid_client", "not the one registered");
}

#[test]
fn no_client_certificate() {
    let (ca, _) = ca_and_leaf(1, 86400);
    let mut lab = Lab::new(tls_settings(&ca.certificate_pem));
    assert_refused(&lab.send(&mtls_request(None)), 401, "invalid_client", "no client certificate presented");
}

// ---------------------------------------------------------------- the dcr token and registration (RFC 7591)

#[test]
fn dcr_token_is_single_use() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    register(&mut lab, &dcr);
    let r = lab.send(&registration_request(&dcr, r#"{"software_id":"haapi-template-client"}"#));
    assert_refused(&r, 401, "invalid_token", "already used");
    assert_challenge(&r, "Bearer", Some("invalid_token"));
}

#[test]
fn a_dcr_token_changed_or_cut_is_not_one() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    assert_eq!(dcr.len(), 43, "32 random bytes, base64url: {dcr}");
    let flipped = format!("{}{}{}", &dcr[..10], if &dcr[10..11] == "A" { 'B' } else { 'A' }, &dcr[11..]);
    for other in [flipped.as_str(), &dcr[..42], &format!("{dcr}A"), "not base64 at all, but 43 characters long!"] {
        let r = lab.send(&registration_request(other, r#"{"software_id":"haapi-template-client"}"#));
        assert_refused(&r, 401, "invalid_token", "not a dcr token this server issued");
    }
    // The real one still registers.
    register(&mut lab, &dcr);
}

#[test]
fn dcr_token_presented_at_the_token_endpoint() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    let mut r = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr")]);
    r.headers.set("authorization", format!("Bearer {dcr}"));
    assert_refused(&lab.send(&r), 400, "invalid_request", "dcr token");
}

#[test]
fn dcr_token_presented_at_authorize() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    for scheme in ["Bearer", "DPoP"] {
        let proof = DpopKey::new(7).proof("GET", AUTHORIZE, NOW, Some(&dcr));
        let r = lab.send(&authorize_request(MAIN, Some(&format!("{scheme} {dcr}")), Some(&proof)));
        assert_refused(&r, 401, "invalid_token", "dcr token");
        assert_challenge(&r, "DPoP", Some("invalid_token"));
    }
}

#[test]
fn registration_with_an_unknown_software_id() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    let r = lab.send(&registration_request(&dcr, r#"{"software_id":"no-such-template"}"#));
    assert_refused(&r, 400, "invalid_client_metadata", "does not name a template client");
}

#[test]
fn registration_without_software_id() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    assert_refused(&lab.send(&registration_request(&dcr, r#"{"client_name":"x"}"#)), 400, "invalid_client_metadata", "software_id is missing");
}

#[test]
fn registration_without_a_bearer_token() {
    let mut lab = Lab::standard();
    let mut r = registration_request("x", r#"{"software_id":"haapi-template-client"}"#);
    r.headers.remove("authorization");
    let resp = lab.send(&r);
    assert_refused(&resp, 401, "invalid_token", "needs Authorization: Bearer");
    assert_challenge(&resp, "Bearer", Some("invalid_token"));
}

#[test]
fn registration_with_a_form_body() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    let mut r = registration_request(&dcr, "software_id=haapi-template-client");
    r.headers.set("content-type", "application/x-www-form-urlencoded");
    assert_refused(&lab.send(&r), 400, "invalid_request", "application/json");
}

#[test]
fn dcr_scope_for_a_client_no_template_names() {
    let mut s = raw();
    s.template_client.authenticate_client_by = vec!["another-client".into()];
    let mut lab = Lab::new(s);
    assert_refused(&lab.send(&dcr_request()), 400, "invalid_scope", "authenticate-client-by");
}

#[test]
fn dcr_scope_for_a_dynamic_client() {
    let mut lab = Lab::standard();
    let (id, secret) = dynamic_client(&mut lab);
    let mut r = dcr_request();
    r.headers.set("authorization", basic(&id, &secret));
    assert_refused(&lab.send(&r), 400, "invalid_scope", "authenticate-client-by");
}

// ---------------------------------------------------------------- the HAAPI token and its DPoP proof (RFC 9449)

/// A lab with a registered dynamic client.
fn haapi_lab(settings: SimSettings) -> (Lab, String, String) {
    let mut lab = Lab::new(settings);
    let (id, secret) = dynamic_client(&mut lab);
    (lab, id, secret)
}

#[track_caller]
fn refuse_proof(lab: &mut Lab, id: &str, secret: &str, proof: &str, reason: &str) -> serde_json::Value {
    assert_refused(&lab.send(&haapi_request(id, secret, Some(proof))), 400, "invalid_dpop_proof", reason)
}

#[test]
fn haapi_token_without_a_dpop_proof() {
    let (mut lab, id, secret) = haapi_lab(raw());
    assert_refused(&lab.send(&haapi_request(&id, &secret, None)), 400, "invalid_dpop_proof", "DPoP-bound");
}

#[test]
fn proof_with_a_wrong_htu() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let key = DpopKey::new(7);
    let proof = key.proof("POST", "https://proxy.local/oauth/v2/oauth-token", NOW, None);
    refuse_proof(&mut lab, &id, &secret, &proof, "htu");
}

#[test]
fn proof_with_a_wrong_htm() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let proof = DpopKey::new(7).proof("GET", TOKEN, NOW, None);
    refuse_proof(&mut lab, &id, &secret, &proof, "htm");
}

#[test]
fn proof_with_a_stale_iat() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let proof = DpopKey::new(7).proof("POST", TOKEN, NOW - 600, None);
    refuse_proof(&mut lab, &id, &secret, &proof, "stale");
}

#[test]
fn replayed_proof() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let proof = DpopKey::new(7).proof("POST", TOKEN, NOW, None);
    assert_eq!(lab.send(&haapi_request(&id, &secret, Some(&proof))).status, 200);
    refuse_proof(&mut lab, &id, &secret, &proof, "already used");
}

#[test]
fn proof_with_a_bad_signature() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let (signer, claimed) = (DpopKey::new(7), DpopKey::new(8));
    // Header names key 8, signature by key 7.
    let proof = signer.sign(&claimed.header(), &signer.claims("POST", TOKEN, NOW, None));
    refuse_proof(&mut lab, &id, &secret, &proof, "signature does not verify");
}

#[test]
fn proof_jwk_with_private_key_material() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let key = DpopKey::new(7);
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.private_jwk() });
    refuse_proof(&mut lab, &id, &secret, &key.sign(&header, &key.claims("POST", TOKEN, NOW, None)), "private member \"d\"");
}

#[test]
fn proof_with_typ_jwt() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let key = DpopKey::new(7);
    let header = json!({ "typ": "JWT", "alg": "ES256", "jwk": key.jwk });
    refuse_proof(&mut lab, &id, &secret, &key.sign(&header, &key.claims("POST", TOKEN, NOW, None)), "typ");
}

#[test]
fn proof_with_an_hmac_alg() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let key = DpopKey::new(7);
    let header = json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk });
    refuse_proof(&mut lab, &id, &secret, &key.sign(&header, &key.claims("POST", TOKEN, NOW, None)), "alg HS256");
}

#[test]
fn proof_with_ath_at_the_token_endpoint() {
    let (mut lab, id, secret) = haapi_lab(raw());
    let proof = DpopKey::new(7).proof("POST", TOKEN, NOW, Some("some-token"));
    refuse_proof(&mut lab, &id, &secret, &proof, "ath");
}

#[test]
fn nonce_required_then_retry_with_the_nonce() {
    let s = SimSettings { dpop_nonce: DpopNonceMode::Required, ..raw() };
    let (mut lab, id, secret) = haapi_lab(s);
    let key = DpopKey::new(7);
    let r = lab.send(&haapi_request(&id, &secret, Some(&key.proof("POST", TOKEN, NOW, None))));
    assert_refused(&r, 400, "use_dpop_nonce", "requires a nonce");
    assert_challenge(&r, "DPoP", Some("use_dpop_nonce"));
    let nonce = r.header("dpop-nonce").expect("DPoP-Nonce header").to_owned();

    let mut claims = key.claims("POST", TOKEN, NOW, None);
    claims["nonce"] = json!(nonce);
    let retry = lab.send(&haapi_request(&id, &secret, Some(&key.sign(&key.header(), &claims))));
    assert_eq!(retry.status, 200, "{retry:?}");
    assert!(retry.header("dpop-nonce").is_some());

    // A nonce the server never issued is refused the same way.
    claims = key.claims("POST", TOKEN, NOW, None);
    claims["nonce"] = json!("made-up");
    let r = lab.send(&haapi_request(&id, &secret, Some(&key.sign(&key.header(), &claims))));
    assert_refused(&r, 400, "use_dpop_nonce", "unknown or expired");
}

#[test]
fn haapi_scope_for_the_main_client() {
    let mut lab = Lab::standard();
    let mut r = haapi_request(MAIN, "Password1", Some(&DpopKey::new(7).proof("POST", TOKEN, NOW, None)));
    r.headers.set("authorization", basic(MAIN, "Password1"));
    assert_refused(&lab.send(&r), 400, "invalid_scope", "attestation");
}

#[test]
fn unsupported_grant_type() {
    let mut lab = Lab::standard();
    let mut r = token_request(&[("grant_type", "password"), ("username", "u"), ("password", "p")]);
    r.headers.set("authorization", basic(MAIN, "Password1"));
    assert_refused(&lab.send(&r), 400, "unsupported_grant_type", "password");
}

#[test]
fn token_request_with_a_json_body() {
    let mut lab = Lab::standard();
    let mut r = dcr_request();
    r.headers.set("content-type", "application/json");
    r.body = Some(r#"{"grant_type":"client_credentials"}"#.into());
    assert_refused(&lab.send(&r), 400, "invalid_request", "application/x-www-form-urlencoded");
}

#[test]
fn stale_dynamic_client_after_a_database_reset() {
    let (mut lab, id, secret) = haapi_lab(raw());
    lab.sim.reset_database();
    let r = lab.send(&haapi_request(&id, &secret, Some(&DpopKey::new(7).proof("POST", TOKEN, NOW, None))));
    assert_refused(&r, 401, "invalid_client", "register again");
    assert_challenge(&r, "Basic", None);
}

// ---------------------------------------------------------------- authorize: a DPoP-protected HAAPI resource (RFC 9449 §7)

/// A lab with a dynamic client, its DPoP key and its HAAPI token.
fn authorized_lab() -> (Lab, String, DpopKey, String) {
    let (mut lab, id, secret) = haapi_lab(raw());
    let key = DpopKey::new(7);
    let token = haapi_token(&mut lab, &id, &secret, &key);
    (lab, id, key, token)
}

#[test]
fn authorize_without_a_dpop_proof() {
    let (mut lab, id, _, token) = authorized_lab();
    let r = lab.send(&authorize_request(&id, Some(&format!("DPoP {token}")), None));
    assert_refused(&r, 401, "invalid_dpop_proof", "send a DPoP proof");
    assert_challenge(&r, "DPoP", Some("invalid_dpop_proof"));
}

#[test]
fn authorize_without_authorization() {
    let (mut lab, id, key, _) = authorized_lab();
    let r = lab.send(&authorize_request(&id, None, Some(&key.proof("GET", AUTHORIZE, NOW, None))));
    assert_refused(&r, 401, "invalid_token", "needs Authorization: DPoP");
    assert_challenge(&r, "DPoP", Some("invalid_token"));
    assert!(r.header("www-authenticate").unwrap().contains("algs=\"ES256"));
}

#[test]
fn authorize_with_the_bearer_scheme() {
    let (mut lab, id, key, token) = authorized_lab();
    let r = lab.send(&authorize_request(&id, Some(&format!("Bearer {token}")), Some(&key.proof("GET", AUTHORIZE, NOW, Some(&token)))));
    assert_refused(&r, 401, "invalid_token", "bearer scheme");
    assert_challenge(&r, "DPoP", Some("invalid_token"));
}

#[test]
fn authorize_with_an_ath_mismatch() {
    let (mut lab, id, key, token) = authorized_lab();
    let proof = key.proof("GET", AUTHORIZE, NOW, Some("another-token"));
    let r = lab.send(&authorize_request(&id, Some(&format!("DPoP {token}")), Some(&proof)));
    assert_refused(&r, 401, "invalid_dpop_proof", "ath");
    assert_challenge(&r, "DPoP", Some("invalid_dpop_proof"));
}

#[test]
fn authorize_with_a_key_other_than_cnf_jkt() {
    let (mut lab, id, _, token) = authorized_lab();
    let thief = DpopKey::new(8);
    let r = lab.send(&authorize_with(&lab, &id, &token, &thief));
    assert_refused(&r, 401, "invalid_token", "key binding");
    assert_challenge(&r, "DPoP", Some("invalid_token"));
}

#[test]
fn authorize_for_another_client_id() {
    let (mut lab, _, key, token) = authorized_lab();
    assert_refused(&lab.send(&authorize_with(&lab, MAIN, &token, &key)), 400, "invalid_request", "not the HAAPI token");
}

#[test]
fn authorize_with_an_expired_haapi_token() {
    let (mut lab, id, key, token) = authorized_lab();
    lab.now += 601;
    let r = lab.send(&authorize_with(&lab, &id, &token, &key));
    assert_refused(&r, 401, "invalid_token", "expired");
}

#[test]
fn authorize_needs_a_nonce_when_required() {
    let s = SimSettings { dpop_nonce: DpopNonceMode::Required, ..raw() };
    let (mut lab, id, secret) = haapi_lab(s);
    let key = DpopKey::new(7);
    let nonce = lab.send(&haapi_request(&id, &secret, Some(&key.proof("POST", TOKEN, NOW, None)))).header("dpop-nonce").unwrap().to_owned();
    let mut claims = key.claims("POST", TOKEN, NOW, None);
    claims["nonce"] = json!(nonce);
    let r = lab.send(&haapi_request(&id, &secret, Some(&key.sign(&key.header(), &claims))));
    let token = body(&r)["access_token"].as_str().unwrap().to_owned();
    let r = lab.send(&authorize_with(&lab, &id, &token, &key)); // no nonce in the proof
    assert_refused(&r, 401, "use_dpop_nonce", "requires a nonce");
    assert_challenge(&r, "DPoP", Some("use_dpop_nonce"));
    assert!(r.header("dpop-nonce").is_some());
}

// ---------------------------------------------------------------- routing

#[test]
fn unknown_path_and_wrong_method() {
    let mut lab = Lab::standard();
    assert_refused(&lab.send(&HttpRequest::new("GET", "https://localhost:8443/nope")), 404, "not_found", "no endpoint");
    let r = lab.send(&HttpRequest::new("GET", TOKEN));
    assert_refused(&r, 405, "method_not_allowed", "accepts POST");
    assert_eq!(r.header("allow"), Some("POST"));
}

#[test]
fn attestation_is_refused() {
    let mut lab = Lab::standard();
    let r = lab.send(&HttpRequest::new("GET", format!("{TOKEN}/cat?client_id={MAIN}")));
    assert_refused(&r, 400, "invalid_request", "attestation is not available");
}

#[test]
fn authorize_without_the_haapi_accept_header() {
    let (mut lab, id, key, token) = authorized_lab();
    let mut r = authorize_with(&lab, &id, &token, &key);
    r.headers.set("accept", "text/html");
    assert_refused(&lab.send(&r), 406, "invalid_request", "application/vnd.auth+json");
}

#[test]
fn registration_with_redirect_uris_outside_the_template() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    let r = lab.send(&registration_request(&dcr, r#"{"software_id":"haapi-template-client","redirect_uris":["https://evil.example/cb"]}"#));
    assert_refused(&r, 400, "invalid_redirect_uri", "subset");
}

#[test]
fn dcr_token_expires() {
    let mut lab = Lab::standard();
    let dcr = dcr_token(&mut lab, &dcr_request());
    lab.now += 301;
    let r = lab.send(&registration_request(&dcr, r#"{"software_id":"haapi-template-client"}"#));
    assert_refused(&r, 401, "invalid_token", "not a dcr token this server issued, or it expired");
    assert_challenge(&r, "Bearer", Some("invalid_token"));
}

#[test]
fn dynamic_client_secret_expires_when_configured() {
    let s = SimSettings { dynamic_client_secret_ttl_secs: 60, ..raw() };
    let (mut lab, id, secret) = haapi_lab(s);
    lab.now += 61;
    let proof = DpopKey::new(7).proof("POST", TOKEN, lab.now, None);
    assert_refused(&lab.send(&haapi_request(&id, &secret, Some(&proof))), 401, "invalid_client", "expired");
}

#[test]
fn attestation_assertion_is_refused() {
    let mut lab = Lab::standard();
    let r = token_request(&[
        ("grant_type", "client_credentials"),
        ("scope", HAAPI),
        ("client_assertion_type", "urn:se:curity:attestation:client"),
        ("client_assertion", "cat"),
    ]);
    assert_refused(&lab.send(&r), 401, "invalid_client", "attestation is refused");
}
