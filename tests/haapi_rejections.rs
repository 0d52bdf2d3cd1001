//! The simulated Curity refuses what a real server must refuse in the HAAPI login and the grants
//! after it (issue 7): the session (`Session-Id`, bound to the DPoP key and client that opened
//! it), the DPoP proof of every HAAPI request, the authorization code (single use, expiry, client,
//! token-bound key, PKCE, `redirect_uri`) and the refresh token (client, key). Each test checks the
//! exact status and problem type (`application/problem+json`) or OAuth `error`, with the
//! simulator's default statuses, and a positive control where a refusal could pass by accident.
//!
//! The login is walked by hand, one request at a time, with nonces off ([`raw`]), so each test
//! changes exactly one thing in an otherwise valid request; the nonce test turns them on (the
//! default, as for new Curity clients) and does the round trips by hand.
#![cfg(feature = "sim")]

#[path = "support/sim.rs"]
mod support;

use haapi_lab::proto::http::{HttpRequest, HttpResponse};
use haapi_lab::proto::jose;
use haapi_lab::sim::SimSettings;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::rc::Rc;
use support::*;

/// The authentication service (`paths.authentication`) as the issuer's origin serves it.
const AUTHN: &str = "https://localhost:8443/authn/authenticate";
/// The username/password authenticator's form, below it.
const PASSWORD_FORM: &str = "https://localhost:8443/authn/authenticate/username-password";
/// The template client's redirect URI (the default), which the authorization request names.
const REDIRECT_URI: &str = "app://haapi";
/// The PKCE code verifier of every login here (RFC 7636 §4.1: 43 to 128 characters).
const VERIFIER: &str = "a-pkce-code-verifier-for-the-haapi-rejection-tests";

// ---------------------------------------------------------------- a device and the login, by hand

/// A dynamic client (registered with the main client).
#[derive(Clone)]
struct Client {
    id: String,
    secret: String,
}

fn new_client(lab: &mut Lab) -> Client {
    let (id, secret) = dynamic_client(lab);
    Client { id, secret }
}

/// A device: its dynamic client, its DPoP key and its HAAPI token (bound to that key). A key is
/// shared (`Rc`) where two devices use the same one, so its proofs' `jti`s stay unique.
struct Device {
    client: Client,
    key: Rc<DpopKey>,
    token: String,
}

impl Device {
    /// A new device: registers a dynamic client and gets a HAAPI token bound to a key made from
    /// `seed` (each key of a lab needs its own seed: a key's proofs count their `jti`s from 1).
    fn new(lab: &mut Lab, seed: u64) -> Device {
        let client = new_client(lab);
        Device::with(lab, client, Rc::new(DpopKey::new(seed)))
    }

    /// `client` with `key`, and a HAAPI token for them.
    fn with(lab: &mut Lab, client: Client, key: Rc<DpopKey>) -> Device {
        let token = haapi_token(lab, &client.id, &client.secret, &key);
        Device { client, key, token }
    }

    /// This device's client with another DPoP key and a HAAPI token bound to it.
    fn with_another_key(&self, lab: &mut Lab, seed: u64) -> Device {
        Device::with(lab, self.client.clone(), Rc::new(DpopKey::new(seed)))
    }

    /// A HAAPI request as the SDK sends it: `Accept`, `Authorization: DPoP`, a fresh proof with
    /// `ath` for this method and URL, and the `Session-Id` if given.
    fn haapi(&self, lab: &Lab, method: &str, url: &str, session: Option<&str>) -> HttpRequest {
        let htu = url.split('?').next().unwrap_or(url);
        let proof = self.key.proof(method, htu, lab.now, Some(&self.token));
        haapi_request_with(method, url, &self.token, Some(&proof), session)
    }
}

