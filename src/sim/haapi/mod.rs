//! HAAPI as Curity answers it (docs/protocol.md §4-§5): the authorization endpoint as the API's
//! entry point, the authentication service behind it ([`authn`]), HAAPI sessions bound to the DPoP
//! key that opened them, and the authorization code at the end. Also the attestation (CAT)
//! endpoint, which refuses (docs/protocol.md §3).
//!
//! ```text
//!  GET authorize ──▶ redirection-step ─▶ GET authn ──▶ selector ─┬▶ username/password form ─▶ POST ─┐
//!  (+Set-Session-Id)                                              └▶ polling-step ─▶ poll … done ────┤
//!  GET authorize (same session, authenticated) ◀── redirection-step ◀────────────────────────────────┘
//!    └▶ oauth-authorization-response { code, state, iss }
//! ```
//!
//! Every HAAPI request carries `Authorization: DPoP <HAAPI token>` and a fresh proof with `ath`
//! (RFC 9449 §7.1); every request after the first carries `Session-Id`, and a session answers
//! only to the key and client that opened it.

mod authn;

use super::dpop::{ProofFailure, ProofTarget, VerifiedProof};
use super::request::{authorization, duplicate_param, query_param};
use super::response::{Challenge, SimError};
use super::settings::{AttestationMode, ExternalUrls, HAAPI_SCOPE};
use super::Simulator;
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy as _;
use crate::proto::haapi::MEDIA_TYPE;
use crate::proto::http::{Headers, HttpRequest, HttpResponse};
use crate::proto::url::Url;
use serde_json::{json, Value};

/// The claims of a HAAPI token that passed its checks.
pub(super) struct HaapiToken {
    pub client_id: String,
    pub jkt: String,
}

/// A HAAPI request that passed the token and proof checks (the proof's `jti` is recorded).
pub(super) struct Guarded {
    pub token: HaapiToken,
    pub proof: VerifiedProof,
}

/// The authorization request a session was opened for.
#[derive(Clone, Debug)]
pub(super) struct AuthRequest {
    /// The query string, to send the client back to `authorize` once it is authenticated.
    pub query: String,
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the code exchange must repeat it).
    pub redirect_uri_sent: bool,
    pub state: Option<String>,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
}

/// Where the polling authenticator is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PollState {
    /// Waiting for the other device; `polls` so far.
    Pending { polls: u32 },
    /// The other device approved.
    Approved,
    /// The other device denied.
    Denied,
}

/// A HAAPI session: opened by `authorize`, bound to the DPoP key and client of its HAAPI token.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub client_id: String,
    pub jkt: String,
    pub expires_at: u64,
    pub request: AuthRequest,
    /// Who logged in, once someone has.
    pub subject: Option<String>,
    /// How they did (`pwd`, `mfa`…, for the ID token's `amr`).
    pub amr: &'static str,
    pub auth_time: u64,
    pub failures: u32,
    pub poll: Option<PollState>,
}

/// An authorization code (RFC 6749 §4.1.2), single use.
#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    /// The authorization request named `redirect_uri`: the exchange must send it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub code_challenge: Option<String>,
    /// The DPoP key the code is bound to (token-bound codes).
    pub jkt: Option<String>,
    pub subject: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub amr: &'static str,
    pub auth_time: u64,
    pub expires_at: u64,
    pub used: bool,
}

/// A refresh token, bound to its client and DPoP key.
#[derive(Clone, Debug)]
pub(super) struct RefreshGrant {
    pub client_id: String,
    pub jkt: Option<String>,
    pub subject: String,
    pub scope: String,
    pub expires_at: u64,
    /// The authorization code that bought it: revoked if that code is replayed.
    pub code: String,
}

/// A representation response (`application/vnd.auth+json`), with `Set-Session-Id` when given.
pub(super) fn representation(body: &Value, session_id: Option<&str>) -> HttpResponse {
    let mut headers = Headers::new();
    headers.set("content-type", MEDIA_TYPE);
    headers.set("cache-control", "no-store");
    if let Some(id) = session_id {
        headers.set("set-session-id", id);
    }
    HttpResponse { status: 200, headers, body: body.to_string() }
}

