//! Everything a person can tune in the simulated server.
//!
//! The defaults follow Curity's documented defaults and sample configurations (docs/protocol.md §1, §7).
//! Where docs/protocol.md says "not found" or draws an inference, the behaviour is a setting here, and its
//! doc comment says so and names the section.

use crate::proto::jose::Alg;
use crate::proto::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The scope of the one-time initial access token for registration (docs/protocol.md §2 F1).
pub const DCR_SCOPE: &str = "dcr";
/// The scope of a HAAPI access token (docs/protocol.md §2 F3).
pub const HAAPI_SCOPE: &str = "urn:se:curity:scopes:haapi";

/// The simulator's configuration (JSON: camelCase, every field optional).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SimSettings {
    /// The issuer identifier (RFC 8414 §2). Default
    /// `https://localhost:8443/oauth/v2/oauth-anonymous` (Curity's Docker samples, docs/protocol.md §1).
    /// Every endpoint's *external* URL derives from its origin (see [`EndpointPaths`]); DPoP `htu`
    /// and assertion `aud` are checked against those URLs, never against the URL a request was
    /// sent to (a proxy or `sendVia` changes that).
    pub issuer: String,
    /// Paths of the endpoints on the issuer's origin. Default: Curity's sample paths.
    pub paths: EndpointPaths,
    /// The main HAAPI client, which authenticates the fallback (docs/protocol.md §6, §7).
    pub main_client: MainClient,
    /// The template client that dynamic clients are registered from (docs/protocol.md §7).
    pub template_client: TemplateClient,
    /// Allowed clock difference, in seconds, for `exp`, `nbf` and `iat` of client assertions and
    /// DPoP proofs. Default 10 (Curity's assertion `clock-skew` default, docs/protocol.md §6).
    pub clock_skew_secs: u64,
    /// Longest accepted client-assertion lifetime (`exp - iat`), in seconds. Default 300.
    /// INFERENCE (docs/protocol.md §6): Curity's maximum assertion lifetime was not found.
    pub max_assertion_lifetime_secs: u64,
    /// Lifetime of the one-time `dcr` initial access token, in seconds. Default 300.
    /// NOT FOUND (docs/protocol.md §2 F1): Curity's value is not public.
    pub dcr_token_ttl_secs: u64,
    /// Lifetime of a HAAPI access token, in seconds. Default 600 (Curity's web attestation policy
    /// `haapi-access-token-ttl` default, docs/protocol.md §3).
    pub haapi_token_ttl_secs: u64,
    /// How far a DPoP proof's `iat` may be from the server's clock (either direction, plus
    /// `clockSkewSecs`), in seconds (RFC 9449 §4.3 point 11, §11.1). Default 60.
    /// INFERENCE (docs/protocol.md §4): Curity's window is not public.
    pub dpop_iat_window_secs: u64,
    /// Lifetime of a dynamic client's secret, in seconds; 0 = never expires
    /// (`client_secret_expires_at: 0`, RFC 7591 §3.2.1). Default 0.
    /// NOT FOUND (docs/protocol.md §2 F2): Curity's templatized DCR response is not public.
    pub dynamic_client_secret_ttl_secs: u64,
    /// How long the server keeps a dynamic client's registration, in seconds from its
    /// registration; 0 = until the database is reset. Default 0. A device whose client was
    /// forgotten gets 401 `invalid_client` and registers again (docs/protocol.md §2, F3).
    pub dynamic_client_ttl_secs: u64,
    /// Most dynamic clients kept at once; at the cap a registration forgets the registration that
    /// would leave first (the oldest). Default 100000.
    pub max_dynamic_clients: usize,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8, §9). Default `"off"`.
    /// Default `"required"`, as for new Curity clients (`use-legacy-dpop` false is the default,
    /// docs/protocol.md §4); `"off"` behaves as `use-legacy-dpop` true.
    pub dpop_nonce: DpopNonceMode,
    /// How long a server nonce stays valid, in seconds. Default 300. NOT FOUND (docs/protocol.md §4).
    pub dpop_nonce_ttl_secs: u64,
    /// Which client-assertion `aud` values are accepted (RFC 7523 §3 point 3). Default
    /// `"token-endpoint"`. INFERENCE (docs/protocol.md §6): whether Curity also accepts the issuer
    /// was not found.
    pub accept_audience: AcceptAudience,
    /// Algorithms accepted for client assertions (`private_key_jwt`, `client_secret_jwt`;
    /// RFC 7523 §3, RFC 7518 §3.1). Default: RS/PS 256-512, ES256, ES384, HS256-512 (the set
    /// the Curity SDKs expose, docs/protocol.md §6). `none` is never accepted.
    pub allowed_assertion_algs: Vec<Alg>,
    /// Algorithms accepted for DPoP proofs (RFC 9449 §4.2: asymmetric only; HS* here is ignored).
    /// Default `["ES256", "ES384", "RS256", "PS256"]`. Advertised as
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
    pub dpop_algs: Vec<Alg>,
    /// The claim that tells how the client proved itself, in HAAPI access tokens.
    /// NOT FOUND (docs/protocol.md §7): Curity's "Client Assurance Level" attribute is not public, so
    /// the default name and values are this project's own.
    pub client_assurance: ClientAssurance,
    /// What the attestation (CAT) endpoint does. Default `"refuse"`. NOT FOUND (docs/protocol.md §3):
    /// the per-platform attestation data is not public, so the lab simulates only the fallback.
    pub attestation: AttestationMode,
    /// Whether error responses carry an `error_description` (Curity's
    /// `expose-detailed-error-messages`, on in every sample, docs/protocol.md §8). Default true.
    pub expose_detailed_errors: bool,
    /// The HAAPI login: demo users, the authenticators, problems and their statuses.
    pub authentication: AuthenticationSettings,
    /// Lifetime of an authorization code, in seconds. Default 60. NOT FOUND (docs/protocol.md §2).
    pub code_ttl_secs: u64,
    /// Whether authorization codes are bound to the DPoP key of the HAAPI session that earned
    /// them and must be redeemed with it (Curity's `issue-token-bound-authorization-code`;
    /// docs/protocol.md §4). Default true.
    pub token_bound_codes: bool,
    /// Lifetime of access tokens from the code exchange and refresh, in seconds. Default 300.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds. Default 3600.
    pub refresh_token_ttl_secs: u64,
    /// Lifetime of ID tokens, in seconds. Default 300.
    pub id_token_ttl_secs: u64,
    /// Lifetime of a HAAPI session (from `authorize` to the code), in seconds. Default 600.
    pub session_ttl_secs: u64,
    /// An origin (`https://host:port`) where this server also listens with mutual TLS, if any:
    /// discovery then lists the token endpoint's alias there in `mtls_endpoint_aliases`, which a
    /// client doing mutual TLS must use (RFC 8705 §5). The local server sets it for `--mtls-port`.
    /// Default none (the in-page simulator has no TLS listener).
    pub mtls_origin: Option<String>,
}