/// A HAAPI request with this token, proof and session.
fn haapi_request_with(method: &str, url: &str, token: &str, proof: Option<&str>, session: Option<&str>) -> HttpRequest {
    let mut r = HttpRequest::new(method, url);
    r.headers.set("accept", "application/vnd.auth+json");
    r.headers.set("authorization", format!("DPoP {token}"));
    if let Some(p) = proof {
        r.headers.set("dpop", p);
    }
    if let Some(id) = session {
        r.headers.set("session-id", id);
    }
    r
}

/// The login form's `POST` with the demo user's credentials.
fn password_post(lab: &Lab, device: &Device, session: &str) -> HttpRequest {
    let mut r = device.haapi(lab, "POST", PASSWORD_FORM, Some(session));
    r.headers.set("content-type", "application/x-www-form-urlencoded");
    r.body = Some(form(&[("userName", "demo"), ("password", "Password1")]));
    r
}

/// The authorization request with PKCE (S256).
fn authorize_with_pkce(client_id: &str) -> String {
    let challenge = jose::b64url(&Sha256::digest(VERIFIER.as_bytes()));
    format!("{}&code_challenge={challenge}&code_challenge_method=S256", authorize_url(client_id))
}

/// A successful representation (200, `application/vnd.auth+json`) of this `type`.
#[track_caller]
fn assert_representation(r: &HttpResponse, kind: &str) -> Value {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.media_type().as_deref(), Some("application/vnd.auth+json"), "{r:?}");
    let b = body(r);
    assert_eq!(b["type"], kind, "{b}");
    b
}

/// A HAAPI problem (RFC 7807): exact status, `application/problem+json` and
/// `type` `https://curity.se/problems/<name>`.
#[track_caller]
fn assert_problem(r: &HttpResponse, status: u16, name: &str) -> Value {
    assert_eq!(r.media_type().as_deref(), Some("application/problem+json"), "{r:?}");
    let b = body(r);
    assert_eq!((r.status, b["type"].as_str()), (status, Some(format!("https://curity.se/problems/{name}").as_str())), "{b}");
    assert!(b["title"].as_str().is_some_and(|t| !t.is_empty()), "no title: {b}");
    assert!(r.header("www-authenticate").is_none(), "a problem is not an authentication challenge: {r:?}");
    b
}

/// A 401 `invalid_dpop_proof` with its `DPoP` challenge (RFC 9449 §7.1).
#[track_caller]
fn assert_proof_refused(r: &HttpResponse, reason: &str) {
    assert_refused(r, 401, "invalid_dpop_proof", reason);
    assert_challenge(r, "DPoP", Some("invalid_dpop_proof"));
}

/// `GET` authorize: opens a session bound to the device's key and client; its `Set-Session-Id`.
#[track_caller]
fn open_session(lab: &mut Lab, device: &Device) -> String {
    let r = lab.send(&device.haapi(lab, "GET", &authorize_with_pkce(&device.client.id), None));
    assert_representation(&r, "redirection-step");
    r.header("set-session-id").expect("authorize answers Set-Session-Id").to_owned()
}

/// The demo user logs in on the session; the `href` of the redirection back to authorize.
#[track_caller]
fn log_in(lab: &mut Lab, device: &Device, session: &str) -> String {
    let r = lab.send(&password_post(lab, device, session));
    let b = assert_representation(&r, "redirection-step");
    b["actions"][0]["model"]["href"].as_str().unwrap().to_owned()
}

/// The whole login: the authorization code (state and issuer checked).
#[track_caller]
fn login(lab: &mut Lab, device: &Device) -> String {
    let session = open_session(lab, device);
    let href = log_in(lab, device, &session);
    let r = lab.send(&device.haapi(lab, "GET", &format!("https://localhost:8443{href}"), Some(&session)));
    let b = assert_representation(&r, "oauth-authorization-response");
    assert_eq!((b["properties"]["state"].as_str(), b["properties"]["iss"].as_str()), (Some("s1"), Some(ISSUER)));
    b["properties"]["code"].as_str().unwrap().to_owned()
}

