//! Shared helpers for the simulator tests (`#[path = "support/sim.rs"] mod support;`): requests,
//! client assertions, hand-signed DPoP proofs and the fallback steps F1, F2, F4 and authorize.
#![cfg(feature = "sim")]
#![allow(dead_code)]

use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::http::{encode_form, HttpRequest, HttpResponse};
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::p256::P256Key;
use haapi_lab::proto::jose::{self, Alg};
use haapi_lab::sim::{SimSettings, Simulator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const NOW: u64 = 1_700_000_000;
pub const ISSUER: &str = "https://localhost:8443/oauth/v2/oauth-anonymous";
pub const TOKEN: &str = "https://localhost:8443/oauth/v2/oauth-token";
pub const REGISTRATION: &str = "https://localhost:8443/token-service/oauth-registration";
pub const AUTHORIZE: &str = "https://localhost:8443/oauth/v2/oauth-authorize";
pub const HAAPI: &str = "urn:se:curity:scopes:haapi";
pub const MAIN: &str = "haapi-android-client";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A simulator and a clock.
pub struct Lab {
    pub sim: Simulator,
    pub now: u64,
}

/// The simulator's defaults with DPoP nonces off: these tests send hand-made requests, one at a
/// time, without the nonce round trip. Nonce mode (on by default, as for new Curity clients) is
/// tested where it is the subject (`nonce_required_then_retry_with_the_nonce`, the flow tests).
pub fn raw() -> SimSettings {
    SimSettings { dpop_nonce: haapi_lab::sim::DpopNonceMode::Off, ..SimSettings::default() }
}

impl Lab {
    pub fn new(settings: SimSettings) -> Lab {
        Lab { sim: Simulator::new(settings, 42), now: NOW }
    }
    pub fn standard() -> Lab {
        Lab::new(raw())
    }
    pub fn send(&mut self, request: &HttpRequest) -> HttpResponse {
        self.sim.handle(request, Timestamp::from_secs(self.now))
    }
}

/// The JSON body of a response.
pub fn body(response: &HttpResponse) -> Value {
    serde_json::from_str(&response.body).unwrap_or(Value::Null)
}

/// Asserts status and `error`, and returns the body.
#[track_caller]
pub fn assert_error(response: &HttpResponse, status: u16, error: &str) -> Value {
    let b = body(response);
    if std::env::var_os("SIM_SHOW_ERRORS").is_some() {
        eprintln!("{} {} {}", response.status, b, response.header("www-authenticate").unwrap_or(""));
    }
    assert_eq!((response.status, b["error"].as_str()), (status, Some(error)), "response: {response:?}");
    assert!(b["error_description"].as_str().is_some_and(|d| !d.is_empty()), "no description: {response:?}");
    b
}

/// Asserts status and `error`, and that the description mentions `reason`.
#[track_caller]
pub fn assert_refused(response: &HttpResponse, status: u16, error: &str, reason: &str) -> Value {
    let b = assert_error(response, status, error);
    let description = b["error_description"].as_str().unwrap_or("");
    assert!(description.contains(reason), "description {description:?} does not mention {reason:?}");
    b
}

/// Asserts the `WWW-Authenticate` scheme and its `error` parameter (if `error` is given).
#[track_caller]
pub fn assert_challenge(response: &HttpResponse, scheme: &str, error: Option<&str>) {
    let header = response.header("www-authenticate").unwrap_or_else(|| panic!("no WWW-Authenticate: {response:?}"));
    assert!(header.starts_with(&format!("{scheme} ")), "challenge {header:?} is not {scheme}");
    assert_eq!(haapi_lab::proto::http::challenge_param(header, "error").as_deref(), error, "challenge {header:?}");
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 builds it.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", jose::b64(format!("{}:{}", enc(id), enc(secret)).as_bytes()))
}

/// A token request with these form parameters.
pub fn token_request(params: &[(&str, &str)]) -> HttpRequest {
    HttpRequest::form(TOKEN, params)
}

/// F1 with the default main client (Basic, `Password1`).
pub fn dcr_request() -> HttpRequest {
    let mut r = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr")]);
    r.headers.set("authorization", basic(MAIN, "Password1"));
    r
}

/// Runs a request that must return a dcr token.
#[track_caller]
pub fn dcr_token(lab: &mut Lab, request: &HttpRequest) -> String {
    let r = lab.send(request);
    assert_eq!(r.status, 200, "{r:?}");
    let b = body(&r);
    assert_eq!((b["token_type"].as_str(), b["scope"].as_str()), (Some("Bearer"), Some("dcr")));
    b["access_token"].as_str().unwrap().to_owned()
}

/// F2: a registration request.
pub fn registration_request(dcr: &str, body: &str) -> HttpRequest {
    let mut r = HttpRequest::new("POST", REGISTRATION);
    r.headers.set("authorization", format!("Bearer {dcr}"));
    r.headers.set("content-type", "application/json");
    r.body = Some(body.to_owned());
    r
}

/// F2, which must succeed: the dynamic client's id and secret.
#[track_caller]
pub fn register(lab: &mut Lab, dcr: &str) -> (String, String) {
    let r = lab.send(&registration_request(dcr, r#"{"software_id":"haapi-template-client"}"#));
    assert_eq!(r.status, 201, "{r:?}");
    let b = body(&r);
    (b["client_id"].as_str().unwrap().to_owned(), b["client_secret"].as_str().unwrap().to_owned())
}

/// A dynamic client registered with the default main client.
pub fn dynamic_client(lab: &mut Lab) -> (String, String) {
    let dcr = dcr_token(lab, &dcr_request());
    register(lab, &dcr)
}

/// A P-256 DPoP key that signs proofs by hand (header and claims as given).
pub struct DpopKey {
    key: P256Key,
    pub jwk: Value,
    jti: std::cell::Cell<u32>,
}

impl DpopKey {
    pub fn new(seed: u64) -> DpopKey {
        let key = P256Key::generate(&mut SeededEntropy::new(seed));
        DpopKey { jwk: key.public_jwk().clone(), key, jti: std::cell::Cell::new(0) }
    }
    /// The private JWK (with `d`).
    pub fn private_jwk(&self) -> Value {
        serde_json::from_str(self.key.to_private_jwk().expose()).unwrap()
    }
    /// RFC 7638 thumbprint.
    pub fn jkt(&self) -> String {
        jose::thumbprint(&self.jwk).unwrap()
    }
    /// Signs any header and claims with ES256.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = jose::signing_input(header, claims);
        jose::compact(&input, &self.key.sign(input.as_bytes()))
    }
    /// The standard header `{typ: dpop+jwt, alg: ES256, jwk}`.
    pub fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk })
    }
    /// Standard claims with a fresh `jti`.
    pub fn claims(&self, htm: &str, htu: &str, iat: u64, access_token: Option<&str>) -> Value {
        self.jti.set(self.jti.get() + 1);
        let mut c = json!({ "jti": format!("proof-{}", self.jti.get()), "htm": htm, "htu": htu, "iat": iat });
        if let Some(at) = access_token {
            c["ath"] = json!(jose::b64url(&Sha256::digest(at.as_bytes())));
        }
        c
    }
    /// A valid proof.
    pub fn proof(&self, htm: &str, htu: &str, iat: u64, access_token: Option<&str>) -> String {
        self.sign(&self.header(), &self.claims(htm, htu, iat, access_token))
    }
}

