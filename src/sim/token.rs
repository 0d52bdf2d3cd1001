//! The token endpoint (RFC 6749 §3.2): `client_credentials` (§4.4) for the one-time `dcr` token
//! (docs/protocol.md §2 F1) and for the DPoP-bound HAAPI token (RFC 9449 §5, docs/protocol.md §2 F3).

use super::client_auth::AuthenticatedClient;
use super::dpop::{ProofFailure, ProofTarget};
use super::request::Form;
use super::response::{json_ok, Challenge, SimError};
use super::settings::{DpopNonceMode, ExternalUrls, DCR_SCOPE, HAAPI_SCOPE};
use super::{DcrKey, DcrToken, Simulator, DCR_TOKEN_BYTES};
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy as _;
use crate::proto::http::{HttpRequest, HttpResponse};

use serde_json::{json, Value};

impl Simulator {
    /// `POST` token endpoint. Order: form body, `grant_type`, client authentication, scope, then
    /// (HAAPI scope) the DPoP proof.
    pub(super) fn token_endpoint(&mut self, request: &HttpRequest, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let form = Form::parse(request)?;
        match form.get("grant_type") {
            None => return Err(SimError::invalid_request("grant_type is missing (RFC 6749 §4.4.2: grant_type=client_credentials)")),
            Some("client_credentials") => {}
            Some("authorization_code") => return self.code_grant(request, &form, now, endpoints),
            Some("refresh_token") => return self.refresh_grant(request, &form, now, endpoints),
            Some(other) => {
                return Err(SimError::new(
                    400,
                    "unsupported_grant_type",
                    format!("grant_type {other:?} is not supported here; use client_credentials, authorization_code or refresh_token"),
                ))
            }
        }
        let client = self.authenticate_client(request, &form, now)?;
        let scopes: Vec<&str> = form.get("scope").unwrap_or("").split(' ').filter(|s| !s.is_empty()).collect();
        if scopes.contains(&DCR_SCOPE) {
            self.issue_dcr_token(&client, &scopes, now)
        } else if scopes.contains(&HAAPI_SCOPE) {
            self.issue_haapi_token(request, &client, &scopes, now, endpoints)
        } else {
            Err(SimError::invalid_scope(format!(
                "scope {:?}: this server issues client_credentials tokens only for scope {DCR_SCOPE} (main client, to register) or {HAAPI_SCOPE} (dynamic client, with DPoP)",
                scopes.join(" ")
            )))
        }
    }