/// The code exchange as it should be: `authorization_code`, the code, the `redirect_uri` of the
/// authorization request and the PKCE verifier.
fn code_params(code: &str) -> Vec<(&str, &str)> {
    vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT_URI), ("code_verifier", VERIFIER)]
}

/// `params` without `name`.
fn without<'a>(params: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    params.iter().copied().filter(|(n, _)| *n != name).collect()
}

/// `params` with `name` set to `value`.
fn with<'a>(params: &[(&'a str, &'a str)], name: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p = without(params, name);
    p.push((name, value));
    p
}

/// A token request: `client` authenticates with Basic, `key` signs the proof (no `ath`).
fn token_call(lab: &mut Lab, client: &Client, key: &DpopKey, params: &[(&str, &str)]) -> HttpResponse {
    let mut r = token_request(params);
    r.headers.set("authorization", basic(&client.id, &client.secret));
    r.headers.set("dpop", key.proof("POST", TOKEN, lab.now, None));
    lab.send(&r)
}

/// Tokens issued (200): the access token is DPoP-bound to `key` (`cnf.jkt`); the body.
#[track_caller]
fn assert_tokens(r: &HttpResponse, key: &DpopKey) -> Value {
    assert_eq!(r.status, 200, "{r:?}");
    let b = body(r);
    assert_eq!(b["token_type"], "DPoP");
    let at = jose::decode_unverified(b["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(at.claims["cnf"]["jkt"].as_str(), Some(key.jkt().as_str()), "bound to the proof's key");
    b
}

/// A lab with a device that has logged in: its code.
fn logged_in(settings: SimSettings) -> (Lab, Device, String) {
    let mut lab = Lab::new(settings);
    let device = Device::new(&mut lab, 11);
    let code = login(&mut lab, &device);
    (lab, device, code)
}

/// A lab with a device that has redeemed its code: its refresh token.
fn with_refresh_token() -> (Lab, Device, String) {
    let (mut lab, device, code) = logged_in(raw());
    let b = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
    let refresh = b["refresh_token"].as_str().expect("a refresh token after a login").to_owned();
    (lab, device, refresh)
}

// ---------------------------------------------------------------- the HAAPI session (Session-Id)

#[test]
fn authenticate_without_session_id() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    let b = assert_problem(&lab.send(&device.haapi(&lab, "GET", AUTHN, None)), 400, "unexpected");
    assert_eq!(b["title"], "Missing session");
    // Positive control: the same request with the session gets the selector.
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_a_session_id_the_server_never_issued() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    let b = assert_problem(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some("not-a-session-of-this-server"))), 400, "unexpected");
    assert_eq!(b["title"], "Unknown session");
    // Positive control: the session the server did issue works.
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_an_expired_session() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    let ttl = SimSettings::default().session_ttl_secs;
    lab.now += ttl - 1;
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
    lab.now += 1;
    // The HAAPI token has expired too (same lifetime): a new one for the same client and key.
    let device = Device::with(&mut lab, device.client.clone(), Rc::clone(&device.key));
    let b = assert_problem(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), 400, "unexpected");
    assert_eq!(b["title"], "Unknown session");
}

#[test]
fn authenticate_with_another_devices_session_id() {
    let mut lab = Lab::standard();
    let victim = Device::new(&mut lab, 11);
    let thief = Device::new(&mut lab, 12);
    let victims = open_session(&mut lab, &victim);
    let own = open_session(&mut lab, &thief);
    // The thief's token and proof are valid (its own session works), but the session is not its own.
    assert_representation(&lab.send(&thief.haapi(&lab, "GET", AUTHN, Some(&own))), "authentication-step");
    let b = assert_problem(&lab.send(&thief.haapi(&lab, "GET", AUTHN, Some(&victims))), 403, "mismatch-between-session-and-access-token");
    assert!(b["messages"].to_string().contains("original DPoP keys"), "{b}");
    assert_representation(&lab.send(&victim.haapi(&lab, "GET", AUTHN, Some(&victims))), "authentication-step");
}

