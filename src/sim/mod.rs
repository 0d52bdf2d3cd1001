//! A simulated Curity Identity Server for the attestation fallback.
//!
//! [`Simulator::handle`] takes an [`HttpRequest`] and the current time and returns the
//! [`HttpResponse`] Curity would send, after really verifying what it received: client
//! authentication (RFC 6749 §2.3, RFC 7523, RFC 8705), the one-time `dcr` initial access token
//! and Dynamic Client Registration (RFC 7591), DPoP proofs and bound tokens (RFC 9449), and the
//! first HAAPI request. It does no I/O and reads no clock; its randomness comes from a
//! [`SeededEntropy`], so the same seed, requests and times give byte-identical responses.
//!
//! | Endpoint (default path) | Module |
//! |---|---|
//! | `<issuer>/.well-known/openid-configuration`, `<issuer>/jwks` | `discovery` |
//! | token `/oauth/v2/oauth-token` | `token`, `client_auth`, `assertion`, `dpop` |
//! | registration `/token-service/oauth-registration` | `registration` |
//! | authorize `/oauth/v2/oauth-authorize`, CAT `/oauth/v2/oauth-token/cat` | `haapi` |
//!
//! Requests are matched by **path** only: scheme and host of the request URL are ignored,
//! because a same-origin proxy or `sendVia` changes them. Checks of DPoP `htu` and assertion
//! `aud` use the external URLs derived from [`SimSettings::issuer`] ([`ExternalUrls`]).
//!
//! Where Curity's behaviour is not public (docs/protocol.md, "not found"), it is a field of
//! [`SimSettings`] with a documented default.

mod assertion;
mod client_auth;
mod discovery;
mod dpop;
mod grants;
mod haapi;
mod registration;
mod request;
mod response;
mod settings;
mod state;
mod store;
mod token;

pub use settings::{
    AcceptAudience, AttestationMode, ClientAssurance, ClientAuthentication, DpopNonceMode, EndpointPaths, ExternalUrls, MainClient, SimSettings,
    TemplateClient, DCR_SCOPE, HAAPI_SCOPE,
};

use crate::proto::clock::Timestamp;
use crate::proto::entropy::SeededEntropy;
use crate::proto::http::{HttpRequest, HttpResponse};
use crate::proto::jose::p256::P256Key;
use crate::proto::jose::verify::{verify_jws, VerifyKey};
use crate::proto::jose::{self, Alg, DecodedJwt, JoseError};
use response::SimError;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use store::{Expiring, Locked};

/// A dynamic client as [`Simulator::dynamic_clients`] shows it (RFC 7591 §3.2.1 metadata,
/// without the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicClientInfo {
    /// The issued `client_id`.
    pub client_id: String,
    /// The template it was registered from (`software_id`).
    pub template: String,
    /// `client_id_issued_at`, seconds since the epoch.
    pub issued_at: u64,
    /// `client_secret_expires_at`, seconds since the epoch; 0 = never.
    pub secret_expires_at: u64,
    /// The client whose `dcr` token registered it.
    pub registered_by: String,
}

impl DynamicClientInfo {
    /// `{clientId, template, issuedAt, secretExpiresAt, registeredBy}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "clientId": self.client_id, "template": self.template, "issuedAt": self.issued_at, "secretExpiresAt": self.secret_expires_at, "registeredBy": self.registered_by })
    }
}

/// A dynamic client as stored: its secret only as a SHA-256 hash.
#[derive(Clone, Debug)]
struct DynamicClient {
    info: DynamicClientInfo,
    secret_sha256: [u8; 32],
    /// When the registration is forgotten (seconds; `u64::MAX`: never), from
    /// [`SimSettings::dynamic_client_ttl_secs`].
    forget_at: u64,
}

