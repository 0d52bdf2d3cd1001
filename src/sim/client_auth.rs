//! Client authentication at the token endpoint (RFC 6749 §2.3): client secrets (§2.3.1), JWT
//! assertions (RFC 7523 §2.2, in `assertion`), and mutual TLS (RFC 8705 §2).

use super::request::{authorization, decode_basic, Form};
use super::response::{Challenge, SimError};
use super::settings::{AttestationMode, ClientAuthentication};
use super::{DynamicClient, Simulator};
use crate::proto::clock::Timestamp;
use crate::proto::http::HttpRequest;
use crate::proto::secret::Secret;
#[cfg(feature = "sim")]
use crate::proto::x509::{self, TrustAnchor, X509Error};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `client_assertion_type` of a Curity client attestation token (CAT, docs/protocol.md §3).
const CURITY_ATTESTATION: &str = "urn:se:curity:attestation:client";

/// The client a request authenticated as.
#[derive(Clone, Debug)]
pub(super) struct AuthenticatedClient {
    /// Its `client_id`.
    pub client_id: String,
    /// For a dynamic client, the template it was registered from; `None` for the main client.
    pub template: Option<String>,
    /// Whether it authenticated with no credentials (a public client).
    pub public: bool,
}

/// A client found by id: the main client's registered method, or a dynamic client.
pub(super) enum Registered {
    Main(ClientAuthentication),
    Dynamic(DynamicClient),
}

/// SHA-256 of a secret (what the server stores for dynamic clients).
pub(super) fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares a presented secret with a stored hash in constant time: hashing first makes the
/// comparison independent of both values' lengths.
fn secret_matches(presented: &str, stored_hash: &[u8; 32]) -> bool {
    secret_hash(presented).ct_eq(stored_hash).into()
}

impl Simulator {
    /// Looks a client up by id.
    pub(super) fn find_client(&self, client_id: &str) -> Option<Registered> {
        if client_id == self.settings.main_client.client_id {
            Some(Registered::Main(self.settings.main_client.authentication.clone()))
        } else {
            self.store.dynamic_clients.lock().get(client_id).cloned().map(Registered::Dynamic)
        }
    }