#[test]
fn session_used_with_another_dpop_key_of_the_same_client() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    let other_key = device.with_another_key(&mut lab, 12); // same client, a valid token bound to another key
    assert_problem(&lab.send(&other_key.haapi(&lab, "GET", AUTHN, Some(&session))), 403, "mismatch-between-session-and-access-token");
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn session_used_with_the_same_key_by_another_client() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    // Another dynamic client with a valid HAAPI token bound to the very same key.
    let client = new_client(&mut lab);
    let other_client = Device::with(&mut lab, client, Rc::clone(&device.key));
    assert_eq!(other_client.key.jkt(), device.key.jkt());
    assert_problem(&lab.send(&other_client.haapi(&lab, "GET", AUTHN, Some(&session))), 403, "mismatch-between-session-and-access-token");
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn authorize_with_another_devices_session_gives_no_code() {
    let mut lab = Lab::standard();
    let victim = Device::new(&mut lab, 11);
    let thief = Device::new(&mut lab, 12);
    let session = open_session(&mut lab, &victim);
    let href = log_in(&mut lab, &victim, &session);
    let back = format!("https://localhost:8443{href}");
    let r = lab.send(&thief.haapi(&lab, "GET", &back, Some(&session)));
    let b = assert_problem(&r, 403, "mismatch-between-session-and-access-token");
    assert!(b.get("properties").is_none(), "no code: {b}");
    // The victim still gets its code.
    assert_representation(&lab.send(&victim.haapi(&lab, "GET", &back, Some(&session))), "oauth-authorization-response");
}

// ---------------------------------------------------------------- the DPoP proof of a HAAPI request (RFC 9449 §7)

/// A lab with a device and an open session.
fn in_session() -> (Lab, Device, String) {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let session = open_session(&mut lab, &device);
    (lab, device, session)
}

#[test]
fn authenticate_without_a_dpop_proof() {
    let (mut lab, device, session) = in_session();
    let r = lab.send(&haapi_request_with("GET", AUTHN, &device.token, None, Some(&session)));
    assert_proof_refused(&r, "send a DPoP proof");
    // Positive control: the same request with a proof.
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_a_stale_proof() {
    let (mut lab, device, session) = in_session();
    // Accepted: iat up to dpopIatWindowSecs (60) + clockSkewSecs (10) in the past.
    let window = 70;
    let old = device.key.proof("GET", AUTHN, lab.now - window, Some(&device.token));
    assert_representation(&lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&old), Some(&session))), "authentication-step");
    let stale = device.key.proof("GET", AUTHN, lab.now - window - 1, Some(&device.token));
    let r = lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&stale), Some(&session)));
    assert_proof_refused(&r, "stale");
}

#[test]
fn authenticate_with_a_proof_without_ath() {
    let (mut lab, device, session) = in_session();
    let claims = device.key.claims("GET", AUTHN, lab.now, None);
    assert!(claims.get("ath").is_none());
    let proof = device.key.sign(&device.key.header(), &claims);
    let r = lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session)));
    assert_proof_refused(&r, "needs ath");
    // Positive control: the same claims with ath, signed the same way.
    let mut claims = device.key.claims("GET", AUTHN, lab.now, None);
    claims["ath"] = jose::b64url(&Sha256::digest(device.token.as_bytes())).into();
    let proof = device.key.sign(&device.key.header(), &claims);
    assert_representation(&lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_a_proof_whose_ath_is_for_another_token() {
    let (mut lab, device, session) = in_session();
    let proof = device.key.proof("GET", AUTHN, lab.now, Some("another-access-token"));
    let r = lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session)));
    assert_proof_refused(&r, "ath is not");
    // Positive control: the proof with the right ath passes.
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_a_replayed_proof() {
    let (mut lab, device, session) = in_session();
    let request = device.haapi(&lab, "GET", AUTHN, Some(&session));
    // The first use is accepted; the same proof (same jti) a second time is not (RFC 9449 §11.1).
    assert_representation(&lab.send(&request), "authentication-step");
    assert_proof_refused(&lab.send(&request), "already used");
}

