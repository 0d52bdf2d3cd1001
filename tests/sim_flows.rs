//! The simulated Curity accepts the whole fallback (F1 → F2 → F4 → authorize) for every main-client
//! authentication method, is deterministic, forgets dynamic clients on a database reset, and never
//! panics on garbage.
#![cfg(feature = "sim")]

#[path = "support/sim.rs"]
mod support;

use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::http::{HttpRequest, HttpResponse};
use haapi_lab::proto::jose::{self, Alg};
use haapi_lab::proto::x509;
use haapi_lab::sim::{ClientAuthentication, SimSettings, Simulator};
use rand_core::RngCore as _;
use serde_json::{json, Value};
use support::*;

/// F2 → F4 → authorize after `f1`, checking every response; returns the HAAPI token's claims.
fn rest_of_the_flow(lab: &mut Lab, f1: &HttpRequest) -> serde_json::Map<String, Value> {
    let dcr = dcr_token(lab, f1);
    let (id, secret) = register(lab, &dcr);
    assert!(id.starts_with("dyn-") && id.len() == 26, "{id}");
    let key = DpopKey::new(7);
    let token = haapi_token(lab, &id, &secret, &key);
    let r = lab.send(&authorize_with(lab, &id, &token, &key));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/vnd.auth+json"));
    assert!(r.header("set-session-id").is_some_and(|s| !s.is_empty()));
    // Curity's first answer is a redirection-step to the authentication service, not the form.
    let step = body(&r);
    assert_eq!(step["type"], "redirection-step");
    let model = &step["actions"][0]["model"];
    assert_eq!((model["href"].as_str(), model["method"].as_str()), (Some("/authn/authenticate"), Some("GET")));

    // The token verifies with the published JWKS and is bound to the proof key.
    let jwks = body(&lab.send(&HttpRequest::new("GET", format!("{ISSUER}/jwks"))));
    let key_of_server = haapi_lab::proto::jose::verify::VerifyKey::from_jwk(&jwks["keys"][0]).unwrap();
    let verified = haapi_lab::proto::jose::verify::verify_jws(&token, &key_of_server, &[Alg::ES256]).unwrap();
    let c = verified.claims;
    assert_eq!(c["cnf"]["jkt"].as_str(), Some(key.jkt().as_str()));
    assert_eq!((c["iss"].as_str(), c["sub"].as_str(), c["client_id"].as_str()), (Some(ISSUER), Some(id.as_str()), Some(id.as_str())));
    assert_eq!((c["aud"].as_str(), c["scope"].as_str()), (Some("haapi-client"), Some(HAAPI)));
    assert_eq!(c["client_assurance_level"], "fallback");
    assert_eq!(c["exp"].as_u64(), Some(lab.now + 600));
    assert_eq!(verified.header["typ"], "at+jwt");
    c
}

#[test]
fn happy_path_with_client_secret_basic() {
    rest_of_the_flow(&mut Lab::standard(), &dcr_request());
}

#[test]
fn happy_path_with_client_secret_post_and_a_post_authenticated_dynamic_client() {
    let mut s = raw();
    s.main_client.authentication = ClientAuthentication::ClientSecretPost { secret: "Pass word&1".into() };
    let mut lab = Lab::new(s);
    let f1 = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_id", MAIN), ("client_secret", "Pass word&1")]);
    rest_of_the_flow(&mut lab, &f1);

    let (id, secret) = dynamic_client_with(&mut lab, &f1);
    let key = DpopKey::new(9);
    let mut r = token_request(&[("grant_type", "client_credentials"), ("scope", &format!("openid {HAAPI}")), ("client_id", &id), ("client_secret", &secret)]);
    r.headers.set("dpop", key.proof("POST", TOKEN, NOW, None));
    let resp = lab.send(&r);
    assert_eq!((resp.status, body(&resp)["scope"].as_str()), (200, Some(format!("openid {HAAPI}").as_str())), "{resp:?}");
}

fn dynamic_client_with(lab: &mut Lab, f1: &HttpRequest) -> (String, String) {
    let dcr = dcr_token(lab, f1);
    register(lab, &dcr)
}

#[test]
fn happy_path_with_private_key_jwt_es256() {
    let mut lab = Lab::new(private_key_jwt_settings());
    let a = sign_assertion(&main_key(), Alg::ES256, Some("k1"), &assertion_claims("j-1", NOW));
    rest_of_the_flow(&mut lab, &assertion_request(&a));
    // Without kid, every registered key that fits the algorithm is tried.
    let a = sign_assertion(&main_key(), Alg::ES256, None, &assertion_claims("j-2", NOW));
    assert_eq!(lab.send(&assertion_request(&a)).status, 200);
}

