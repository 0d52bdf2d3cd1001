//! Discovery metadata (RFC 8414 §2, OpenID Connect Discovery 1.0 §3) and the JWKS with the
//! token-signing key (RFC 7517 §5).

use super::response::json_public;
use super::settings::{ExternalUrls, DCR_SCOPE, HAAPI_SCOPE};
use super::Simulator;
use crate::proto::http::HttpResponse;
use serde_json::{json, Value};

/// The client authentication methods the simulator verifies (RFC 8414 §2
/// `token_endpoint_auth_methods_supported`, names from RFC 7591 §2 and RFC 8705 §2).
pub(super) const AUTH_METHODS: [&str; 6] =
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth"];

impl Simulator {
    /// The metadata document: standard members only, listing what this server serves. The CAT
    /// endpoint has no metadata name (docs/protocol.md §1): a client derives it (`{token}/cat`)
    /// or is configured with it. No `userinfo_endpoint`: the simulator does not serve one.
    pub(super) fn discovery_document(&self, endpoints: &ExternalUrls) -> HttpResponse {
        let s = &self.settings;
        let mut scopes = vec!["openid".to_owned(), "profile".to_owned(), DCR_SCOPE.to_owned(), HAAPI_SCOPE.to_owned()];
        for scope in s.template_client.scope.split_whitespace() {
            if !scopes.iter().any(|x| x == scope) {
                scopes.push(scope.to_owned());
            }
        }
        let mut doc = json!({
            "issuer": endpoints.issuer,
            "authorization_endpoint": endpoints.authorize,
            "token_endpoint": endpoints.token,
            "registration_endpoint": endpoints.registration,
            "jwks_uri": endpoints.jwks,
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "response_modes_supported": ["query"],
            "authorization_response_iss_parameter_supported": true,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": s.allowed_assertion_algs.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "dpop_signing_alg_values_supported": s.dpop_alg_names(),
            "tls_client_certificate_bound_access_tokens": false,
        });
        if let Some(origin) = &s.mtls_origin {
            // The token endpoint on the mutual-TLS listener (RFC 8705 §5): what a client
            // authenticating with a certificate sends its token requests to.
            doc["mtls_endpoint_aliases"] = json!({ "token_endpoint": format!("{}{}", origin.trim_end_matches('/'), s.paths.token) });
        }
        json_public(&doc)
    }

    /// The JWKS (RFC 7517 §5): the public half of the ES256 key that signs access tokens.
    pub(super) fn jwks_document(&self) -> HttpResponse {
        let mut key = self.signing_key.public_jwk().clone();
        key["kid"] = Value::String(self.signing_kid.clone());
        key["use"] = Value::String("sig".into());
        key["alg"] = Value::String("ES256".into());
        json_public(&json!({ "keys": [key] }))
    }
}