#[test]
fn authenticate_with_a_proof_made_for_another_url_or_method() {
    let (mut lab, device, session) = in_session();
    // A valid proof for authorize (htu), sent to the authentication service.
    let proof = device.key.proof("GET", AUTHORIZE, lab.now, Some(&device.token));
    assert_proof_refused(&lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session))), "htu");
    // A proof for a POST (htm), sent with a GET.
    let proof = device.key.proof("POST", AUTHN, lab.now, Some(&device.token));
    assert_proof_refused(&lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session))), "htm");
    // Positive control: the proof for this method and URL.
    let proof = device.key.proof("GET", AUTHN, lab.now, Some(&device.token));
    assert_representation(&lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session))), "authentication-step");
}

#[test]
fn authenticate_with_a_proof_signed_by_a_key_the_token_is_not_bound_to() {
    let (mut lab, device, session) = in_session();
    // A well-formed proof with the right ath, signed by another key (the token's cnf.jkt is the device key's).
    let other = DpopKey::new(12);
    let proof = other.proof("GET", AUTHN, lab.now, Some(&device.token));
    let r = lab.send(&haapi_request_with("GET", AUTHN, &device.token, Some(&proof), Some(&session)));
    assert_refused(&r, 401, "invalid_token", "key binding");
    assert_challenge(&r, "DPoP", Some("invalid_token"));
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

#[test]
fn a_haapi_token_whose_claims_were_altered_is_refused() {
    let (mut lab, device, session) = in_session();
    // The device's token with cnf.jkt changed to the thief's key, its signature kept.
    let thief = DpopKey::new(12);
    let mut claims = Value::Object(jose::decode_unverified(&device.token).unwrap().claims);
    claims["cnf"]["jkt"] = thief.jkt().into();
    let parts: Vec<&str> = device.token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], jose::b64url(claims.to_string().as_bytes()), parts[2]);
    let proof = thief.proof("GET", AUTHN, lab.now, Some(&forged));
    let r = lab.send(&haapi_request_with("GET", AUTHN, &forged, Some(&proof), Some(&session)));
    assert_refused(&r, 401, "invalid_token", "not a HAAPI token issued by this server");
    assert_challenge(&r, "DPoP", Some("invalid_token"));
    assert_representation(&lab.send(&device.haapi(&lab, "GET", AUTHN, Some(&session))), "authentication-step");
}

// ---------------------------------------------------------------- DPoP nonces on HAAPI requests (RFC 9449 §8, §9)

/// `claims` with `nonce`, signed by `key`.
fn with_nonce(key: &DpopKey, mut claims: Value, nonce: &str) -> String {
    claims["nonce"] = nonce.into();
    key.sign(&key.header(), &claims)
}

/// A HAAPI request whose proof carries `nonce` (or none).
fn haapi_with_nonce(lab: &Lab, device: &Device, url: &str, session: Option<&str>, nonce: Option<&str>) -> HttpRequest {
    let claims = device.key.claims("GET", url.split('?').next().unwrap_or(url), lab.now, Some(&device.token));
    let proof = match nonce {
        Some(n) => with_nonce(&device.key, claims, n),
        None => device.key.sign(&device.key.header(), &claims),
    };
    haapi_request_with("GET", url, &device.token, Some(&proof), session)
}