#[test]
fn happy_path_with_private_key_jwt_from_a_pem_key() {
    let mut s = raw();
    s.main_client.authentication = ClientAuthentication::PrivateKeyJwt { jwks: vec![], public_keys_pem: vec![main_key().public_key_pem()] };
    let a = sign_assertion(&main_key(), Alg::ES256, None, &assertion_claims("j-1", NOW));
    rest_of_the_flow(&mut Lab::new(s), &assertion_request(&a));
}

#[test]
fn register_main_client_key_switches_to_private_key_jwt() {
    let mut lab = Lab::standard();
    let key = DpopKey::new(3);
    lab.sim.register_main_client_key(key.private_jwk());
    let text = serde_json::to_string(lab.sim.settings()).unwrap();
    assert!(text.contains("private_key_jwt") && !text.contains(r#""d":"#), "{text}");
    let c = assertion_claims("j-1", NOW);
    let header = json!({ "alg": "ES256", "kid": key.jkt() });
    rest_of_the_flow(&mut lab, &assertion_request(&key.sign(&header, &c)));
}

#[test]
fn terse_errors_and_absent_attestation() {
    let s = SimSettings { expose_detailed_errors: false, attestation: haapi_lab::sim::AttestationMode::Absent, ..raw() };
    let mut lab = Lab::new(s);
    let mut r = dcr_request();
    r.headers.set("authorization", basic(MAIN, "wrong"));
    let resp = lab.send(&r);
    assert_eq!((resp.status, body(&resp)), (401, json!({ "error": "invalid_client" })));
    assert_eq!(resp.header("www-authenticate"), Some(format!("Basic realm=\"{ISSUER}\"").as_str()));
    assert_eq!(lab.send(&HttpRequest::new("GET", format!("{TOKEN}/cat"))).status, 404);
    let d = body(&lab.send(&HttpRequest::new("GET", format!("{ISSUER}/.well-known/openid-configuration"))));
    assert!(d.get("haapi_cat_endpoint").is_none());
}

#[test]
fn happy_path_with_client_secret_jwt_hs256() {
    let mut lab = Lab::new(client_secret_jwt_settings());
    let a = sign_assertion_hmac(HMAC_SECRET, Alg::HS256, &assertion_claims("j-1", NOW));
    rest_of_the_flow(&mut lab, &assertion_request(&a));
}

#[test]
fn happy_path_with_tls_client_auth() {
    let (ca, leaf) = ca_and_leaf(1, 86400);
    let mut s = tls_settings(&ca.certificate_pem);
    if let ClientAuthentication::TlsClientAuth { subject_dn, .. } = &mut s.main_client.authentication {
        *subject_dn = Some("cn = haapi-device".into());
    }
    rest_of_the_flow(&mut Lab::new(s), &mtls_request(Some(&leaf.certificate_pem)));
}

#[test]
fn happy_path_with_self_signed_tls_client_auth() {
    let cert = x509::self_signed_client_certificate("device", NOW - 60, 86400, &mut SeededEntropy::new(5)).unwrap();
    let pin = x509::spki_sha256_pin(&cert.certificate_pem).unwrap();
    rest_of_the_flow(&mut Lab::new(pinned_settings(&pin)), &mtls_request(Some(&cert.certificate_pem)));
}

#[test]
fn requests_are_matched_by_path_but_checked_against_the_external_urls() {
    let mut lab = Lab::standard();
    let mut f1 = dcr_request();
    f1.url = "http://127.0.0.1:3000/oauth/v2/oauth-token".into(); // a same-origin proxy
    let dcr = dcr_token(&mut lab, &f1);
    let mut f2 = registration_request(&dcr, r#"{"software_id":"haapi-template-client","redirect_uris":["app://haapi"]}"#);
    f2.url = "/token-service/oauth-registration".into();
    let r = lab.send(&f2);
    assert_eq!(r.status, 201, "{r:?}");
    let b = body(&r);
    assert_eq!((b["client_secret_expires_at"].as_u64(), b["token_endpoint_auth_method"].as_str()), (Some(0), Some("client_secret_basic")));
    assert_eq!(b["software_id"], "haapi-template-client");
    let (id, secret) = (b["client_id"].as_str().unwrap(), b["client_secret"].as_str().unwrap());
    let mut f4 = haapi_request(id, secret, Some(&DpopKey::new(7).proof("POST", TOKEN, NOW, None)));
    f4.url = "http://127.0.0.1:3000/oauth/v2/oauth-token".into();
    assert_eq!(lab.send(&f4).status, 200);
}

#[test]
fn discovery_advertises_the_endpoints() {
    let mut lab = Lab::standard();
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let r = lab.send(&HttpRequest::new("GET", format!("{ISSUER}{path}")));
        assert_eq!(r.status, 200);
        let d = body(&r);
        assert_eq!(d["issuer"], ISSUER);
        assert_eq!((d["token_endpoint"].as_str(), d["registration_endpoint"].as_str()), (Some(TOKEN), Some(REGISTRATION)));
        assert_eq!((d["authorization_endpoint"].as_str(), d["jwks_uri"].as_str()), (Some(AUTHORIZE), Some(format!("{ISSUER}/jwks").as_str())));
        assert!(d.get("haapi_cat_endpoint").is_none(), "no invented discovery fields (the CAT endpoint is configured)");
        assert_eq!(d["grant_types_supported"], json!(["client_credentials", "authorization_code", "refresh_token"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["dpop_signing_alg_values_supported"], json!(["ES256", "ES384", "RS256", "PS256"]));
        assert!(d["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    }
}

#[test]
fn reset_database_makes_the_stored_client_stale() {
    let mut lab = Lab::standard();
    let (id, secret) = dynamic_client(&mut lab);
    let key = DpopKey::new(7);
    let token = haapi_token(&mut lab, &id, &secret, &key);
    assert_eq!(lab.sim.dynamic_clients().len(), 1);
    assert_eq!(lab.sim.dynamic_clients()[0].client_id, id);
    lab.sim.reset_database();
    assert!(lab.sim.dynamic_clients().is_empty());
    let r = lab.send(&haapi_request(&id, &secret, Some(&key.proof("POST", TOKEN, NOW, None))));
    assert_refused(&r, 401, "invalid_client", "register again");
    assert_refused(&lab.send(&authorize_with(&lab, &id, &token, &key)), 401, "invalid_token", "no longer registered");
    // Registering again works.
    let (id2, secret2) = dynamic_client(&mut lab);
    assert_ne!(id, id2);
    haapi_token(&mut lab, &id2, &secret2, &key);
}

/// A fixed script of requests (successes and failures).
fn script(sim: &mut Simulator) -> Vec<HttpResponse> {
    let mut out = Vec::new();
    let mut send = |sim: &mut Simulator, r: &HttpRequest, t: u64| {
        let resp = sim.handle(r, Timestamp::from_secs(t));
        out.push(resp.clone());
        resp
    };
    send(sim, &HttpRequest::new("GET", format!("{ISSUER}/jwks")), NOW);
    let dcr = body(&send(sim, &dcr_request(), NOW))["access_token"].as_str().unwrap().to_owned();
    let reg = body(&send(sim, &registration_request(&dcr, r#"{"software_id":"haapi-template-client"}"#), NOW + 1));
    let (id, secret) = (reg["client_id"].as_str().unwrap().to_owned(), reg["client_secret"].as_str().unwrap().to_owned());
    let key = DpopKey::new(7);
    send(sim, &haapi_request(&id, &secret, None), NOW + 2);
    let at = body(&send(sim, &haapi_request(&id, &secret, Some(&key.proof("POST", TOKEN, NOW + 2, None))), NOW + 2));
    let token = at["access_token"].as_str().unwrap().to_owned();
    let proof = key.proof("GET", AUTHORIZE, NOW + 3, Some(&token));
    send(sim, &authorize_request(&id, Some(&format!("DPoP {token}")), Some(&proof)), NOW + 3);
    out
}

#[test]
fn same_seed_same_requests_same_clock_give_identical_responses() {
    let a = script(&mut Simulator::new(raw(), 7));
    let b = script(&mut Simulator::new(raw(), 7));
    let text = |r: &[haapi_lab::proto::http::HttpResponse]| r.iter().map(|r| r.to_json().to_string()).collect::<Vec<_>>();
    assert_eq!(text(&a), text(&b));
    let c = script(&mut Simulator::new(raw(), 8));
    assert_ne!(text(&a), text(&c));
}

#[test]
fn settings_round_trip_and_refuse_unknown_fields() {
    let s = private_key_jwt_settings();
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains(r#""method":"private_key_jwt""#) && text.contains(r#""clockSkewSecs":10"#), "{text}");
    assert_eq!(serde_json::from_str::<SimSettings>(&text).unwrap(), s);
    let partial: SimSettings =
        serde_json::from_str(r#"{"dpopNonce":"required","mainClient":{"authentication":{"method":"client_secret_post","secret":"s"}}}"#).unwrap();
    assert_eq!(partial.main_client.client_id, MAIN);
    assert!(serde_json::from_str::<SimSettings>(r#"{"clockSkew":10}"#).is_err());
    assert!(serde_json::from_str::<SimSettings>(r#"{"mainClient":{"authentication":{"method":"client_secret_basic","secret":"s","extra":1}}}"#).is_err());
    // Debug never shows a secret.
    assert!(!format!("{:?}", raw()).contains("Password1"));
}

#[test]
fn unusable_settings_answer_500_with_what_to_change() {
    let s = SimSettings { issuer: "not a url".into(), ..raw() };
    let mut sim = Simulator::new(s, 1);
    let r = sim.handle(&dcr_request(), Timestamp::from_secs(NOW));
    assert_refused(&r, 500, "server_error", "issuer");
}

// ---------------------------------------------------------------- garbage in, 4xx out, never a panic

fn garbage_settings() -> Vec<SimSettings> {
    let (ca, _) = ca_and_leaf(1, 86400);
    let nonce = SimSettings { dpop_nonce: haapi_lab::sim::DpopNonceMode::Required, ..raw() };
    let mut rsa_jwk = private_key_jwt_settings();
    if let ClientAuthentication::PrivateKeyJwt { jwks, .. } = &mut rsa_jwk.main_client.authentication {
        jwks.push(json!({ "kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "tiny" }));
    }
    vec![raw(), rsa_jwk, client_secret_jwt_settings(), tls_settings(&ca.certificate_pem), nonce]
}

/// Hand-made JWTs with hostile headers.
fn hostile_jwts() -> Vec<String> {
    let part = |v: Value| jose::b64url(v.to_string().as_bytes());
    let claims = part(json!({ "iss": MAIN, "sub": MAIN, "aud": TOKEN, "jti": "j", "iat": NOW, "exp": NOW + 60, "htm": "POST", "htu": TOKEN }));
    let headers = [
        json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": { "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA" } }),
        json!({ "alg": "RS256", "typ": "dpop+jwt", "jwk": { "kty": "RSA", "n": "AQ", "e": "AQ" } }),
        json!({ "alg": "ES384", "typ": "dpop+jwt", "jwk": { "kty": "EC", "crv": "P-384", "x": 1, "y": [] } }),
        json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": "not an object" }),
        json!({ "alg": "RS256", "kid": "tiny" }),
        json!({ "alg": "HS256", "kid": 7 }),
        json!({ "alg": "none" }),
        json!({ "alg": ["ES256"] }),
    ];
    let mut out: Vec<String> = headers.iter().map(|h| format!("{}.{claims}.AAAA", part(h.clone()))).collect();
    out.extend(["", "a.b.c", "eyJ.eyJ.", "...", "e30.e30.e30", "x,y"].map(String::from));
    out.push(format!("{}.{}.", part(json!({ "alg": "ES256" })), part(json!({ "exp": 1e300, "iat": -5, "nbf": "soon" }))));
    out
}

#[test]
fn garbage_never_panics_and_gets_a_4xx() {
    let paths = [
        "https://localhost:8443/oauth/v2/oauth-token",
        "https://localhost:8443/token-service/oauth-registration",
        "https://localhost:8443/oauth/v2/oauth-authorize?client_id=%ZZ&client_id=x",
        "https://localhost:8443/oauth/v2/oauth-token/cat",
        "/oauth/v2/oauth-anonymous/jwks",
        "/oauth/v2/oauth-anonymous/.well-known/openid-configuration",
        "",
        "::::",
        "/%zz/\u{0}",
        "relative/path",
    ];
    let methods = ["GET", "POST", "PUT", "get", ""];
    let jwts = hostile_jwts();
    let mut bodies: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("%%%&&==".into()),
        Some("{".into()),
        Some("\u{0}\u{ffff}".into()),
        Some("grant_type=client_credentials&grant_type=x".into()),
        Some("x".repeat(10_000)),
        Some("[1,2]".into()),
        Some(r#"{"software_id":7}"#.into()),
    ];
    for jwt in &jwts {
        bodies.push(Some(form(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_assertion_type", JWT_BEARER), ("client_assertion", jwt)])));
        bodies.push(Some(form(&[("grant_type", "client_credentials"), ("scope", HAAPI), ("client_id", MAIN), ("client_secret", "x")])));
    }
    let mut authorizations: Vec<Option<String>> =
        ["Basic", "Basic !!!", "Basic Og==", "Basic JXp6OiU=", "Bearer", "DPoP", "Bearer  ", "Negotiate x", "Basic w6g6w6g="]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
    authorizations.push(None);
    authorizations.push(Some(basic(MAIN, "Password1")));
    for jwt in &jwts {
        authorizations.push(Some(format!("DPoP {jwt}")));
    }
    let content_types = [None, Some("application/x-www-form-urlencoded"), Some("application/json; charset=utf-8"), Some(";;;"), Some("")];
    let certificates = [None, Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), Some("garbage"), Some("-----BEGIN CERTIFICATE-----")];

    let mut rng = SeededEntropy::new(2024);
    let mut pick = |n: usize| (rng.next_u32() as usize) % n;
    for settings in garbage_settings() {
        let mut sim = Simulator::new(settings, 3);
        for _ in 0..1500 {
            let path = paths[pick(paths.len())];
            let mut r = HttpRequest::new(methods[pick(methods.len())], path);
            r.body = bodies[pick(bodies.len())].clone();
            if let Some(a) = &authorizations[pick(authorizations.len())] {
                r.headers.set("authorization", a.clone());
            }
            if let Some(ct) = content_types[pick(content_types.len())] {
                r.headers.set("content-type", ct);
            }
            if pick(2) == 0 {
                r.headers.set("dpop", jwts[pick(jwts.len())].clone());
            }
            if pick(2) == 0 {
                r.headers.set("accept", "application/vnd.auth+json");
            }
            r.client_certificate = certificates[pick(certificates.len())].map(String::from);
            let resp = sim.handle(&r, Timestamp::from_secs(NOW));
            let metadata = path.contains("jwks") || path.contains(".well-known");
            let ok = (400..500).contains(&resp.status) || (metadata && r.method == "GET" && resp.status == 200);
            assert!(ok, "{r:?} -> {resp:?}");
        }
    }
}

#[test]
fn hostile_assertions_and_proofs_reach_the_verifiers_and_are_refused() {
    for settings in garbage_settings() {
        let mut lab = Lab::new(settings);
        for jwt in hostile_jwts() {
            let r = lab.send(&assertion_request(&jwt));
            assert!(matches!(r.status, 400 | 401), "{jwt} -> {r:?}");
        }
        // Properly signed, absurd claims.
        for exp in [json!(i64::MAX), json!(u64::MAX), json!(-1), json!(1e300), json!("tomorrow")] {
            let mut c = assertion_claims("j", NOW);
            c["exp"] = exp;
            let r = lab.send(&assertion_request(&sign_assertion(&main_key(), Alg::ES256, Some("k1"), &c)));
            assert!(matches!(r.status, 400 | 401), "{r:?}");
        }
    }
    let mut lab = Lab::standard();
    let (id, secret) = dynamic_client(&mut lab);
    let key = DpopKey::new(7);
    let token = haapi_token(&mut lab, &id, &secret, &key);
    let mut proofs = hostile_jwts();
    for claims in [
        json!({ "jti": {}, "htm": 5, "htu": ["x"], "iat": "now" }),
        json!({ "jti": "a", "htm": "POST", "htu": TOKEN, "iat": 1e300 }),
        json!({ "jti": "b", "htm": "POST", "htu": TOKEN, "iat": u64::MAX }),
        json!({ "jti": "c", "htm": "POST", "htu": TOKEN, "iat": i64::MIN }),
        json!({ "jti": "x".repeat(300), "htm": "POST", "htu": TOKEN, "iat": NOW }),
        json!([1, 2, 3]),
    ] {
        proofs.push(key.sign(&key.header(), &claims));
    }
    proofs.push(key.sign(&json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": { "kty": "EC", "crv": "P-256" } }), &key.claims("POST", TOKEN, NOW, None)));
    for proof in &proofs {
        let r = lab.send(&haapi_request(&id, &secret, Some(proof)));
        assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_dpop_proof")), "{proof} -> {r:?}");
        let r = lab.send(&authorize_request(&id, Some(&format!("DPoP {token}")), Some(proof)));
        assert_eq!((r.status, body(&r)["error"].as_str()), (401, Some("invalid_dpop_proof")), "{proof} -> {r:?}");
    }
}

#[test]
fn exported_database_restores_the_dynamic_clients() {
    let mut lab = Lab::standard();
    let (id, secret) = dynamic_client(&mut lab);
    let state = lab.sim.export_state();
    assert!(!state.to_string().contains(&secret), "secrets are exported only as hashes");
    let mut restored = Lab::new(raw());
    restored.sim.import_state(&state).unwrap();
    assert_eq!(restored.sim.dynamic_clients(), lab.sim.dynamic_clients());
    haapi_token(&mut restored, &id, &secret, &DpopKey::new(7));
    let other_issuer = SimSettings { issuer: "https://other.example/oauth".into(), ..raw() };
    assert!(Simulator::new(other_issuer, 1).import_state(&state).is_err());
}
