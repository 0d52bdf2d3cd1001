//! The grants that follow the HAAPI login at the token endpoint: `authorization_code` (RFC 6749
//! §4.1.3, with PKCE, RFC 7636 §4.6) and `refresh_token` (RFC 6749 §6), both for the dynamic
//! client, both DPoP-bound (RFC 9449 §5). Codes are single use and expire; with token-bound codes
//! (Curity's `issue-token-bound-authorization-code`, on by default) a code is redeemed only with
//! the DPoP key of the session that earned it, and a refresh token only with its own key.

use super::dpop::{ProofFailure, ProofTarget, VerifiedProof};
use super::haapi::RefreshGrant;
use super::request::Form;
use super::response::{json_ok, SimError};
use super::settings::{DpopNonceMode, ExternalUrls};
use super::Simulator;
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy as _;
use crate::proto::http::{HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

fn invalid_grant(description: impl Into<String>) -> SimError {
    SimError::new(400, "invalid_grant", description)
}

/// What the new tokens are for.
struct Subject<'a> {
    client_id: &'a str,
    subject: &'a str,
    scope: &'a str,
    jkt: &'a str,
    nonce: Option<&'a str>,
    amr: &'static str,
    auth_time: u64,
    /// The authorization code being redeemed (a login: an ID token and a refresh token too);
    /// `None` for a refresh.
    code: Option<&'a str>,
}

impl Simulator {
    /// The DPoP proof of a grant request; required (400 `invalid_dpop_proof`) when `required`.
    fn grant_proof(&mut self, request: &HttpRequest, now: Timestamp, endpoints: &ExternalUrls, required: bool) -> Result<Option<VerifiedProof>, SimError> {
        let target = ProofTarget { method: "POST", url: &endpoints.token, access_token: None, tolerate_ath: true };
        match self.verify_proof(request, &target, now) {
            Ok(proof) => Ok(Some(proof)),
            Err(ProofFailure::Missing) if !required => Ok(None),
            Err(ProofFailure::Missing) => Err(self.dpop_error(
                400,
                "invalid_dpop_proof",
                "this grant is DPoP-bound: send a DPoP proof signed with the key the grant is bound to (RFC 9449 §5)",
            )),
            Err(ProofFailure::Invalid(why)) => Err(self.dpop_error(400, "invalid_dpop_proof", why)),
            Err(ProofFailure::Nonce(why)) => {
                let nonce = self.fresh_nonce(now);
                Err(self.dpop_error(400, "use_dpop_nonce", why).with_header("dpop-nonce", nonce))
            }
        }
    }

    /// `grant_type=authorization_code`.
    pub(super) fn code_grant(&mut self, request: &HttpRequest, form: &Form, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let client = self.authenticate_client(request, form, now)?;
        let code = form.get("code").ok_or_else(|| SimError::invalid_request("code is missing (RFC 6749 §4.1.3)"))?.to_owned();
        let grant =
            self.store.codes.lock().get(&code).cloned().ok_or_else(|| invalid_grant("the authorization code is unknown or has expired: log in again"))?;
        if grant.used {
            // RFC 6749 §4.1.2: a code used twice is an attack; the tokens it bought are revoked
            // (those of the same user's other logins are not).
            self.store.refresh_tokens.lock().retain(|r| r.code != code);
            return Err(invalid_grant("the authorization code was already used; it is single use (RFC 6749 §4.1.2), and the tokens it bought are revoked"));
        }
        if grant.expires_at <= now.secs() {
            return Err(invalid_grant("the authorization code has expired: log in again"));
        }
        if grant.client_id != client.client_id {
            return Err(invalid_grant(format!(
                "the authorization code was issued to client {:?}, not {:?} (RFC 6749 §4.1.3)",
                grant.client_id, client.client_id
            )));
        }
        match form.get("redirect_uri") {
            Some(uri) if uri == grant.redirect_uri => {}
            Some(uri) => return Err(invalid_grant(format!("redirect_uri {uri:?} is not the one of the authorization request ({:?})", grant.redirect_uri))),
            None if grant.redirect_uri_sent => {
                return Err(SimError::invalid_request("redirect_uri is missing: send the one of the authorization request (RFC 6749 §4.1.3)"))
            }
            // RFC 6749 §4.1.3: required only if the authorization request included it.
            None => {}
        }
        if let Some(challenge) = &grant.code_challenge {
            let verifier = form
                .get("code_verifier")
                .ok_or_else(|| invalid_grant("code_verifier is missing: the authorization request had a code_challenge (RFC 7636 §4.5)"))?;
            let computed = crate::proto::jose::b64url(&Sha256::digest(verifier.as_bytes()));
            if computed != *challenge {
                return Err(invalid_grant("the code_verifier does not match the code_challenge (RFC 7636 §4.6)"));
            }
        }
        let proof = self.grant_proof(request, now, endpoints, grant.jkt.is_some())?;
        if let (Some(bound), Some(p)) = (&grant.jkt, &proof) {
            if *bound != p.jkt {
                return Err(self.dpop_error(
                    400,
                    "invalid_dpop_proof",
                    format!("the authorization code is bound to DPoP key {bound} (the key of the HAAPI session), but the proof is signed with {}", p.jkt),
                ));
            }
        }
        let Some(proof) = proof else {
            return Err(self.dpop_error(400, "invalid_dpop_proof", "send a DPoP proof: the tokens of this lab are DPoP-bound"));
        };
        if !self.commit_proof(&proof) {
            return Err(self.dpop_error(400, "invalid_dpop_proof", proof.replayed()));
        }
        // Checked and marked under one lock: of two redemptions at once, one wins.
        let first_use = self.store.codes.lock().get_mut(&code).is_some_and(|g| !std::mem::replace(&mut g.used, true));
        if !first_use {
            return Err(invalid_grant("the authorization code was already used; it is single use (RFC 6749 §4.1.2)"));
        }
        let who = Subject {
            client_id: &grant.client_id,
            subject: &grant.subject,
            scope: &grant.scope,
            jkt: &proof.jkt,
            nonce: grant.nonce.as_deref(),
            amr: grant.amr,
            auth_time: grant.auth_time,
            code: Some(&code),
        };
        self.issue_tokens(&who, now, endpoints)
    }