/// A change to the client database, for a host that keeps a copy of it (the local server's
/// SQLite file). Recorded only after [`Simulator::record_client_changes`]; expiry is not
/// recorded (the copy applies [`SimSettings::dynamic_client_ttl_secs`] itself).
#[derive(Clone, Debug, PartialEq)]
pub enum ClientChange {
    /// A client was registered: one entry of [`Simulator::export_state`]'s `dynamicClients`
    /// (its secret only as a hash).
    Added(Value),
    /// A client was forgotten to make room (`maxDynamicClients`).
    Removed(String),
    /// Every client was dropped ([`Simulator::reset_database`]).
    Cleared,
}

/// The random bytes of a dcr token: the store's key (32 bytes rather than its 43 characters of
/// text; text that no dcr token has is known without a lookup, [`dcr_key`]).
type DcrKey = [u8; DCR_TOKEN_BYTES];

/// Random bytes in a dcr token (its text: their base64url, 43 characters).
const DCR_TOKEN_BYTES: usize = 32;

/// The key of a presented dcr token; `None` for text that no dcr token has.
fn dcr_key(token: &str) -> Option<DcrKey> {
    if token.len() != 43 {
        return None;
    }
    crate::proto::base64::url_decode(token).ok()?.try_into().ok()
}

/// A one-time initial access token (`scope=dcr`).
#[derive(Clone, Debug)]
struct DcrToken {
    client_id: String,
    expires_at: u64,
    used: bool,
}

/// Server state: the client database (dynamic clients) and the replay and nonce stores, each
/// behind its own lock with its own expiry queue (see [`store`]). Every map is ordered, so
/// iteration (and so every response) is deterministic.
#[derive(Debug)]
struct Store {
    dynamic_clients: Locked<Expiring<String, DynamicClient>>,
    dcr_tokens: Locked<Expiring<DcrKey, DcrToken>>,
    /// `(client_id, jti)` of accepted client assertions → the last second the entry is kept.
    assertion_jtis: Locked<Expiring<(String, String), u64>>,
    /// `(jkt, jti)` of accepted DPoP proofs → the last second the entry is kept.
    dpop_jtis: Locked<Expiring<(String, String), u64>>,
    /// Server DPoP nonces → expiry.
    nonces: Locked<Expiring<String, u64>>,
    /// HAAPI sessions by id.
    sessions: Locked<Expiring<String, haapi::Session>>,
    /// Authorization codes.
    codes: Locked<Expiring<String, haapi::CodeGrant>>,
    /// Refresh tokens.
    refresh_tokens: Locked<Expiring<String, haapi::RefreshGrant>>,
    /// HAAPI tokens this server issued → (expiry, claims), at most [`MAX_CACHED_HAAPI_TOKENS`]: a
    /// token presented exactly as issued needs no signature check (each HAAPI request presents
    /// one); any other is verified with the signing key as before.
    haapi_tokens: Locked<Expiring<String, (u64, Claims)>>,
    /// Changes to `dynamic_clients` not yet taken by the host; `None`: not recorded. Pushed
    /// while the client store's lock is held, so their order is the store's.
    client_journal: Locked<Option<Vec<ClientChange>>>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            dynamic_clients: Locked::new(Expiring::new(|c| c.forget_at)),
            dcr_tokens: Locked::new(Expiring::new(|t| t.expires_at)),
            assertion_jtis: Locked::new(Expiring::new(|exp| exp.saturating_add(1))),
            dpop_jtis: Locked::new(Expiring::new(|exp| exp.saturating_add(1))),
            nonces: Locked::new(Expiring::new(|exp| *exp)),
            sessions: Locked::new(Expiring::new(|s| s.expires_at)),
            codes: Locked::new(Expiring::new(|c| c.expires_at)),
            refresh_tokens: Locked::new(Expiring::new(|r| r.expires_at)),
            haapi_tokens: Locked::new(Expiring::new(|(exp, _)| *exp)),
            client_journal: Locked::new(None),
        }
    }
}

/// A token's claims.
type Claims = serde_json::Map<String, serde_json::Value>;

/// Most issued HAAPI tokens remembered at once; beyond it new ones are verified by signature.
const MAX_CACHED_HAAPI_TOKENS: usize = 1024;