    /// The one-time initial access token for registration (docs/protocol.md §2 F1): only for a
    /// client a template names in `authenticateClientBy` (else `invalid_scope`, docs/protocol.md §8
    /// INFERENCE), and requested alone. It is opaque, `Bearer`, and valid only at the
    /// registration endpoint. A `DPoP` header on this request is not checked and does not bind
    /// the token: whether Curity's SDK sends one here is an open question (docs/protocol.md "Not found").
    fn issue_dcr_token(&mut self, client: &AuthenticatedClient, scopes: &[&str], now: Timestamp) -> Result<HttpResponse, SimError> {
        let template = &self.settings.template_client;
        if !template.authenticate_client_by.contains(&client.client_id) {
            return Err(SimError::invalid_scope(format!(
                "client {:?} may not request scope dcr: no template client lists it in authenticate-client-by (template {:?} lists {:?})",
                client.client_id, template.client_id, template.authenticate_client_by
            )));
        }
        if client.public {
            return Err(SimError::new(
                400,
                "unauthorized_client",
                format!(
                    "client {:?} has no authentication method; a fallback main client needs a real one (secret, mutual TLS or signed JWT, docs/protocol.md §2)",
                    client.client_id
                ),
            ));
        }
        if scopes.len() > 1 {
            return Err(SimError::invalid_scope(format!("request scope dcr alone, not {:?}", scopes.join(" "))));
        }
        let mut key: DcrKey = [0; DCR_TOKEN_BYTES];
        rand_core::RngCore::fill_bytes(&mut self.rng, &mut key);
        let token = crate::proto::base64::url_encode(&key);
        let ttl = self.settings.dcr_token_ttl_secs;
        self.store.dcr_tokens.lock().insert(key, DcrToken { client_id: client.client_id.clone(), expires_at: now.secs().saturating_add(ttl), used: false });
        Ok(json_ok(200, &json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": DCR_SCOPE })))
    }

    /// The HAAPI access token (docs/protocol.md §2 F3): only for a dynamic client (a template's
    /// `haapi` capability with `allow-without-attestation`), with a valid DPoP proof
    /// (RFC 9449 §4.3), bound to the proof key with `cnf.jkt` (RFC 9449 §6.1).
    ///
    /// The main client is refused with 400 `invalid_scope`: in Curity it reaches the HAAPI scope
    /// only through attestation, and the grant type itself is one it may use (for `dcr`), so
    /// `unauthorized_client` would point at the wrong thing.
    fn issue_haapi_token(
        &mut self,
        request: &HttpRequest,
        client: &AuthenticatedClient,
        scopes: &[&str],
        now: Timestamp,
        endpoints: &ExternalUrls,
    ) -> Result<HttpResponse, SimError> {
        if client.template.is_none() {
            return Err(SimError::invalid_scope(format!(
                "client {:?} gets the HAAPI scope only with attestation (client_assertion_type urn:se:curity:attestation:client); without it, request scope dcr, register a dynamic client and ask with that client",
                client.client_id
            )));
        }
        let allowed: Vec<&str> = self.settings.template_client.scope.split_whitespace().collect();
        if let Some(extra) = scopes.iter().find(|s| **s != HAAPI_SCOPE && !allowed.contains(s)) {
            return Err(SimError::invalid_scope(format!(
                "scope {extra:?} is not registered for client {:?} (it has {HAAPI_SCOPE} {})",
                client.client_id,
                allowed.join(" ")
            )));
        }
        let target = ProofTarget { method: "POST", url: &endpoints.token, access_token: None, tolerate_ath: false };
        let proof = match self.verify_proof(request, &target, now) {
            Ok(proof) => proof,
            Err(ProofFailure::Missing) => {
                return Err(SimError::new(400, "invalid_dpop_proof", "the HAAPI token is DPoP-bound; send a DPoP proof header (RFC 9449 §5)"))
            }
            Err(ProofFailure::Invalid(why)) => return Err(SimError::new(400, "invalid_dpop_proof", why)),
            Err(ProofFailure::Nonce(why)) => {
                let nonce = self.fresh_nonce(now);
                return Err(SimError::new(400, "use_dpop_nonce", why)
                    .with_challenge(Challenge::DPoP { algs: self.settings.dpop_alg_names().join(" ") })
                    .with_header("dpop-nonce", nonce));
            }
        };
        if !self.commit_proof(&proof) {
            return Err(SimError::new(400, "invalid_dpop_proof", proof.replayed()));
        }
        let ttl = self.settings.haapi_token_ttl_secs;
        let scope = scopes.join(" ");
        let mut claims = json!({
            "iss": endpoints.issuer,
            "sub": client.client_id,
            "aud": self.settings.template_client.audience,
            "client_id": client.client_id,
            "scope": scope,
            "iat": now.secs(),
            "exp": now.secs().saturating_add(ttl),
            "jti": self.rng.token(16),
            "cnf": { "jkt": proof.jkt },
        });
        let assurance = &self.settings.client_assurance;
        claims[assurance.claim.as_str()] = json!(assurance.fallback);
        let token = self.issue_jwt("at+jwt", &claims)?;
        if let Value::Object(claims) = claims {
            let mut cache = self.store.haapi_tokens.lock();
            if cache.len() < super::MAX_CACHED_HAAPI_TOKENS {
                cache.insert(token.clone(), (now.secs().saturating_add(ttl), claims));
            }
        }
        let mut response = json_ok(200, &json!({ "access_token": token, "token_type": "DPoP", "expires_in": ttl, "scope": scope }));
        if self.settings.dpop_nonce == DpopNonceMode::Required {
            let nonce = self.fresh_nonce(now);
            response.headers.set("dpop-nonce", nonce);
        }
        Ok(response)
    }
}