/// F4: a HAAPI token request for a dynamic client (Basic), with `proof` as the DPoP header.
pub fn haapi_request(id: &str, secret: &str, proof: Option<&str>) -> HttpRequest {
    let mut r = token_request(&[("grant_type", "client_credentials"), ("scope", HAAPI)]);
    r.headers.set("authorization", basic(id, secret));
    if let Some(p) = proof {
        r.headers.set("dpop", p);
    }
    r
}

/// F4, which must succeed: the HAAPI access token.
#[track_caller]
pub fn haapi_token(lab: &mut Lab, id: &str, secret: &str, key: &DpopKey) -> String {
    let proof = key.proof("POST", TOKEN, lab.now, None);
    let r = lab.send(&haapi_request(id, secret, Some(&proof)));
    assert_eq!(r.status, 200, "{r:?}");
    let b = body(&r);
    assert_eq!(b["token_type"].as_str(), Some("DPoP"));
    b["access_token"].as_str().unwrap().to_owned()
}

/// The authorize URL for `client_id`.
pub fn authorize_url(client_id: &str) -> String {
    format!("{AUTHORIZE}?client_id={client_id}&response_type=code&redirect_uri=app%3A%2F%2Fhaapi&scope=openid&state=s1")
}

/// A HAAPI authorize request with `Authorization: <authorization>` and `DPoP: <proof>`.
pub fn authorize_request(client_id: &str, authorization: Option<&str>, proof: Option<&str>) -> HttpRequest {
    let mut r = HttpRequest::new("GET", authorize_url(client_id));
    r.headers.set("accept", "application/vnd.auth+json");
    if let Some(a) = authorization {
        r.headers.set("authorization", a);
    }
    if let Some(p) = proof {
        r.headers.set("dpop", p);
    }
    r
}