/// Most nonces kept at once; the oldest go first (a client that never answers a nonce challenge
/// must not grow the store without bound).
const MAX_NONCES: usize = 1024;

impl Store {
    /// Forgets everything that has expired at `now` (seconds). Each store pops only its due
    /// entries from its expiry queue; nothing is scanned.
    fn prune(&self, now: u64) {
        self.dcr_tokens.lock().prune(now);
        self.assertion_jtis.lock().prune(now);
        self.dpop_jtis.lock().prune(now);
        self.nonces.lock().prune(now);
        self.sessions.lock().prune(now);
        self.codes.lock().prune(now);
        self.refresh_tokens.lock().prune(now);
        self.dynamic_clients.lock().prune(now);
        self.haapi_tokens.lock().prune(now);
    }
}

/// Signs with the simulator's token-signing key (ES256: the raw `r || s` signature of the
/// signing input), made by a host from [`Simulator::signing_key_pkcs8_der`]: the local server
/// hands in ring's, several times faster than the portable one compiled to WebAssembly.
pub type TokenSigner = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// The simulated Curity Identity Server. See the [module docs](self).
pub struct Simulator {
    settings: SimSettings,
    endpoints: Result<ExternalUrls, String>,
    rng: SeededEntropy,
    /// The token-signing key (P-256, ES256), published at the JWKS endpoint.
    signing_key: P256Key,
    /// Its verifying key.
    verify_key: VerifyKey,
    /// Its `kid`: the RFC 7638 thumbprint of its public JWK.
    signing_kid: String,
    /// Another implementation of the same key's ES256 signature, if the host gave one
    /// ([`Simulator::set_token_signer`]).
    token_signer: Option<TokenSigner>,
    /// Shared by every [`Simulator::worker`] of this server.
    store: Arc<Store>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("issuer", &self.settings.issuer)
            .field("dynamic_clients", &self.store.dynamic_clients.lock().len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A server with these settings, its randomness drawn from `SeededEntropy::new(seed)`.
    ///
    /// The token-signing key is generated from that randomness first, so it is the same for the
    /// same seed. Settings that cannot work (see [`SimSettings::validate`]) do not panic: every
    /// request is then answered with 500 `server_error` saying what to change.
    pub fn new(settings: SimSettings, seed: u64) -> Simulator {
        let mut rng = SeededEntropy::new(seed);
        let signing_key = P256Key::generate(&mut rng);
        let signing_kid = jose::thumbprint(signing_key.public_jwk()).unwrap_or_else(|_| "sim-signing-key".into());
        let verify_key = VerifyKey::from_jwk(signing_key.public_jwk()).expect("a P-256 public JWK is a verification key");
        let endpoints = settings.validate();
        Simulator { settings, endpoints, rng, signing_key, verify_key, signing_kid, token_signer: None, store: Arc::new(Store::default()) }
    }

    /// Another handle on the same server, for another thread: it shares every store (clients,
    /// tokens, replay caches, sessions) and has its own randomness, seeded from this handle's.
    /// Settings are copied as they are now ([`Simulator::register_main_client_key`] on one
    /// handle later does not reach the others). A host that runs requests in parallel gives each
    /// thread its own handle; one handle alone behaves exactly as before (deterministic).
    pub fn worker(&mut self) -> Simulator {
        use rand_core::RngCore as _;
        Simulator {
            settings: self.settings.clone(),
            endpoints: self.endpoints.clone(),
            rng: SeededEntropy::new(self.rng.next_u64()),
            signing_key: self.signing_key.clone(),
            verify_key: self.verify_key.clone(),
            signing_kid: self.signing_kid.clone(),
            token_signer: self.token_signer.clone(),
            store: Arc::clone(&self.store),
        }
    }

    /// Whether `text` is a dcr token this server holds (for errors that say so when one is
    /// presented where it is not valid).
    fn is_dcr_token(&self, text: &str) -> bool {
        dcr_key(text).is_some_and(|key| self.store.dcr_tokens.lock().contains_key(&key))
    }

    /// Signs a JWT this server issues (ES256, `kid` of the signing key, the given `typ`), with
    /// the key held parsed (no PKCS#8 reading or public-key derivation per token): RFC 6979
    /// signatures, deterministic for a seed, unless the host handed in its own signer.
    fn issue_jwt(&self, typ: &str, claims: &Value) -> Result<String, SimError> {
        let input = jose::signing_input(&serde_json::json!({ "alg": "ES256", "kid": self.signing_kid, "typ": typ }), claims);
        let signature = match &self.token_signer {
            Some(sign) => sign(input.as_bytes()),
            None => self.signing_key.sign(input.as_bytes()),
        };
        if signature.len() != 64 {
            return Err(SimError::server_error(format!("the token signer returned {} bytes, not an ES256 signature (64)", signature.len())));
        }
        Ok(jose::compact(&input, &signature))
    }

    /// The token-signing key as PKCS#8 DER (RFC 5958): for a host that signs with it through
    /// another implementation ([`Simulator::set_token_signer`]). A simulator's key, made from
    /// its seed: nothing real is signed with it.
    pub fn signing_key_pkcs8_der(&self) -> Vec<u8> {
        self.signing_key.to_pkcs8_der()
    }

    /// Signs this server's tokens with `signer` from now on (and so do its later
    /// [`Simulator::worker`]s). Its signatures must verify with the published key: the
    /// simulator checks every token it issued with that key when the token comes back.
    pub fn set_token_signer(&mut self, signer: TokenSigner) {
        self.token_signer = Some(signer);
    }

    /// Verifies the signature of a token this server issued.
    fn verify_own_token(&self, token: &str) -> Result<DecodedJwt, JoseError> {
        verify_jws(token, &self.verify_key, &[Alg::ES256])
    }

    /// The settings this server runs with.
    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// The external endpoint URLs, or why the settings cannot work.
    pub fn endpoints(&self) -> Result<&ExternalUrls, &str> {
        self.endpoints.as_ref().map_err(String::as_str)
    }

    /// The registered dynamic clients, ordered by `client_id` (RFC 7591 §3.2.1).
    pub fn dynamic_clients(&self) -> Vec<DynamicClientInfo> {
        self.store.dynamic_clients.lock().values().map(|c| c.info.clone()).collect()
    }

    /// Test hook of the local server (feature `test-hooks`): panics while holding the locks of the
    /// dcr-token and client stores, so a test can check that later requests still work.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn panic_holding_locks(&self) {
        let _tokens = self.store.dcr_tokens.lock();
        let _clients = self.store.dynamic_clients.lock();
        panic!("test hook: a panic while the simulator's stores are locked");
    }