/// A demo account of the username/password authenticator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DemoUser {
    /// The `userName` to type.
    pub user_name: String,
    /// The `password` to type.
    pub password: Secret,
    /// The `sub` of its tokens.
    pub subject: String,
    /// Its name (the ID token's `name` claim).
    pub name: String,
}

impl Default for DemoUser {
    fn default() -> Self {
        DemoUser { user_name: "demo".into(), password: Secret::new("Password1"), subject: "demo".into(), name: "Demo User".into() }
    }
}

/// How the "approve on another device" authenticator ends when nobody decides in the page.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PollingOutcome {
    /// The other device approves.
    Approve,
    /// The other device denies: the polling step ends `failed`.
    Deny,
    /// Nobody answers: the step stays `pending` until a person decides in the page (or the
    /// client gives up).
    Wait,
}

/// The HTTP status of each problem type (docs/protocol.md §5: the statuses are NOT FOUND; these
/// defaults are INFERENCE: 400 for input problems, 401/403 for session problems).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ProblemStatuses {
    /// `invalid-input` (a field is missing or malformed). Default 400.
    pub invalid_input: u16,
    /// `incorrect-credentials`. Default 400.
    pub incorrect_credentials: u16,
    /// `authentication-failed` (the other device denied). Default 400.
    pub authentication_failed: u16,
    /// `too-many-attempts`. Default 429.
    pub too_many_attempts: u16,
    /// `mismatch-between-session-and-access-token`. Default 403.
    pub mismatch_between_session_and_access_token: u16,
    /// `unexpected` (an unknown or expired session, a missing `Session-Id`). Default 400.
    pub unexpected: u16,
    /// `error-authorization-response`. Default 400.
    pub error_authorization_response: u16,
}