/// `use_dpop_nonce` at a resource (RFC 9449 §9): 401, the `DPoP` challenge, a fresh `DPoP-Nonce`.
#[track_caller]
fn assert_nonce_required(r: &HttpResponse) -> String {
    assert_refused(r, 401, "use_dpop_nonce", "nonce");
    assert_challenge(r, "DPoP", Some("use_dpop_nonce"));
    r.header("dpop-nonce").expect("a fresh DPoP-Nonce with use_dpop_nonce").to_owned()
}

#[test]
fn haapi_requests_in_nonce_mode_need_a_current_nonce() {
    // Nonce mode as for new Curity clients (the default): F4 first, by hand, with its nonce round trip.
    let mut lab = Lab::new(SimSettings::default());
    let client = new_client(&mut lab);
    let key = Rc::new(DpopKey::new(11));
    let r = lab.send(&haapi_request(&client.id, &client.secret, Some(&key.proof("POST", TOKEN, lab.now, None))));
    assert_refused(&r, 400, "use_dpop_nonce", "nonce");
    let nonce = r.header("dpop-nonce").expect("DPoP-Nonce").to_owned();
    let proof = with_nonce(&key, key.claims("POST", TOKEN, lab.now, None), &nonce);
    let r = lab.send(&haapi_request(&client.id, &client.secret, Some(&proof)));
    assert_eq!(r.status, 200, "{r:?}");
    let device = Device { client, key, token: body(&r)["access_token"].as_str().unwrap().to_owned() };
    let nonce = r.header("dpop-nonce").expect("a nonce for the next request").to_owned();

    // authorize without a nonce: use_dpop_nonce; the retry with the nonce it gives opens the session.
    let url = authorize_with_pkce(&device.client.id);
    let fresh = assert_nonce_required(&lab.send(&haapi_with_nonce(&lab, &device, &url, None, None)));
    assert_ne!(fresh, nonce);
    let r = lab.send(&haapi_with_nonce(&lab, &device, &url, None, Some(&fresh)));
    assert_representation(&r, "redirection-step");
    let session = r.header("set-session-id").unwrap().to_owned();
    let nonce = r.header("dpop-nonce").expect("each HAAPI answer carries a nonce").to_owned();

    // A nonce the server never issued.
    assert_nonce_required(&lab.send(&haapi_with_nonce(&lab, &device, AUTHN, Some(&session), Some("a-nonce-of-nobody"))));
    // The nonce is good until dpopNonceTtlSecs have passed, and stale from then on.
    let ttl = SimSettings::default().dpop_nonce_ttl_secs;
    lab.now += ttl - 1;
    assert_representation(&lab.send(&haapi_with_nonce(&lab, &device, AUTHN, Some(&session), Some(&nonce))), "authentication-step");
    lab.now += 1;
    let fresh = assert_nonce_required(&lab.send(&haapi_with_nonce(&lab, &device, AUTHN, Some(&session), Some(&nonce))));
    // The retry with the fresh nonce passes.
    assert_representation(&lab.send(&haapi_with_nonce(&lab, &device, AUTHN, Some(&session), Some(&fresh))), "authentication-step");
}

// ---------------------------------------------------------------- the authorization code (RFC 6749 §4.1.3, RFC 7636, RFC 9449 §10)

#[test]
fn code_is_redeemed_by_its_client_with_its_key_verifier_and_redirect_uri() {
    let (mut lab, device, code) = logged_in(raw());
    let b = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
    assert!(b["id_token"].is_string() && b["refresh_token"].is_string(), "{b}");
}

#[test]
fn code_reused_is_refused_and_revokes_the_refresh_token_it_bought() {
    let (mut lab, device, code) = logged_in(raw());
    let first = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
    let refresh = first["refresh_token"].as_str().unwrap();
    // The refresh token works before the replay…
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]), &device.key);
    let r = token_call(&mut lab, &device.client, &device.key, &code_params(&code));
    assert_refused(&r, 400, "invalid_grant", "already used");
    // …and not after it (RFC 6749 §4.1.2: the tokens issued from a reused code are revoked).
    let r = token_call(&mut lab, &device.client, &device.key, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    assert_refused(&r, 400, "invalid_grant", "revoked");
}