    /// Drops every dynamic client, as when Curity's database is recreated. A device that still
    /// holds its old client then gets 401 `invalid_client` and must register again (docs/protocol.md
    /// §2, F3). HAAPI tokens of dropped clients stop working too.
    pub fn reset_database(&mut self) {
        let mut clients = self.store.dynamic_clients.lock();
        clients.clear();
        if let Some(journal) = self.store.client_journal.lock().as_mut() {
            journal.push(ClientChange::Cleared);
        }
    }

    /// From now on, records every change to the client database for
    /// [`Simulator::take_client_changes`] (for every handle of this server).
    pub fn record_client_changes(&self) {
        self.store.client_journal.lock().get_or_insert_with(Vec::new);
    }

    /// The changes recorded since the last call, oldest first.
    pub fn take_client_changes(&self) -> Vec<ClientChange> {
        self.store.client_journal.lock().as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether changes wait to be taken (cheaper than taking them).
    pub fn has_client_changes(&self) -> bool {
        self.store.client_journal.lock().as_ref().is_some_and(|j| !j.is_empty())
    }

    /// Registers a public JWK (RFC 7517 §4) for the main client's `private_key_jwt`
    /// authentication (RFC 7523 §2.2). If the main client uses another method, it is switched to
    /// `private_key_jwt` with this key only. A private JWK is reduced to its public members.
    pub fn register_main_client_key(&mut self, jwk: Value) {
        let public = public_members(jwk);
        match &mut self.settings.main_client.authentication {
            ClientAuthentication::PrivateKeyJwt { jwks, .. } => jwks.push(public),
            other => *other = ClientAuthentication::PrivateKeyJwt { jwks: vec![public], public_keys_pem: Vec::new() },
        }
    }

    /// Answers one request at time `now`. Never panics on malformed input: anything the server
    /// cannot use gets a 4xx JSON error (RFC 6749 §5.2 shape) that says what to change.
    pub fn handle(&mut self, request: &HttpRequest, now: Timestamp) -> HttpResponse {
        let endpoints = match &self.endpoints {
            Ok(endpoints) => endpoints.clone(),
            Err(problem) => return SimError::server_error(format!("the simulator's settings cannot work: {problem}")).to_response(&self.settings.issuer, true),
        };
        self.store.prune(now.secs());
        let result = self.route(request, now, &endpoints);
        result.unwrap_or_else(|error| error.to_response(&endpoints.issuer, self.settings.expose_detailed_errors))
    }

    fn route(&mut self, request: &HttpRequest, now: Timestamp, endpoints: &ExternalUrls) -> Result<HttpResponse, SimError> {
        let Some(url) = request::request_url(request) else {
            return Err(SimError::invalid_request(format!("the request URL {:?} is not a URL or an absolute path", request.url)));
        };
        let path = url.path();
        let issuer_path = crate::proto::url::Url::parse(&endpoints.issuer).map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        let paths = &self.settings.paths;
        let (allowed, endpoint): (&[&str], Endpoint) = if path == paths.token {
            (&["POST"], Endpoint::Token)
        } else if path == paths.registration {
            (&["POST"], Endpoint::Registration)
        } else if path == paths.authorize {
            (&["GET"], Endpoint::Authorize)
        } else if path == paths.authentication.trim_end_matches('/') || path.starts_with(&format!("{}/", paths.authentication.trim_end_matches('/'))) {
            (&["GET", "POST"], Endpoint::Authentication)
        } else if path == paths.cat && self.settings.attestation != AttestationMode::Absent {
            (&["GET", "POST"], Endpoint::Cat)
        } else if path == format!("{issuer_path}/jwks") {
            (&["GET"], Endpoint::Jwks)
        } else if path == format!("{issuer_path}/.well-known/openid-configuration")
            || path == format!("{issuer_path}/.well-known/oauth-authorization-server")
            || path == format!("/.well-known/oauth-authorization-server{issuer_path}")
        {
            (&["GET"], Endpoint::Discovery)
        } else {
            return Err(SimError::new(
                404,
                "not_found",
                format!("no endpoint at {path}; discovery is at {} (paths are matched without scheme and host)", endpoints.discovery),
            ));
        };
        if !allowed.contains(&request.method.as_str()) {
            let allow = allowed.join(", ");
            return Err(SimError::new(405, "method_not_allowed", format!("{path} accepts {allow}, not {}", request.method)).with_header("allow", allow));
        }
        match endpoint {
            Endpoint::Token => self.token_endpoint(request, now, endpoints),
            Endpoint::Registration => self.registration_endpoint(request, now),
            Endpoint::Authorize => self.authorize_endpoint(request, &url, now, endpoints),
            Endpoint::Authentication => self.authentication_endpoint(request, &url, now, endpoints),
            Endpoint::Cat => Err(self.cat_endpoint()),
            Endpoint::Jwks => Ok(self.jwks_document()),
            Endpoint::Discovery => Ok(self.discovery_document(endpoints)),
        }
    }
}

#[derive(Copy, Clone, Debug)]
enum Endpoint {
    Token,
    Registration,
    Authorize,
    Authentication,
    Cat,
    Jwks,
    Discovery,
}

/// A JWK without its private members (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
fn public_members(jwk: Value) -> Value {
    match jwk {
        Value::Object(mut map) => {
            for private in dpop::PRIVATE_JWK_MEMBERS {
                map.remove(*private);
            }
            Value::Object(map)
        }
        other => other,
    }
}