    /// Authenticates the client of a token request with exactly one method (RFC 6749 §2.3:
    /// "MUST NOT use more than one authentication method in each request"), which must be the
    /// method it is registered with. Curity's documentation says the Basic header wins when a
    /// body secret is sent too (docs/protocol.md §2); the simulator refuses instead, as RFC 6749
    /// requires, so the client learns to send one.
    pub(super) fn authenticate_client(&mut self, request: &HttpRequest, form: &Form, now: Timestamp) -> Result<AuthenticatedClient, SimError> {
        let basic = match authorization(request) {
            None => None,
            Some((scheme, credentials)) if scheme == "basic" => {
                Some(decode_basic(&credentials).map_err(|e| {
                    SimError::invalid_client(format!("malformed HTTP Basic credentials: {e} (RFC 6749 §2.3.1)")).with_challenge(Challenge::Basic)
                })?)
            }
            Some((scheme, credentials)) => {
                let what = if self.is_dcr_token(&credentials) {
                    "; this is the one-time dcr token, which is valid only as Bearer at the registration endpoint"
                } else {
                    ""
                };
                return Err(SimError::invalid_request(format!(
                    "the token endpoint takes client authentication (Basic, client_secret_post, client_assertion or mutual TLS), not an access token in Authorization: {scheme}{what}"
                )));
            }
        };
        let post_secret = form.get("client_secret");
        let assertion = form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some();
        let used = [basic.is_some(), post_secret.is_some(), assertion];
        if used.iter().filter(|u| **u).count() > 1 {
            return Err(SimError::invalid_request(
                "more than one client authentication method in one request (Basic header, client_secret in the body, client_assertion); send exactly one (RFC 6749 §2.3)",
            ));
        }
        let form_client_id = form.get("client_id");
        if let Some((id, secret)) = basic {
            if form_client_id.is_some_and(|f| f != id) {
                return Err(SimError::invalid_request(format!(
                    "client_id {:?} in the body differs from {id:?} in the Basic header",
                    form_client_id.unwrap_or_default()
                )));
            }
            return self.check_secret(&id, &secret, "client_secret_basic", now).map_err(|e| e.with_challenge(Challenge::Basic));
        }
        if let Some(secret) = post_secret {
            let id = form_client_id.ok_or_else(|| SimError::invalid_request("client_secret in the body needs client_id next to it (RFC 6749 §2.3.1)"))?;
            return self.check_secret(id, secret, "client_secret_post", now);
        }
        if assertion {
            let (Some(assertion), Some(kind)) = (form.get("client_assertion"), form.get("client_assertion_type")) else {
                return Err(SimError::invalid_request("send both client_assertion and client_assertion_type (RFC 7521 §4.2)"));
            };
            return match kind {
                JWT_BEARER => self.verify_client_assertion(assertion, form_client_id, now),
                CURITY_ATTESTATION => Err(SimError::invalid_client(match self.settings.attestation {
                    AttestationMode::Refuse | AttestationMode::Absent => {
                        "client attestation is refused by this server (attestation setting): use the fallback (scope dcr, then a dynamic client)"
                    }
                })),
                other => Err(SimError::invalid_client(format!("client_assertion_type {other:?} is not supported; use {JWT_BEARER} (RFC 7523 §2.2)"))),
            };
        }
        let Some(id) = form_client_id else {
            return Err(SimError::invalid_client(
                "no client authentication: send HTTP Basic, client_secret_post, a client assertion, or client_id with a TLS client certificate (RFC 6749 §2.3)",
            ));
        };
        match self.find_client(id) {
            None => Err(SimError::invalid_client(format!("unknown client {id:?}"))),
            Some(Registered::Main(ClientAuthentication::None)) => Ok(AuthenticatedClient { client_id: id.to_owned(), template: None, public: true }),
            Some(Registered::Main(auth @ (ClientAuthentication::TlsClientAuth { .. } | ClientAuthentication::SelfSignedTlsClientAuth { .. }))) => {
                self.check_certificate(request, id, &auth, now)
            }
            Some(Registered::Main(auth)) => {
                Err(SimError::invalid_client(format!("no client credentials: client {id:?} is registered for {}, send them that way", auth.method_name())))
            }
            Some(Registered::Dynamic(_)) => Err(SimError::invalid_client(format!(
                "no client credentials: dynamic client {id:?} authenticates with its client_secret (client_secret_basic or client_secret_post)"
            ))),
        }
    }

    /// `client_secret_basic` / `client_secret_post` (RFC 6749 §2.3.1). Dynamic clients accept
    /// both (Curity's `secret` verifier); the main client only the one it is registered for.
    fn check_secret(&self, id: &str, secret: &str, method: &'static str, now: Timestamp) -> Result<AuthenticatedClient, SimError> {
        let wrong = || SimError::invalid_client(format!("wrong client secret for client {id:?}"));
        match self.find_client(id) {
            None => Err(SimError::invalid_client(format!(
                "unknown client {id:?}; if it is a dynamic client, the server may have lost it (database reset): register again"
            ))),
            Some(Registered::Main(auth)) => {
                let registered: &Secret = match (&auth, method) {
                    (ClientAuthentication::ClientSecretBasic { secret }, "client_secret_basic") => secret,
                    (ClientAuthentication::ClientSecretPost { secret }, "client_secret_post") => secret,
                    _ => {
                        return Err(SimError::invalid_client(format!(
                            "client {id:?} is registered for {}, but authenticated with {method}",
                            auth.method_name()
                        )))
                    }
                };
                if secret_matches(secret, &secret_hash(registered.expose())) {
                    Ok(AuthenticatedClient { client_id: id.to_owned(), template: None, public: false })
                } else {
                    Err(wrong())
                }
            }
            Some(Registered::Dynamic(client)) => {
                if !secret_matches(secret, &client.secret_sha256) {
                    return Err(wrong());
                }
                let expires = client.info.secret_expires_at;
                if expires != 0 && now.secs() >= expires {
                    return Err(SimError::invalid_client(format!(
                        "the secret of dynamic client {id:?} expired at {expires} (client_secret_expires_at): register a new client"
                    )));
                }
                Ok(AuthenticatedClient { client_id: id.to_owned(), template: Some(client.info.template), public: false })
            }
        }
    }