impl Default for ProblemStatuses {
    fn default() -> Self {
        ProblemStatuses {
            invalid_input: 400,
            incorrect_credentials: 400,
            authentication_failed: 400,
            too_many_attempts: 429,
            mismatch_between_session_and_access_token: 403,
            unexpected: 400,
            error_authorization_response: 400,
        }
    }
}

/// The HAAPI login the simulator offers after `authorize`: an authenticator selector with a
/// username/password form and an "approve on another device" polling authenticator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AuthenticationSettings {
    /// The accounts of the username/password authenticator. Default one: `demo` / `Password1`.
    pub users: Vec<DemoUser>,
    /// Failed password attempts in one session before `too-many-attempts`. Default 3.
    pub max_failed_attempts: u32,
    /// How the polling authenticator ends when nobody decides in the page. Default `"approve"`.
    pub polling_outcome: PollingOutcome,
    /// After how many polls that outcome happens. Default 2.
    pub polls_until_outcome: u32,
    /// The subject the polling authenticator logs in. Default `demo`.
    pub polling_subject: String,
    /// The status of each problem.
    pub problem_statuses: ProblemStatuses,
}

impl Default for AuthenticationSettings {
    fn default() -> Self {
        AuthenticationSettings {
            users: vec![DemoUser::default()],
            max_failed_attempts: 3,
            polling_outcome: PollingOutcome::Approve,
            polls_until_outcome: 2,
            polling_subject: "demo".into(),
            problem_statuses: ProblemStatuses::default(),
        }
    }
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            issuer: "https://localhost:8443/oauth/v2/oauth-anonymous".into(),
            paths: EndpointPaths::default(),
            main_client: MainClient::default(),
            template_client: TemplateClient::default(),
            clock_skew_secs: 10,
            max_assertion_lifetime_secs: 300,
            dcr_token_ttl_secs: 300,
            haapi_token_ttl_secs: 600,
            dpop_iat_window_secs: 60,
            dynamic_client_secret_ttl_secs: 0,
            dynamic_client_ttl_secs: 0,
            max_dynamic_clients: 100_000,
            dpop_nonce: DpopNonceMode::Required,
            dpop_nonce_ttl_secs: 300,
            accept_audience: AcceptAudience::TokenEndpoint,
            allowed_assertion_algs: Alg::ALL.to_vec(),
            dpop_algs: vec![Alg::ES256, Alg::ES384, Alg::RS256, Alg::PS256],
            client_assurance: ClientAssurance::default(),
            attestation: AttestationMode::Refuse,
            expose_detailed_errors: true,
            authentication: AuthenticationSettings::default(),
            code_ttl_secs: 60,
            token_bound_codes: true,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 3600,
            id_token_ttl_secs: 300,
            session_ttl_secs: 600,
            mtls_origin: None,
        }
    }
}

