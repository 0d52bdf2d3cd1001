//! Templatized Dynamic Client Registration (RFC 7591 §3, Curity templatized DCR,
//! docs/protocol.md §2 F2).

use super::client_auth::secret_hash;
use super::request::{authorization, media_type};
use super::response::{json_ok, SimError};
use super::settings::HAAPI_SCOPE;
use super::{ClientChange, DynamicClient, DynamicClientInfo, Simulator};
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy as _;
use crate::proto::http::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

impl Simulator {
    /// `POST` registration endpoint.
    ///
    /// 1. `Authorization: Bearer <dcr token>` (RFC 7591 §3 with an initial access token,
    ///    RFC 6750 §2.1). Missing, unknown, expired or used: 401 `invalid_token` with a `Bearer`
    ///    challenge (RFC 6750 §3.1). The token is single-use and is **consumed here**, by the
    ///    first request that presents it, even if that request then fails for its content type
    ///    or metadata: the server cannot tell a mistake from an attack, and Curity documents the
    ///    token only as "can only be used once" (docs/protocol.md §2 F1).
    /// 2. `Content-Type: application/json` (RFC 7591 §3.1), else 400 `invalid_request`.
    /// 3. A JSON object with `software_id` naming the template client, whose
    ///    `authenticate-client-by` lists the token's client; else 400 `invalid_client_metadata`
    ///    (RFC 7591 §3.2.2 has no code for an unknown software id: INFERENCE). Optional
    ///    `redirect_uris` must be the template's (else `invalid_redirect_uri`).
    /// 4. 201 with the new client (RFC 7591 §3.2.1).
    pub(super) fn registration_endpoint(&mut self, request: &HttpRequest, now: Timestamp) -> Result<HttpResponse, SimError> {
        let registered_by = self.consume_dcr_token(request, now)?;
        match media_type(request).as_deref() {
            Some(crate::proto::http::JSON) => {}
            other => {
                return Err(SimError::invalid_request(format!(
                    "the registration request must be application/json (RFC 7591 §3.1), not {}; the dcr token is used up, get a new one",
                    other.unwrap_or("without a Content-Type")
                )))
            }
        }
        let body: Value = crate::proto::json::parse(request.body.as_deref().unwrap_or(""))
            .map_err(|e| SimError::invalid_client_metadata(format!("the body is not JSON ({e}); send {{\"software_id\": \"<template client id>\"}}")))?;
        let Value::Object(metadata) = body else {
            return Err(SimError::invalid_client_metadata("the body must be a JSON object (RFC 7591 §3.1)"));
        };
        let template = self.settings.template_client.clone();
        let software_id = match metadata.get("software_id") {
            Some(Value::String(id)) if !id.is_empty() => id.as_str(),
            Some(_) => return Err(SimError::invalid_client_metadata("software_id must be a string naming the template client (RFC 7591 §2)")),
            None => {
                return Err(SimError::invalid_client_metadata(format!(
                    "software_id is missing: templatized registration needs {{\"software_id\": \"{}\"}}",
                    template.client_id
                )))
            }
        };
        if software_id != template.client_id {
            return Err(SimError::invalid_client_metadata(format!(
                "software_id {software_id:?} does not name a template client (this server has {:?})",
                template.client_id
            )));
        }
        if !template.authenticate_client_by.contains(&registered_by) {
            return Err(SimError::invalid_client_metadata(format!(
                "template {software_id:?} does not list client {registered_by:?} in authenticate-client-by, so its dcr token cannot register from it"
            )));
        }
        if let Some(uris) = metadata.get("redirect_uris") {
            let ok = uris.as_array().is_some_and(|list| list.iter().all(|u| u.as_str().is_some_and(|u| template.redirect_uris.iter().any(|t| t == u))));
            if !ok {
                return Err(SimError::new(
                    400,
                    "invalid_redirect_uri",
                    format!("redirect_uris must be a subset of the template's {:?} (RFC 7591 §3.2.2); or leave them out", template.redirect_uris),
                ));
            }
        }
        if let Some(method) = metadata.get("token_endpoint_auth_method") {
            if !matches!(method.as_str(), Some("client_secret_basic" | "client_secret_post")) {
                return Err(SimError::invalid_client_metadata(format!(
                    "token_endpoint_auth_method {method} is not possible: the template issues a client secret (client_secret_basic or client_secret_post)"
                )));
            }
        }

        let client_id = format!("dyn-{}", self.rng.token(16));
        let secret = self.rng.token(32);
        let issued_at = now.secs();
        let ttl = self.settings.dynamic_client_secret_ttl_secs;
        let secret_expires_at = if ttl == 0 { 0 } else { issued_at.saturating_add(ttl) };
        let info = DynamicClientInfo { client_id: client_id.clone(), template: template.client_id.clone(), issued_at, secret_expires_at, registered_by };
        let lifetime = self.settings.dynamic_client_ttl_secs;
        let forget_at = if lifetime == 0 { u64::MAX } else { issued_at.saturating_add(lifetime) };
        {
            let mut clients = self.store.dynamic_clients.lock();
            // At the cap the registration that leaves first (the oldest) makes room: its device
            // meets the stale-client path (401 invalid_client) and registers again.
            let mut evicted = Vec::new();
            while clients.len() >= self.settings.max_dynamic_clients.max(1) {
                match clients.evict_first() {
                    Some(id) => evicted.push(id),
                    None => break,
                }
            }
            let client = DynamicClient { info, secret_sha256: secret_hash(&secret), forget_at };
            if let Some(journal) = self.store.client_journal.lock().as_mut() {
                journal.extend(evicted.into_iter().map(ClientChange::Removed));
                journal.push(ClientChange::Added(super::state::export_client(&client)));
            }
            clients.insert(client_id.clone(), client);
        }
        Ok(json_ok(
            201,
            &json!({
                "client_id": client_id,
                "client_secret": secret,
                "client_id_issued_at": issued_at,
                "client_secret_expires_at": secret_expires_at,
                "software_id": template.client_id,
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials", "authorization_code"],
                "response_types": ["code"],
                "redirect_uris": template.redirect_uris,
                "scope": format!("{} {HAAPI_SCOPE}", template.scope).trim(),
                "audience": template.audience,
            }),
        ))
    }

