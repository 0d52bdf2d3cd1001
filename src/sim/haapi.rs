//! HAAPI resources: the authorization endpoint as the HAAPI entry point (PROTOCOL.md §4, §5),
//! protected by the DPoP-bound HAAPI token (RFC 9449 §7), and the attestation (CAT) endpoint
//! (PROTOCOL.md §3).

use super::dpop::{ProofFailure, ProofTarget};
use super::request::{authorization, duplicate_param, query_param};
use super::response::{Challenge, SimError};
use super::settings::{AttestationMode, Endpoints, HAAPI_SCOPE};
use super::Simulator;
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy as _;
use crate::proto::http::{Headers, HttpRequest, HttpResponse};
use crate::proto::url::Url;
use serde_json::{json, Value};

/// The HAAPI media type (PROTOCOL.md §5).
const HAAPI_MEDIA_TYPE: &str = "application/vnd.auth+json";

/// The claims of a HAAPI token that passed its checks.
struct HaapiToken {
    client_id: String,
    jkt: String,
}

impl Simulator {
    fn dpop_error(&self, status: u16, error: &'static str, description: impl Into<String>) -> SimError {
        SimError::new(status, error, description).with_challenge(Challenge::DPoP { algs: self.settings.dpop_alg_names().join(" ") })
    }