#[test]
fn code_reused_revokes_only_the_tokens_that_code_bought() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let (replayed, other) = (login(&mut lab, &device), login(&mut lab, &device));
    let first = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&replayed)), &device.key);
    let second = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&other)), &device.key);
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &code_params(&replayed)), 400, "invalid_grant", "already used");
    let refresh = |b: &Value| b["refresh_token"].as_str().unwrap().to_owned();
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh(&first))), 400, "invalid_grant", "revoked");
    // The same user's other login on the same client keeps its refresh token.
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh(&second))), &device.key);
}

#[test]
fn code_expires_after_code_ttl_secs() {
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let (early, late) = (login(&mut lab, &device), login(&mut lab, &device));
    let ttl = SimSettings::default().code_ttl_secs;
    lab.now += ttl - 1;
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&early)), &device.key);
    lab.now += 1;
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &code_params(&late)), 400, "invalid_grant", "expired");
}

#[test]
fn code_redeemed_by_another_client() {
    let (mut lab, device, code) = logged_in(raw());
    let other = new_client(&mut lab);
    // The other client authenticates correctly and even signs with the session's key.
    let r = token_call(&mut lab, &other, &device.key, &code_params(&code));
    assert_refused(&r, 400, "invalid_grant", "was issued to client");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn token_bound_code_redeemed_with_another_dpop_key() {
    let (mut lab, device, code) = logged_in(raw());
    let other_key = DpopKey::new(12);
    let r = token_call(&mut lab, &device.client, &other_key, &code_params(&code));
    assert_refused(&r, 400, "invalid_dpop_proof", "bound to DPoP key");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_not_token_bound_when_the_setting_is_off_is_redeemed_with_another_key() {
    let (mut lab, device, code) = logged_in(SimSettings { token_bound_codes: false, ..raw() });
    let other_key = DpopKey::new(12);
    assert_tokens(&token_call(&mut lab, &device.client, &other_key, &code_params(&code)), &other_key);
}

#[test]
fn code_exchange_without_a_dpop_proof() {
    let (mut lab, device, code) = logged_in(raw());
    let mut r = token_request(&code_params(&code));
    r.headers.set("authorization", basic(&device.client.id, &device.client.secret));
    let r = lab.send(&r);
    assert_refused(&r, 400, "invalid_dpop_proof", "send a DPoP proof");
    assert_challenge(&r, "DPoP", Some("invalid_dpop_proof"));
    // Positive control: the same exchange with a proof.
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_exchange_with_ath_in_the_proof_is_accepted() {
    // Curity's own client sends the HAAPI token's ath with the code exchange (docs/protocol.md §5,
    // "Settled since"), so the server must not refuse it.
    let (mut lab, device, code) = logged_in(raw());
    let mut r = token_request(&code_params(&code));
    r.headers.set("authorization", basic(&device.client.id, &device.client.secret));
    r.headers.set("dpop", device.key.proof("POST", TOKEN, lab.now, Some(&device.token)));
    assert_tokens(&lab.send(&r), &device.key);
}

#[test]
fn code_exchange_with_a_wrong_pkce_verifier() {
    let (mut lab, device, code) = logged_in(raw());
    let wrong = with(&code_params(&code), "code_verifier", "another-pkce-code-verifier-of-at-least-43-characters");
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &wrong), 400, "invalid_grant", "does not match the code_challenge");
    // The code itself was fine: the right verifier redeems it.
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_exchange_without_the_pkce_verifier() {
    let (mut lab, device, code) = logged_in(raw());
    let missing = without(&code_params(&code), "code_verifier");
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &missing), 400, "invalid_grant", "code_verifier is missing");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_exchange_with_another_redirect_uri() {
    let (mut lab, device, code) = logged_in(raw());
    let other = with(&code_params(&code), "redirect_uri", "app://another");
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &other), 400, "invalid_grant", "is not the one of the authorization request");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_exchange_without_the_redirect_uri_the_authorization_request_had() {
    let (mut lab, device, code) = logged_in(raw());
    let missing = without(&code_params(&code), "redirect_uri");
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &missing), 400, "invalid_request", "redirect_uri is missing");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &code_params(&code)), &device.key);
}