/// A `redirection-step` whose one action is a `GET` of `href`.
pub(super) fn redirection(href: &str) -> Value {
    json!({
        "type": "redirection-step",
        "metadata": { "viewName": "templates/redirect" },
        "actions": [{ "template": "form", "kind": "redirect", "model": { "href": href, "method": "GET" } }],
        "links": [],
        "messages": []
    })
}

impl Simulator {
    pub(super) fn dpop_error(&self, status: u16, error: &'static str, description: impl Into<String>) -> SimError {
        SimError::new(status, error, description).with_challenge(Challenge::DPoP { algs: self.settings.dpop_alg_names().join(" ") })
    }

    /// A problem with its configured status.
    pub(super) fn problem(&self, name: &str, title: &str, extra: Value) -> SimError {
        let s = &self.settings.authentication.problem_statuses;
        let status = match name {
            "invalid-input" => s.invalid_input,
            "incorrect-credentials" => s.incorrect_credentials,
            "authentication-failed" => s.authentication_failed,
            "too-many-attempts" => s.too_many_attempts,
            "mismatch-between-session-and-access-token" => s.mismatch_between_session_and_access_token,
            "error-authorization-response" => s.error_authorization_response,
            _ => s.unexpected,
        };
        SimError::problem(status, name, title, extra)
    }

    /// The checks every HAAPI request passes (docs/protocol.md §4): the `Accept` header, a
    /// DPoP-bound HAAPI token (`Authorization: DPoP`), and a fresh proof for this method and URL,
    /// signed by the key the token is bound to, with `ath`. Errors about the token are 401
    /// `invalid_token`, about the proof 401 `invalid_dpop_proof` or `use_dpop_nonce`, each with a
    /// `DPoP` challenge (RFC 9449 §7.1).
    pub(super) fn haapi_guard(&mut self, request: &HttpRequest, own_url: &str, now: Timestamp, endpoints: &ExternalUrls) -> Result<Guarded, SimError> {
        let accept = request.header("accept").unwrap_or("").to_ascii_lowercase();
        if !accept.split(',').any(|m| m.split(';').next().unwrap_or("").trim() == MEDIA_TYPE) {
            return Err(SimError::new(
                406,
                "invalid_request",
                format!("send Accept: {MEDIA_TYPE}: this simulator serves only the HAAPI (API) representation (docs/protocol.md §5)"),
            ));
        }
        let token = match authorization(request) {
            None => return Err(self.dpop_error(401, "invalid_token", "the HAAPI request needs Authorization: DPoP <HAAPI access token> (RFC 9449 §7.1)")),
            Some((scheme, token)) if scheme == "dpop" && !token.is_empty() => token,
            Some((scheme, _)) if scheme == "dpop" => {
                return Err(self.dpop_error(401, "invalid_token", "the DPoP credentials are empty: send Authorization: DPoP <HAAPI access token>"))
            }
            Some((scheme, token)) => {
                let extra = if self.is_dcr_token(&token) { " This is the one-time dcr token: it is valid only at the registration endpoint." } else { "" };
                return Err(self.dpop_error(
                    401,
                    "invalid_token",
                    format!(
                        "the HAAPI token is DPoP-bound: use Authorization: DPoP <token> with a DPoP proof, not the {scheme} scheme (RFC 9449 §7.1).{extra}"
                    ),
                ));
            }
        };
        let haapi = self.check_haapi_token(&token, now, endpoints)?;
        let target = ProofTarget { method: &request.method, url: own_url, access_token: Some(&token), tolerate_ath: false };
        let proof = match self.verify_proof(request, &target, now) {
            Ok(proof) => proof,
            Err(ProofFailure::Missing) => {
                return Err(self.dpop_error(401, "invalid_dpop_proof", "send a DPoP proof with the DPoP-bound HAAPI token (RFC 9449 §7.1)"))
            }
            Err(ProofFailure::Invalid(why)) => return Err(self.dpop_error(401, "invalid_dpop_proof", why)),
            Err(ProofFailure::Nonce(why)) => {
                let nonce = self.fresh_nonce(now);
                return Err(self.dpop_error(401, "use_dpop_nonce", why).with_header("dpop-nonce", nonce));
            }
        };
        if proof.jkt != haapi.jkt {
            return Err(self.dpop_error(
                401,
                "invalid_token",
                format!(
                    "invalid DPoP key binding: the proof is signed with key {} but the token is bound to {} (cnf.jkt, RFC 9449 §7.1); sign with the key the token was issued for",
                    proof.jkt, haapi.jkt
                ),
            ));
        }
        if !self.commit_proof(&proof) {
            return Err(self.dpop_error(401, "invalid_dpop_proof", proof.replayed()));
        }
        Ok(Guarded { token: haapi, proof })
    }