/// Endpoint paths on the issuer's origin (docs/protocol.md §1). Discovery and JWKS live under the
/// issuer itself (`<issuer>/.well-known/openid-configuration`, `<issuer>/jwks`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EndpointPaths {
    /// Token endpoint (RFC 6749 §3.2). Default `/oauth/v2/oauth-token`.
    pub token: String,
    /// Registration endpoint (RFC 7591 §3). Default `/token-service/oauth-registration` (Curity's
    /// mobile samples; other samples use other paths, docs/protocol.md §1).
    pub registration: String,
    /// Authorization endpoint, the HAAPI entry point (RFC 6749 §3.1). Default
    /// `/oauth/v2/oauth-authorize`.
    pub authorize: String,
    /// Attestation challenge (CAT) endpoint. Default `/oauth/v2/oauth-token/cat` (docs/protocol.md §1,
    /// §3).
    pub cat: String,
    /// The authentication service (HAAPI steps after `authorize`). Default `/authn/authenticate`
    /// (Curity's sample configuration, docs/protocol.md §1); the authenticators live below it.
    pub authentication: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        EndpointPaths {
            token: "/oauth/v2/oauth-token".into(),
            registration: "/token-service/oauth-registration".into(),
            authorize: "/oauth/v2/oauth-authorize".into(),
            cat: "/oauth/v2/oauth-token/cat".into(),
            authentication: "/authn/authenticate".into(),
        }
    }
}

/// The main HAAPI client (Curity: a client with the `haapi` capability and a real
/// authentication method, docs/protocol.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MainClient {
    /// Its `client_id`. Default `haapi-android-client` (docs/protocol.md §2).
    pub client_id: String,
    /// How it authenticates at the token endpoint. Default `client_secret_basic` with secret
    /// `Password1` (docs/protocol.md §2).
    pub authentication: ClientAuthentication,
}

impl Default for MainClient {
    fn default() -> Self {
        MainClient { client_id: "haapi-android-client".into(), authentication: ClientAuthentication::ClientSecretBasic { secret: Secret::new("Password1") } }
    }
}

/// A registered client authentication method, named as in RFC 7591 §2
/// (`token_endpoint_auth_method`), serialised with a `method` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ClientAuthentication {
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic {
        /// The client secret.
        secret: Secret,
    },
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost {
        /// The client secret.
        secret: Secret,
    },
    /// A JWT client assertion signed with the client's private key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt {
        /// Public JWKs (RFC 7517 §4) the client signs with. A JWK's `kid`, if any, is what an
        /// assertion's `kid` header must name.
        #[serde(default)]
        jwks: Vec<Value>,
        /// Public keys as SPKI PEM (`PUBLIC KEY`). Their `kid` is their RFC 7638 thumbprint.
        #[serde(default)]
        public_keys_pem: Vec<String>,
    },
    /// A JWT client assertion signed with HMAC over the client secret (RFC 7523 §2.2, OIDC
    /// Core §9).
    ClientSecretJwt {
        /// The shared secret (the HMAC key).
        secret: Secret,
    },
    /// Mutual TLS with a certificate issued by a trusted CA (RFC 8705 §2.1).
    TlsClientAuth {
        /// Trusted CA certificates (PEM).
        trusted_ca_pem: Vec<String>,
        /// If set, the leaf's subject DN must equal this (RFC 8705 §2.1.2
        /// `tls_client_auth_subject_dn`), compared case-insensitively after trimming spaces
        /// around `,` and `=` (a simplification of RFC 4517 distinguishedNameMatch), e.g.
        /// `CN=haapi-device`.
        #[serde(default)]
        subject_dn: Option<String>,
    },
    /// Mutual TLS with a self-signed certificate whose key is pinned (RFC 8705 §2.2).
    SelfSignedTlsClientAuth {
        /// Pinned keys: standard base64 of SHA-256 over the DER SubjectPublicKeyInfo
        /// (`x509::spki_sha256_pin`).
        pinned_spki: Vec<String>,
    },
    /// No authentication (a public client). A fallback main client must not use it (docs/protocol.md
    /// §2.1); the simulator refuses it at the token endpoint.
    None,
}