#[test]
fn code_exchange_without_redirect_uri_when_the_authorization_request_had_none() {
    // RFC 6749 §4.1.3: redirect_uri is required at the token endpoint only if the authorization
    // request included it; a different one is still refused.
    let mut lab = Lab::standard();
    let device = Device::new(&mut lab, 11);
    let login_without_redirect_uri = |lab: &mut Lab| {
        let url = authorize_with_pkce(&device.client.id).replace("&redirect_uri=app%3A%2F%2Fhaapi", "");
        assert!(!url.contains("redirect_uri"), "{url}");
        let r = lab.send(&device.haapi(lab, "GET", &url, None));
        assert_representation(&r, "redirection-step");
        let session = r.header("set-session-id").unwrap().to_owned();
        let href = log_in(lab, &device, &session);
        let r = lab.send(&device.haapi(lab, "GET", &format!("https://localhost:8443{href}"), Some(&session)));
        let b = assert_representation(&r, "oauth-authorization-response");
        assert!(b["links"][0]["href"].as_str().unwrap().starts_with("app://haapi?"), "the registered redirect URI: {b}");
        b["properties"]["code"].as_str().unwrap().to_owned()
    };
    let code = login_without_redirect_uri(&mut lab);
    let other = with(&code_params(&code), "redirect_uri", "app://another");
    assert_refused(&token_call(&mut lab, &device.client, &device.key, &other), 400, "invalid_grant", "is not the one of the authorization request");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &without(&code_params(&code), "redirect_uri")), &device.key);
}

// ---------------------------------------------------------------- the refresh token (RFC 6749 §6, RFC 9449 §5)

fn refresh_params(refresh: &str) -> [(&str, &str); 2] {
    [("grant_type", "refresh_token"), ("refresh_token", refresh)]
}

#[test]
fn refresh_with_the_same_key_and_client() {
    let (mut lab, device, refresh) = with_refresh_token();
    let b = assert_tokens(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh)), &device.key);
    assert_eq!(b["refresh_token"].as_str(), Some(refresh.as_str()), "the refresh token stays the same");
    assert!(b.get("id_token").is_none(), "no new login, no ID token: {b}");
}

#[test]
fn refresh_with_another_dpop_key() {
    let (mut lab, device, refresh) = with_refresh_token();
    let other_key = DpopKey::new(12);
    let r = token_call(&mut lab, &device.client, &other_key, &refresh_params(&refresh));
    assert_refused(&r, 400, "invalid_dpop_proof", "bound to DPoP key");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh)), &device.key);
}

#[test]
fn refresh_without_a_dpop_proof() {
    let (mut lab, device, refresh) = with_refresh_token();
    let mut r = token_request(&refresh_params(&refresh));
    r.headers.set("authorization", basic(&device.client.id, &device.client.secret));
    let r = lab.send(&r);
    assert_refused(&r, 400, "invalid_dpop_proof", "send a DPoP proof");
    assert_challenge(&r, "DPoP", Some("invalid_dpop_proof"));
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh)), &device.key);
}

#[test]
fn refresh_by_another_client() {
    let (mut lab, device, refresh) = with_refresh_token();
    let other = new_client(&mut lab);
    let r = token_call(&mut lab, &other, &device.key, &refresh_params(&refresh));
    assert_refused(&r, 400, "invalid_grant", "was issued to client");
    assert_tokens(&token_call(&mut lab, &device.client, &device.key, &refresh_params(&refresh)), &device.key);
}