    /// `GET` authorize with the HAAPI headers (PROTOCOL.md §4): `Accept` with
    /// `application/vnd.auth+json`, `Authorization: DPoP <HAAPI token>` and a `DPoP` proof with
    /// `htm` GET, `htu` the authorize URL and `ath` of the token, signed by the key the token is
    /// bound to (RFC 9449 §7.1, §4.3 point 12). Errors about the token or its binding are 401
    /// `invalid_token`, about the proof 401 `invalid_dpop_proof`, both with a `DPoP` challenge
    /// (RFC 9449 §7.1). Success: the first `authentication-step` with a `Set-Session-Id`.
    pub(super) fn authorize_endpoint(&mut self, request: &HttpRequest, url: &Url, now: Timestamp, endpoints: &Endpoints) -> Result<HttpResponse, SimError> {
        let accept = request.header("accept").unwrap_or("").to_ascii_lowercase();
        if !accept.split(',').any(|m| m.split(';').next().unwrap_or("").trim() == HAAPI_MEDIA_TYPE) {
            return Err(SimError::new(
                406,
                "invalid_request",
                format!("send Accept: {HAAPI_MEDIA_TYPE}: this simulator serves only the HAAPI (API) representation of authorize (PROTOCOL.md §5)"),
            ));
        }
        let token = match authorization(request) {
            None => return Err(self.dpop_error(401, "invalid_token", "the HAAPI request needs Authorization: DPoP <HAAPI access token> (RFC 9449 §7.1)")),
            Some((scheme, token)) if scheme == "dpop" && !token.is_empty() => token,
            Some((scheme, _)) if scheme == "dpop" => {
                return Err(self.dpop_error(401, "invalid_token", "the DPoP credentials are empty: send Authorization: DPoP <HAAPI access token>"))
            }
            Some((scheme, token)) => {
                let extra = if self.store.dcr_tokens.contains_key(&token) {
                    " This is the one-time dcr token: it is valid only at the registration endpoint."
                } else {
                    ""
                };
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

        let target = ProofTarget { method: "GET", url: &endpoints.authorize, access_token: Some(&token) };
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
            return Err(self.dpop_error(401, "invalid_token", format!(
                "invalid DPoP key binding: the proof is signed with key {} but the token is bound to {} (cnf.jkt, RFC 9449 §7.1); sign with the key the token was issued for",
                proof.jkt, haapi.jkt
            )));
        }
        self.commit_proof(&proof);

        if let Some(name) = duplicate_param(url) {
            return Err(SimError::invalid_request(format!("parameter {name:?} appears more than once (RFC 6749 §3.1)")));
        }
        match query_param(url, "client_id") {
            Some(id) if id == haapi.client_id => {}
            Some(id) => return Err(SimError::invalid_request(format!("client_id {id:?} is not the HAAPI token's client {:?}", haapi.client_id))),
            None => return Err(SimError::invalid_request(format!("client_id is missing; it must be the HAAPI token's client {:?}", haapi.client_id))),
        }
        if let Some(rt) = query_param(url, "response_type").filter(|rt| rt != "code") {
            return Err(SimError::new(400, "unsupported_response_type", format!("response_type {rt:?} is not supported; use code")));
        }
        let template = &self.settings.template_client;
        if let Some(uri) = query_param(url, "redirect_uri").filter(|u| !template.redirect_uris.contains(u)) {
            return Err(SimError::invalid_request(format!("redirect_uri {uri:?} is not registered; registered: {:?}", template.redirect_uris)));
        }

        let session_id = self.rng.token(16);
        let mut headers = Headers::new();
        headers.set("content-type", HAAPI_MEDIA_TYPE);
        headers.set("cache-control", "no-store");
        headers.set("set-session-id", session_id);
        if self.settings.dpop_nonce == super::DpopNonceMode::Required {
            let nonce = self.fresh_nonce(now);
            headers.set("dpop-nonce", nonce);
        }
        Ok(HttpResponse { status: 200, headers, body: username_password_step().to_string() })
    }

    /// Checks a presented HAAPI token: one this server signed, for this issuer, unexpired, with
    /// the HAAPI scope, bound with `cnf.jkt`, for a client that still exists.
    fn check_haapi_token(&self, token: &str, now: Timestamp, endpoints: &Endpoints) -> Result<HaapiToken, SimError> {
        let invalid = |why: String| self.dpop_error(401, "invalid_token", why);
        if self.store.dcr_tokens.contains_key(token) {
            return Err(invalid("this is the one-time dcr token; it is valid only at the registration endpoint. Get a HAAPI token (scope urn:se:curity:scopes:haapi) with the dynamic client".into()));
        }
        let decoded = self.verify_own_token(token).map_err(|e| invalid(format!("the access token is not a HAAPI token issued by this server: {e}")))?;
        let claims = &decoded.claims;
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
        if !self.store.dynamic_clients.contains_key(client_id) {
            return Err(invalid(format!("client {client_id:?} of this token is no longer registered (database reset?): register again")));
        }
        Ok(HaapiToken { client_id: client_id.to_owned(), jkt: jkt.to_owned() })
    }

    /// The CAT endpoint. `refuse`: 400 `invalid_request` for GET and POST, so the client falls
    /// back (PROTOCOL.md §3: the attestation data is NOT FOUND, so it is not simulated).
    pub(super) fn cat_endpoint(&self) -> SimError {
        match self.settings.attestation {
            AttestationMode::Refuse | AttestationMode::Absent => SimError::invalid_request(
                "attestation is not available on this server (attestation setting \"refuse\"): use the DCR fallback (client_credentials with scope dcr)",
            ),
        }
    }
}

/// The first HAAPI step: a username/password form (PROTOCOL.md §5). The `href` is where the
/// authentication service will answer once authentication is simulated.
fn username_password_step() -> Value {
    json!({
        "type": "authentication-step",
        "metadata": { "viewName": "authenticator/html-form/authenticate/get", "templateArea": "html1" },
        "actions": [{
            "template": "form",
            "kind": "login",
            "title": "Login",
            "model": {
                "href": "/authn/authenticate/username-password",
                "method": "POST",
                "type": "application/x-www-form-urlencoded",
                "actionTitle": "Login",
                "fields": [
                    { "name": "userName", "type": "username", "label": "Username" },
                    { "name": "password", "type": "password", "label": "Password" }
                ]
            }
        }],
        "links": [],
        "messages": []
    })
}