    /// `grant_type=refresh_token`.
    pub(super) fn refresh_grant(&mut self, request: &HttpRequest, form: &Form, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let client = self.authenticate_client(request, form, now)?;
        let token = form.get("refresh_token").ok_or_else(|| SimError::invalid_request("refresh_token is missing (RFC 6749 §6)"))?.to_owned();
        let grant = self
            .store
            .refresh_tokens
            .lock()
            .get(&token)
            .filter(|r| r.expires_at > now.secs())
            .cloned()
            .ok_or_else(|| invalid_grant("the refresh token is unknown, revoked or expired"))?;
        if grant.client_id != client.client_id {
            return Err(invalid_grant(format!("the refresh token was issued to client {:?}, not {:?}", grant.client_id, client.client_id)));
        }
        let proof = self.grant_proof(request, now, endpoints, true)?.ok_or_else(|| SimError::server_error("a required proof went missing"))?;
        if let Some(bound) = &grant.jkt {
            if *bound != proof.jkt {
                return Err(self.dpop_error(
                    400,
                    "invalid_dpop_proof",
                    format!("the refresh token is bound to DPoP key {bound}, but the proof is signed with {} (RFC 9449 §5)", proof.jkt),
                ));
            }
        }
        if !self.commit_proof(&proof) {
            return Err(self.dpop_error(400, "invalid_dpop_proof", proof.replayed()));
        }
        let who = Subject {
            client_id: &grant.client_id,
            subject: &grant.subject,
            scope: &grant.scope,
            jkt: &proof.jkt,
            nonce: None,
            amr: "pwd",
            auth_time: 0,
            code: None,
        };
        let mut response = self.issue_tokens(&who, now, endpoints)?;
        // The refresh token stays the same (RFC 6749 §6: a new one is optional).
        let mut body: serde_json::Value = crate::proto::json::parse(&response.body).unwrap_or_default();
        body["refresh_token"] = token.into();
        response.body = body.to_string();
        Ok(response)
    }

    /// A DPoP-bound access token, and (after a login) an ID token and a refresh token.
    fn issue_tokens(&mut self, who: &Subject<'_>, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let s = &self.settings;
        let (at_ttl, id_ttl, rt_ttl) = (s.access_token_ttl_secs, s.id_token_ttl_secs, s.refresh_token_ttl_secs);
        let mut access = json!({
            "iss": endpoints.issuer,
            "sub": who.subject,
            "aud": s.template_client.audience,
            "client_id": who.client_id,
            "scope": who.scope,
            "iat": now.secs(),
            "exp": now.secs().saturating_add(at_ttl),
            "jti": self.rng.token(16),
            "cnf": { "jkt": who.jkt },
        });
        let assurance = &self.settings.client_assurance;
        access[assurance.claim.as_str()] = json!(assurance.fallback);
        let access_token = self.issue_jwt("at+jwt", &access)?;
        let mut body = json!({ "access_token": access_token, "token_type": "DPoP", "expires_in": at_ttl, "scope": who.scope });
        if let Some(code) = who.code {
            let user = self.settings.authentication.users.iter().find(|u| u.subject == who.subject).map(|u| u.name.clone());
            let mut id = json!({
                "iss": endpoints.issuer,
                "sub": who.subject,
                "aud": who.client_id,
                "azp": who.client_id,
                "iat": now.secs(),
                "exp": now.secs().saturating_add(id_ttl),
                "auth_time": who.auth_time,
                "amr": [who.amr],
            });
            if let Some(nonce) = who.nonce {
                id["nonce"] = nonce.into();
            }
            if let (Some(name), true) = (user, who.scope.split(' ').any(|x| x == "profile")) {
                id["name"] = name.into();
            }
            if who.scope.split(' ').any(|x| x == "openid") {
                body["id_token"] = self.issue_jwt("JWT", &id)?.into();
            }
            let refresh = self.rng.token(32);
            self.store.refresh_tokens.lock().insert(
                refresh.clone(),
                RefreshGrant {
                    client_id: who.client_id.into(),
                    jkt: Some(who.jkt.into()),
                    subject: who.subject.into(),
                    scope: who.scope.into(),
                    expires_at: now.secs().saturating_add(rt_ttl),
                    code: code.to_owned(),
                },
            );
            body["refresh_token"] = refresh.into();
        }
        let mut response = json_ok(200, &body);
        if self.settings.dpop_nonce == DpopNonceMode::Required {
            let nonce = self.fresh_nonce(now);
            response.headers.set("dpop-nonce", nonce);
        }
        Ok(response)
    }
}