impl ClientAuthentication {
    /// The RFC 7591 name of the method.
    pub fn method_name(&self) -> &'static str {
        match self {
            ClientAuthentication::ClientSecretBasic { .. } => "client_secret_basic",
            ClientAuthentication::ClientSecretPost { .. } => "client_secret_post",
            ClientAuthentication::PrivateKeyJwt { .. } => "private_key_jwt",
            ClientAuthentication::ClientSecretJwt { .. } => "client_secret_jwt",
            ClientAuthentication::TlsClientAuth { .. } => "tls_client_auth",
            ClientAuthentication::SelfSignedTlsClientAuth { .. } => "self_signed_tls_client_auth",
            ClientAuthentication::None => "none",
        }
    }
}

/// The template client dynamic clients are created from (Curity templatized DCR,
/// docs/protocol.md §7). Dynamic clients copy its metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TemplateClient {
    /// Its id, which registrations name as `software_id`. Default `haapi-template-client`.
    pub client_id: String,
    /// Clients that may obtain a `dcr` token and register from this template (Curity
    /// `authenticate-client-by`). Default `["haapi-android-client"]`.
    pub authenticate_client_by: Vec<String>,
    /// Redirect URIs the dynamic clients get (RFC 7591 §2). Default `["app://haapi"]`.
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes the dynamic clients get (RFC 7591 §2). Default `openid profile`.
    pub scope: String,
    /// The `aud` of the tokens issued to the dynamic clients. Default `haapi-client`.
    pub audience: String,
}

impl Default for TemplateClient {
    fn default() -> Self {
        TemplateClient {
            client_id: "haapi-template-client".into(),
            authenticate_client_by: vec!["haapi-android-client".into()],
            redirect_uris: vec!["app://haapi".into()],
            scope: "openid profile".into(),
            audience: "haapi-client".into(),
        }
    }
}

/// DPoP nonce policy (RFC 9449 §8).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DpopNonceMode {
    /// Proofs need no nonce; a `nonce` claim, if sent, is ignored.
    Off,
    /// Proofs must carry a nonce the server issued in a `DPoP-Nonce` header and that has not
    /// expired; otherwise the answer is `use_dpop_nonce` with a fresh nonce.
    Required,
}

/// Which client-assertion audiences are accepted (RFC 7523 §3 point 3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AcceptAudience {
    /// `aud` must be, or contain, the token endpoint's external URL (Curity's sample,
    /// docs/protocol.md §6).
    TokenEndpoint,
    /// `aud` may also be, or contain, the issuer.
    TokenEndpointOrIssuer,
}

/// The client-assurance claim in HAAPI access tokens. NOT FOUND (docs/protocol.md §7): the name and
/// values are this project's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClientAssurance {
    /// The claim name. Default `client_assurance_level`.
    pub claim: String,
    /// Its value for a client that attested. Default `attested`.
    pub attested: String,
    /// Its value for a dynamic client registered through the fallback. Default `fallback`.
    pub fallback: String,
}

impl Default for ClientAssurance {
    fn default() -> Self {
        ClientAssurance { claim: "client_assurance_level".into(), attested: "attested".into(), fallback: "fallback".into() }
    }
}

/// What the attestation (CAT) endpoint does (docs/protocol.md §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationMode {
    /// The CAT endpoint answers 400 `invalid_request` ("attestation is not available"), and a
    /// `urn:se:curity:attestation:client` assertion is refused: the client must fall back.
    Refuse,
    /// The server has no CAT endpoint at all: 404, and it is left out of discovery.
    Absent,
}

/// The server's external URLs, derived from [`SimSettings::issuer`] and [`EndpointPaths`]: what
/// discovery advertises (RFC 8414 §2) and what DPoP `htu` (RFC 9449 §4.3) and assertion `aud`
/// (RFC 7523 §3) are checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalUrls {
    /// The issuer (no trailing `/`).
    pub issuer: String,
    /// Token endpoint URL.
    pub token: String,
    /// Registration endpoint URL.
    pub registration: String,
    /// Authorization endpoint URL.
    pub authorize: String,
    /// CAT endpoint URL.
    pub cat: String,
    /// The authentication service's URL.
    pub authentication: String,
    /// `<issuer>/jwks`.
    pub jwks: String,
    /// `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
    pub discovery: String,
}