    /// A successful HAAPI response: the representation, with a fresh `DPoP-Nonce` in nonce mode.
    pub(super) fn answer(&mut self, body: &Value, session_id: Option<&str>, now: Timestamp) -> HttpResponse {
        let mut response = representation(body, session_id);
        if self.settings.dpop_nonce == super::DpopNonceMode::Required {
            let nonce = self.fresh_nonce(now);
            response.headers.set("dpop-nonce", nonce);
        }
        response
    }

    /// The session named by `Session-Id`, checked against the request's token and key.
    pub(super) fn session_of(&self, request: &HttpRequest, guarded: &Guarded, now: Timestamp) -> Result<String, SimError> {
        let Some(id) = request.header("session-id").map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(self.problem(
                "unexpected",
                "Missing session",
                json!({ "messages": [{ "text": "Send the Session-Id header with the value of the last Set-Session-Id response header.", "classList": ["error"] }] }),
            ));
        };
        let Some(session) = self.store.sessions.lock().get(id).filter(|s| s.expires_at > now.secs()).cloned() else {
            return Err(self.problem(
                "unexpected",
                "Unknown session",
                json!({ "messages": [{ "text": "The session is unknown or has expired: start again at the authorization endpoint.", "classList": ["error"] }] }),
            ));
        };
        if session.jkt != guarded.proof.jkt || session.client_id != guarded.token.client_id {
            return Err(self.problem(
                "mismatch-between-session-and-access-token",
                "Session mismatch",
                json!({ "messages": [
                    { "text": "You are not authorized to execute this request.", "classList": ["error"] },
                    { "text": "A session can only be accessed using the original DPoP keys.", "classList": ["error"] }
                ] }),
            ));
        }
        Ok(id.to_owned())
    }

    /// `GET` authorize (docs/protocol.md §5): the first call validates the authorization request
    /// (RFC 6749 §4.1.1, PKCE S256) and opens a session bound to the request's DPoP key, answering
    /// a `redirection-step` into the authentication service with `Set-Session-Id`. A call with
    /// the `Session-Id` of a session someone has logged in to answers the
    /// `oauth-authorization-response` with the code (RFC 6749 §4.1.2, `iss` of RFC 9207).
    pub(super) fn authorize_endpoint(&mut self, request: &HttpRequest, url: &Url, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let guarded = self.haapi_guard(request, &endpoints.authorize, now, endpoints)?;
        if request.header("session-id").is_some() {
            let id = self.session_of(request, &guarded, now)?;
            if self.store.sessions.lock().get(&id).is_some_and(|s| s.subject.is_some()) {
                return self.authorization_response(&id, now, endpoints);
            }
            let body = redirection(&self.settings.paths.authentication.clone());
            return Ok(self.answer(&body, Some(&id), now));
        }
        let request = self.authorization_request(url, &guarded)?;
        let id = self.rng.token(24);
        let session = Session {
            client_id: guarded.token.client_id.clone(),
            jkt: guarded.proof.jkt.clone(),
            expires_at: now.secs().saturating_add(self.settings.session_ttl_secs),
            request,
            subject: None,
            amr: "pwd",
            auth_time: 0,
            failures: 0,
            poll: None,
        };
        self.store.sessions.lock().insert(id.clone(), session);
        let body = redirection(&self.settings.paths.authentication.clone());
        Ok(self.answer(&body, Some(&id), now))
    }

    /// The authorization request's parameters, checked (RFC 6749 §4.1.1, RFC 7636 §4.3). A bad one
    /// is an `error-authorization-response` problem carrying the OAuth `error`.
    fn authorization_request(&self, url: &Url, guarded: &Guarded) -> Result<AuthRequest, SimError> {
        let refuse = |error: &str, description: String| {
            self.problem("error-authorization-response", "Authorization request refused", json!({ "error": error, "error_description": description }))
        };
        if let Some(name) = duplicate_param(url) {
            return Err(refuse("invalid_request", format!("parameter {name:?} appears more than once (RFC 6749 §3.1)")));
        }
        let client = &guarded.token.client_id;
        match query_param(url, "client_id") {
            Some(id) if id == *client => {}
            Some(id) => return Err(refuse("invalid_request", format!("client_id {id:?} is not the HAAPI token's client {client:?}"))),
            None => return Err(refuse("invalid_request", format!("client_id is missing; it must be the HAAPI token's client {client:?}"))),
        }
        match query_param(url, "response_type").as_deref() {
            Some("code") => {}
            Some(other) => return Err(refuse("unsupported_response_type", format!("response_type {other:?} is not supported; use code"))),
            None => return Err(refuse("invalid_request", "response_type is missing; use code".into())),
        }
        let template = &self.settings.template_client;
        let redirect_uri_sent = query_param(url, "redirect_uri").is_some();
        let redirect_uri = match query_param(url, "redirect_uri") {
            Some(uri) if template.redirect_uris.contains(&uri) => uri,
            Some(uri) => return Err(refuse("invalid_request", format!("redirect_uri {uri:?} is not registered; registered: {:?}", template.redirect_uris))),
            None => template.redirect_uris.first().cloned().ok_or_else(|| refuse("invalid_request", "redirect_uri is missing".into()))?,
        };
        let scope = query_param(url, "scope").unwrap_or_default();
        let allowed: Vec<&str> = template.scope.split_whitespace().collect();
        if let Some(bad) = scope.split_whitespace().find(|s| !allowed.contains(s)) {
            return Err(refuse("invalid_scope", format!("scope {bad:?} is not one the client may ask for ({:?})", template.scope)));
        }
        let code_challenge = query_param(url, "code_challenge");
        match (code_challenge.as_deref(), query_param(url, "code_challenge_method").as_deref()) {
            (None, None) => {}
            (Some(c), Some("S256")) if c.len() == 43 => {}
            (Some(_), Some("S256")) => {
                return Err(refuse("invalid_request", "code_challenge must be base64url(SHA-256(code_verifier)), 43 characters (RFC 7636 §4.2)".into()))
            }
            (Some(_), Some(m)) => return Err(refuse("invalid_request", format!("code_challenge_method {m:?} is not supported; use S256 (RFC 7636 §4.2)"))),
            (Some(_), None) => return Err(refuse("invalid_request", "code_challenge_method is missing; use S256 (plain is not accepted)".into())),
            (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge_method without a code_challenge".into())),
        }
        Ok(AuthRequest {
            query: url.query().unwrap_or("").to_owned(),
            redirect_uri,
            redirect_uri_sent,
            state: query_param(url, "state"),
            scope,
            code_challenge,
            nonce: query_param(url, "nonce"),
        })
    }

    /// The code, for a session someone logged in to.
    fn authorization_response(&mut self, id: &str, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let session = self.store.sessions.lock().remove(id).ok_or_else(|| self.problem("unexpected", "Unknown session", json!({})))?;
        let code = self.rng.token(32);
        let grant = CodeGrant {
            client_id: session.client_id.clone(),
            redirect_uri: session.request.redirect_uri.clone(),
            redirect_uri_sent: session.request.redirect_uri_sent,
            code_challenge: session.request.code_challenge.clone(),
            jkt: self.settings.token_bound_codes.then(|| session.jkt.clone()),
            subject: session.subject.clone().unwrap_or_default(),
            scope: session.request.scope.clone(),
            nonce: session.request.nonce.clone(),
            amr: session.amr,
            auth_time: session.auth_time,
            expires_at: now.secs().saturating_add(self.settings.code_ttl_secs),
            used: false,
        };
        self.store.codes.lock().insert(code.clone(), grant);
        let mut properties = json!({ "code": code, "iss": endpoints.issuer });
        let mut query = crate::proto::http::encode_form([("code", code.as_str()), ("iss", endpoints.issuer.as_str())]);
        if let Some(state) = &session.request.state {
            properties["state"] = Value::String(state.clone());
            query.push('&');
            query.push_str(&crate::proto::http::encode_form([("state", state.as_str())]));
        }
        let sep = if session.request.redirect_uri.contains('?') { '&' } else { '?' };
        let body = json!({
            "type": "oauth-authorization-response",
            "metadata": { "viewName": "templates/oauth/success-authorization-response" },
            "properties": properties,
            "links": [{ "href": format!("{}{sep}{query}", session.request.redirect_uri), "rel": "authorization-response" }],
            "actions": [],
            "messages": []
        });
        Ok(self.answer(&body, None, now))
    }

    /// Checks a presented HAAPI token: one this server signed, for this issuer, unexpired, with
    /// the HAAPI scope, bound with `cnf.jkt`, for a client that still exists.
    fn check_haapi_token(&self, token: &str, now: Timestamp, endpoints: &ExternalUrls) -> Result<HaapiToken, SimError> {
        let invalid = |why: String| self.dpop_error(401, "invalid_token", why);
        if self.is_dcr_token(token) {
            return Err(invalid(
                "this is the one-time dcr token; it is valid only at the registration endpoint. Get a HAAPI token (scope urn:se:curity:scopes:haapi) with the dynamic client".into(),
            ));
        }
        // A token this server issued, byte for byte, carries its signature; any other is verified.
        let cached = self.store.haapi_tokens.lock().get(token).map(|(_, claims)| claims.clone());
        let claims = match cached {
            Some(claims) => claims,
            None => self.verify_own_token(token).map_err(|e| invalid(format!("the access token is not a HAAPI token issued by this server: {e}")))?.claims,
        };
        let claims = &claims;
        if claims.get("iss").and_then(Value::as_str) != Some(endpoints.issuer.as_str()) {
            return Err(invalid(format!("the access token's iss is not {}", endpoints.issuer)));
        }
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if now.secs() >= exp {
            return Err(invalid(format!("the HAAPI token expired at {exp}: get a new one")));
        }
        let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
        if !scope.split(' ').any(|s| s == HAAPI_SCOPE) {
            return Err(invalid(format!("the access token lacks the scope {HAAPI_SCOPE}")));
        }
        let jkt = claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the access token is not DPoP-bound (no cnf.jkt)".into()))?;
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or("");
        if !self.store.dynamic_clients.lock().contains_key(client_id) {
            return Err(invalid(format!("client {client_id:?} of this token is no longer registered (database reset?): register again")));
        }
        Ok(HaapiToken { client_id: client_id.to_owned(), jkt: jkt.to_owned() })
    }

    /// The CAT endpoint. `refuse`: 400 `invalid_request` for GET and POST, so the client falls
    /// back (docs/protocol.md §3: the attestation data is not public, so it is not simulated).
    pub(super) fn cat_endpoint(&self) -> SimError {
        match self.settings.attestation {
            AttestationMode::Refuse | AttestationMode::Absent => SimError::invalid_request(
                "attestation is not available on this server (attestation setting \"refuse\"): use the DCR fallback (client_credentials with scope dcr)",
            ),
        }
    }

    /// The other device's answer for every polling session that waits (the page's "other device"
    /// panel). Returns how many sessions it reached.
    pub fn decide_polling(&mut self, approve: bool) -> usize {
        let mut n = 0;
        for session in self.store.sessions.lock().values_mut() {
            if matches!(session.poll, Some(PollState::Pending { .. })) {
                session.poll = Some(if approve { PollState::Approved } else { PollState::Denied });
                n += 1;
            }
        }
        n
    }
}