/// A HAAPI authorize request signed by `key` for `token`.
pub fn authorize_with(lab: &Lab, client_id: &str, token: &str, key: &DpopKey) -> HttpRequest {
    let proof = key.proof("GET", AUTHORIZE, lab.now, Some(token));
    authorize_request(client_id, Some(&format!("DPoP {token}")), Some(&proof))
}

/// A signed client assertion with standard claims (`aud` = token endpoint, 60 s lifetime).
pub fn assertion_claims(jti: &str, now: u64) -> Value {
    json!({ "iss": MAIN, "sub": MAIN, "aud": TOKEN, "jti": jti, "iat": now, "exp": now + 60 })
}

/// Signs an assertion with a private key.
pub fn sign_assertion(key: &PrivateKey, alg: Alg, kid: Option<&str>, claims: &Value) -> String {
    key.sign_jwt(alg, kid, None, claims, &mut SeededEntropy::new(7)).unwrap()
}

/// Signs an assertion with a shared secret.
pub fn sign_assertion_hmac(secret: &[u8], alg: Alg, claims: &Value) -> String {
    jose::sign_jwt_hmac(alg, secret, claims).unwrap()
}

/// F1 with a client assertion.
pub fn assertion_request(assertion: &str) -> HttpRequest {
    token_request(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)])
}

/// A `form`-encoded body, for hand-built requests.
pub fn form(params: &[(&str, &str)]) -> String {
    encode_form(params.iter().copied())
}

/// The main client's assertion key (P-256, `kid` "k1").
pub fn main_key() -> PrivateKey {
    PrivateKey::generate_for(Alg::ES256, &mut SeededEntropy::new(1)).unwrap()
}

/// Settings with the main client on `private_key_jwt` with [`main_key`] as kid "k1".
pub fn private_key_jwt_settings() -> SimSettings {
    let mut jwk = main_key().public_jwk();
    jwk["kid"] = json!("k1");
    let mut s = raw();
    s.main_client.authentication = haapi_lab::sim::ClientAuthentication::PrivateKeyJwt { jwks: vec![jwk], public_keys_pem: vec![] };
    s
}

/// The shared secret of the `client_secret_jwt` settings.
pub const HMAC_SECRET: &[u8] = b"a-shared-secret-of-at-least-32-bytes!";

/// Settings with the main client on `client_secret_jwt`.
pub fn client_secret_jwt_settings() -> SimSettings {
    let mut s = raw();
    s.main_client.authentication =
        haapi_lab::sim::ClientAuthentication::ClientSecretJwt { secret: haapi_lab::proto::secret::Secret::new(std::str::from_utf8(HMAC_SECRET).unwrap()) };
    s
}

/// A CA and a client certificate it issued, valid from `NOW - 60` for `validity` seconds.
pub fn ca_and_leaf(seed: u64, validity: u64) -> (haapi_lab::proto::x509::IssuedCertificate, haapi_lab::proto::x509::IssuedCertificate) {
    let mut rng = SeededEntropy::new(seed);
    let ca = haapi_lab::proto::x509::generate_ca("Device Authority", NOW - 3600, 365 * 86400, &mut rng).unwrap();
    let leaf = haapi_lab::proto::x509::issue_client_certificate(&ca, "haapi-device", NOW - 60, validity, &mut rng).unwrap();
    (ca, leaf)
}

/// Settings with the main client on `tls_client_auth`, trusting `ca_pem`.
pub fn tls_settings(ca_pem: &str) -> SimSettings {
    let mut s = raw();
    s.main_client.authentication = haapi_lab::sim::ClientAuthentication::TlsClientAuth { trusted_ca_pem: vec![ca_pem.to_owned()], subject_dn: None };
    s
}

/// Settings with the main client on `self_signed_tls_client_auth`, pinning `pin`.
pub fn pinned_settings(pin: &str) -> SimSettings {
    let mut s = raw();
    s.main_client.authentication = haapi_lab::sim::ClientAuthentication::SelfSignedTlsClientAuth { pinned_spki: vec![pin.to_owned()] };
    s
}

/// F1 over mutual TLS, presenting `certificate`.
pub fn mtls_request(certificate: Option<&str>) -> HttpRequest {
    let mut r = token_request(&[("grant_type", "client_credentials"), ("scope", "dcr"), ("client_id", MAIN)]);
    r.client_certificate = certificate.map(str::to_owned);
    r
}