impl SimSettings {
    /// Checks that the settings can work and derives the endpoint URLs. The error says what to
    /// change.
    pub fn validate(&self) -> Result<ExternalUrls, String> {
        let issuer = self.issuer.trim_end_matches('/');
        let url = crate::proto::url::Url::parse(issuer).map_err(|e| format!("issuer: {e} (RFC 8414 §2)"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("issuer {issuer:?} must have no query or fragment (RFC 8414 §2)"));
        }
        let paths = [
            ("paths.token", &self.paths.token),
            ("paths.registration", &self.paths.registration),
            ("paths.authorize", &self.paths.authorize),
            ("paths.cat", &self.paths.cat),
            ("paths.authentication", &self.paths.authentication),
        ];
        for (name, path) in paths {
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(format!("{name} {path:?} must be an absolute path starting with '/' without query or fragment"));
            }
        }
        if let Some(origin) = &self.mtls_origin {
            let u = crate::proto::url::Url::parse(origin).map_err(|e| format!("mtlsOrigin: {e}"))?;
            if u.scheme() != "https" || !matches!(u.path(), "" | "/") || u.query().is_some() {
                return Err(format!("mtlsOrigin {origin:?} must be an https origin (scheme, host and port, no path): mutual TLS is TLS"));
            }
        }
        if self.main_client.client_id.is_empty() || self.template_client.client_id.is_empty() {
            return Err("mainClient.clientId and templateClient.clientId must not be empty".into());
        }
        if self.main_client.client_id == self.template_client.client_id {
            return Err("mainClient.clientId and templateClient.clientId must differ".into());
        }
        if !self.dpop_algs.iter().any(|a| !a.is_symmetric()) {
            return Err("dpopAlgs must name at least one asymmetric algorithm (RFC 9449 §4.2), e.g. [\"ES256\"]".into());
        }
        let a = &self.authentication;
        if a.users.iter().any(|u| u.user_name.is_empty()) {
            return Err("authentication.users: every user needs a userName".into());
        }
        if a.max_failed_attempts == 0 {
            return Err("authentication.maxFailedAttempts must be at least 1".into());
        }
        for (name, status) in [
            ("invalidInput", a.problem_statuses.invalid_input),
            ("incorrectCredentials", a.problem_statuses.incorrect_credentials),
            ("authenticationFailed", a.problem_statuses.authentication_failed),
            ("tooManyAttempts", a.problem_statuses.too_many_attempts),
            ("mismatchBetweenSessionAndAccessToken", a.problem_statuses.mismatch_between_session_and_access_token),
            ("unexpected", a.problem_statuses.unexpected),
            ("errorAuthorizationResponse", a.problem_statuses.error_authorization_response),
        ] {
            if !(400..=599).contains(&status) {
                return Err(format!("authentication.problemStatuses.{name} must be an error status (400-599), not {status}"));
            }
        }
        let origin = url.origin();
        Ok(ExternalUrls {
            issuer: issuer.to_owned(),
            token: format!("{origin}{}", self.paths.token),
            registration: format!("{origin}{}", self.paths.registration),
            authorize: format!("{origin}{}", self.paths.authorize),
            cat: format!("{origin}{}", self.paths.cat),
            authentication: format!("{origin}{}", self.paths.authentication.trim_end_matches('/')),
            jwks: format!("{issuer}/jwks"),
            discovery: format!("{issuer}/.well-known/openid-configuration"),
        })
    }

    /// The DPoP algorithms as the `algs` challenge parameter and metadata list (RFC 9449 §5.1,
    /// §7.1): asymmetric ones only.
    pub(crate) fn dpop_alg_names(&self) -> Vec<&'static str> {
        self.dpop_algs.iter().filter(|a| !a.is_symmetric()).map(|a| a.name()).collect()
    }
}