    /// Checks the `Bearer` dcr token and marks it used; returns the client it was issued to.
    fn consume_dcr_token(&mut self, request: &HttpRequest, now: Timestamp) -> Result<String, SimError> {
        let token = match authorization(request) {
            None => {
                return Err(SimError::bearer_invalid_token(
                    "the registration endpoint needs Authorization: Bearer <dcr token> (get one with client_credentials and scope=dcr)",
                ))
            }
            Some((scheme, token)) if scheme == "bearer" && !token.is_empty() => token,
            Some((scheme, _)) if scheme == "bearer" => {
                return Err(SimError::bearer_invalid_token("the Bearer credentials are empty: send Authorization: Bearer <dcr token>"))
            }
            Some((scheme, _)) => {
                return Err(SimError::bearer_invalid_token(format!("use Authorization: Bearer <dcr token> (RFC 6750 §2.1), not the {scheme} scheme")))
            }
        };
        let mut tokens = self.store.dcr_tokens.lock();
        let Some(record) = super::dcr_key(&token).and_then(|key| tokens.get_mut(&key)) else {
            return Err(SimError::bearer_invalid_token(
                "the bearer token is not a dcr token this server issued, or it expired: get a new one (client_credentials, scope=dcr)",
            ));
        };
        if record.used {
            return Err(SimError::bearer_invalid_token("the dcr token was already used; it is valid for one registration only: get a new one"));
        }
        if now.secs() >= record.expires_at {
            return Err(SimError::bearer_invalid_token("the dcr token expired: get a new one"));
        }
        record.used = true;
        Ok(record.client_id.clone())
    }
}