    /// Mutual TLS (RFC 8705 §2): the certificate presented in the TLS handshake, verified
    /// against the client's trusted CAs (§2.1) or pinned keys (§2.2).
    fn check_certificate(&self, request: &HttpRequest, id: &str, auth: &ClientAuthentication, now: Timestamp) -> Result<AuthenticatedClient, SimError> {
        let Some(chain) = request.client_certificate.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(SimError::invalid_client(format!(
                "no client certificate presented: client {id:?} is registered for {} (RFC 8705 §2); from a browser, import the client certificate (PKCS#12) and call the server's mutual-TLS port",
                auth.method_name()
            )));
        };
        verify_certificate(chain, id, auth, now)
    }
}

/// The presented chain against the client's registration (RFC 8705 §2.1, §2.2).
#[cfg(feature = "sim")]
fn verify_certificate(chain: &str, id: &str, auth: &ClientAuthentication, now: Timestamp) -> Result<AuthenticatedClient, SimError> {
    let anchors: Vec<TrustAnchor<'_>> = match auth {
        ClientAuthentication::TlsClientAuth { trusted_ca_pem, .. } => trusted_ca_pem.iter().map(|p| TrustAnchor::Ca(p)).collect(),
        ClientAuthentication::SelfSignedTlsClientAuth { pinned_spki } => pinned_spki.iter().map(|p| TrustAnchor::PinnedSpki(p)).collect(),
        _ => Vec::new(),
    };
    let info = x509::verify_client_chain(chain, &anchors, now.secs()).map_err(|e| {
        SimError::invalid_client(match e {
            X509Error::Expired { .. } | X509Error::NotYetValid { .. } => {
                format!("the client certificate is not valid now: {e}; issue a new one")
            }
            X509Error::Untrusted(_) => format!("the client certificate is not issued by a CA trusted for client {id:?}: {e}"),
            X509Error::PinMismatch => format!("the client certificate's key is not the one registered for client {id:?}: {e}"),
            other => format!("the client certificate was refused: {other}"),
        })
    })?;
    if let ClientAuthentication::TlsClientAuth { subject_dn: Some(expected), .. } = auth {
        if normalize_dn(&info.subject) != normalize_dn(expected) {
            return Err(SimError::invalid_client(format!(
                "the client certificate's subject {:?} is not the registered tls_client_auth_subject_dn {expected:?} (RFC 8705 §2.1.2)",
                info.subject
            )));
        }
    }
    Ok(AuthenticatedClient { client_id: id.to_owned(), template: None, public: false })
}

/// The light simulator verifies no certificates: it says so (the client module loads the whole
/// simulator for mutual-TLS methods, so a page never gets here).
#[cfg(not(feature = "sim"))]
fn verify_certificate(_: &str, id: &str, auth: &ClientAuthentication, _: Timestamp) -> Result<AuthenticatedClient, SimError> {
    Err(SimError::server_error(format!(
        "this build of the simulator (sim-lite) verifies no certificates: client {id:?} uses {}, which needs the whole simulator module (pkg/sim/)",
        auth.method_name()
    )))
}

/// A distinguished name for comparison: lowercased, spaces around `,` `=` `+` removed.
#[cfg(feature = "sim")]
fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for part in dn.split(',') {
        if !out.is_empty() {
            out.push(',');
        }
        let rdn: Vec<String> = part.split('=').map(|s| s.trim().to_lowercase()).collect();
        out.push_str(&rdn.join("="));
    }
    out
}
