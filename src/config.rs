//! The configuration document, version 1 (see DESIGN.md): parsing and validation.
//!
//! Field names are a public contract. Unknown fields are errors, reported with their path, and
//! validation reports every problem at once, so a person fixes a document in one pass.

use crate::flow::Step;
use crate::jose::Alg;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

type Unknown = BTreeMap<String, Value>;

/// One thing wrong with a configuration, with the path of the field (`credential.secret`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// Dotted path of the field, e.g. `credential.method`.
    pub path: String,
    /// What is wrong and what to change.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Where the server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    /// The simulated Curity inside the page (or process).
    Simulator,
    /// A real server over HTTP(S).
    Http,
}

/// Client authentication methods, by their RFC 7591 §2 / RFC 8705 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The client secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
    /// A JWT signed with HMAC over the client secret (OIDC Core §9).
    ClientSecretJwt,
    /// Mutual TLS with a CA-issued certificate (RFC 8705 §2.1).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate whose key is pinned (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// No authentication: a public client. Refused for the fallback.
    None,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 7] = [
        Method::ClientSecretBasic, Method::ClientSecretPost, Method::PrivateKeyJwt, Method::ClientSecretJwt,
        Method::TlsClientAuth, Method::SelfSignedTlsClientAuth, Method::None,
    ];
    /// The RFC 7591 name.
    pub fn name(self) -> &'static str {
        match self {
            Method::ClientSecretBasic => "client_secret_basic",
            Method::ClientSecretPost => "client_secret_post",
            Method::PrivateKeyJwt => "private_key_jwt",
            Method::ClientSecretJwt => "client_secret_jwt",
            Method::TlsClientAuth => "tls_client_auth",
            Method::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            Method::None => "none",
        }
    }
    /// True for the methods that need a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Method::ClientSecretBasic | Method::ClientSecretPost | Method::ClientSecretJwt)
    }
    /// True for the mutual-TLS methods.
    pub fn is_mtls(self) -> bool {
        matches!(self, Method::TlsClientAuth | Method::SelfSignedTlsClientAuth)
    }
}

/// Where the DPoP key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStore {
    /// In the WebAssembly module: exportable and inspectable (for teaching).
    Wasm,
    /// A non-extractable WebCrypto key (like a mobile keystore).
    Webcrypto,
}

/// What the simulated device can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attestation {
    /// The device attests (not simulated in this version; refused by validation).
    Supported,
    /// The device cannot attest: the attestation step is skipped and the fallback runs.
    Unsupported,
    /// The device tries to attest and the server refuses: the fallback runs.
    Refused,
}

/// Endpoint overrides; each replaces what discovery says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Token endpoint.
    #[serde(default)]
    pub token: Option<String>,
    /// Dynamic client registration endpoint.
    #[serde(default)]
    pub registration: Option<String>,
    /// Authorization endpoint (the HAAPI entry point).
    #[serde(default)]
    pub authorization: Option<String>,
    /// CAT (attestation challenge) endpoint.
    #[serde(default)]
    pub cat: Option<String>,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

/// `server`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    /// Simulator or a real server.
    pub mode: ServerMode,
    /// The issuer; discovery is `issuer + "/.well-known/openid-configuration"`.
    pub issuer: String,
    /// Endpoint overrides.
    #[serde(default)]
    pub endpoints: Endpoints,
    /// Base URL requests are sent to instead (a same-origin proxy); `htu` and `aud` keep the
    /// server's own URLs.
    #[serde(default)]
    pub send_via: Option<String>,
    /// Simulator settings (only with `mode: "simulator"`); see the simulator's documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<Value>,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

/// `client`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The main HAAPI client, which authenticates the fallback.
    pub client_id: String,
    /// The template client, sent as `software_id`.
    pub template_client_id: String,
    /// Redirect URI used for the HAAPI authorization request.
    pub redirect_uri: String,
    /// Scope of the HAAPI authorization request.
    pub scope: String,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

/// `credential`: how the main client authenticates. `Debug` redacts the secret and the key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialConfig {
    /// The method.
    pub method: Method,
    /// The client secret (secret methods and `client_secret_jwt`).
    #[serde(default)]
    pub secret: Option<String>,
    /// The assertion's algorithm (JWT methods).
    #[serde(default)]
    pub alg: Option<String>,
    /// The private key, PEM or JWK text; generated when null.
    #[serde(default)]
    pub private_key: Option<String>,
    /// The client certificate chain (PEM, leaf first); generated when null.
    #[serde(default)]
    pub certificate: Option<String>,
    /// The assertion's `aud`; null means the token endpoint's URL.
    #[serde(default)]
    pub audience: Option<String>,
    /// The `kid` header of assertions; null means the key's RFC 7638 thumbprint.
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| crate::secret::REDACTED);
        f.debug_struct("CredentialConfig")
            .field("method", &self.method)
            .field("secret", &hidden(&self.secret))
            .field("alg", &self.alg)
            .field("private_key", &hidden(&self.private_key))
            .field("certificate", &self.certificate)
            .field("audience", &self.audience)
            .field("kid", &self.kid)
            .finish()
    }
}

/// `dpop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpopConfig {
    /// Proof algorithm (ES256).
    #[serde(default = "default_dpop_alg")]
    pub alg: String,
    /// Where the key lives.
    #[serde(default = "default_key_store")]
    pub key_store: KeyStore,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

fn default_dpop_alg() -> String {
    "ES256".into()
}
fn default_key_store() -> KeyStore {
    KeyStore::Wasm
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig { alg: default_dpop_alg(), key_store: KeyStore::Wasm, unknown: Unknown::new() }
    }
}

/// `device`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceConfig {
    /// What the device can do.
    pub attestation: Attestation,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig { attestation: Attestation::Unsupported, unknown: Unknown::new() }
    }
}

/// The whole document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Always 1.
    pub version: u32,
    /// The server.
    pub server: ServerConfig,
    /// The clients.
    pub client: ClientConfig,
    /// The main client's credential.
    pub credential: CredentialConfig,
    /// DPoP.
    #[serde(default)]
    pub dpop: DpopConfig,
    /// The device.
    #[serde(default)]
    pub device: DeviceConfig,
    /// Stop after this step; null runs to the end.
    #[serde(default)]
    pub stop_after: Option<Step>,
    #[serde(flatten, skip_serializing)]
    unknown: Unknown,
}

/// The default issuer: Curity's anonymous metadata endpoint on its default port.
pub const DEFAULT_ISSUER: &str = "https://localhost:8443/oauth/v2/oauth-anonymous";

impl Default for Config {
    /// The example of DESIGN.md: the in-page simulator, `private_key_jwt` with a generated ES256 key.
    fn default() -> Self {
        Config {
            version: 1,
            server: ServerConfig {
                mode: ServerMode::Simulator,
                issuer: DEFAULT_ISSUER.into(),
                endpoints: Endpoints::default(),
                send_via: None,
                simulator: None,
                unknown: Unknown::new(),
            },
            client: ClientConfig {
                client_id: "haapi-android-client".into(),
                template_client_id: "haapi-template-client".into(),
                redirect_uri: "app://haapi".into(),
                scope: "openid profile".into(),
                unknown: Unknown::new(),
            },
            credential: CredentialConfig {
                method: Method::PrivateKeyJwt,
                secret: None,
                alg: Some("ES256".into()),
                private_key: None,
                certificate: None,
                audience: None,
                kid: None,
                unknown: Unknown::new(),
            },
            dpop: DpopConfig::default(),
            device: DeviceConfig::default(),
            stop_after: None,
            unknown: Unknown::new(),
        }
    }
}

impl Config {
    /// Parses and validates a document. Every problem is reported at once.
    pub fn from_json(text: &str) -> Result<Config, Vec<ConfigProblem>> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            vec![ConfigProblem { path: if path == "." { "(document)".into() } else { path }, message: explain_serde(&message) }]
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a JSON value (as the JS API receives it).
    pub fn from_value(value: &Value) -> Result<Config, Vec<ConfigProblem>> {
        Self::from_json(&value.to_string())
    }

    /// The document as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("the configuration serialises")
    }

    /// The credential's algorithm, parsed (JWT methods).
    pub fn assertion_alg(&self) -> Option<Alg> {
        self.credential.alg.as_deref().and_then(|a| Alg::parse(a).ok())
    }

    /// Checks everything that can be checked before a request is sent.
    pub fn validate(&self) -> Result<(), Vec<ConfigProblem>> {
        let mut p = Problems::default();
        self.unknown_fields(&mut p);
        if self.version != 1 {
            p.add("version", format!("version {} is not supported; this lab reads version 1", self.version));
        }

        let s = &self.server;
        p.url("server.issuer", &s.issuer);
        for (name, value) in [("token", &s.endpoints.token), ("registration", &s.endpoints.registration), ("authorization", &s.endpoints.authorization), ("cat", &s.endpoints.cat)] {
            if let Some(v) = value {
                p.url(&format!("server.endpoints.{name}"), v);
            }
        }
        if let Some(v) = &s.send_via {
            p.url("server.sendVia", v);
        }
        if s.simulator.is_some() && s.mode != ServerMode::Simulator {
            p.add("server.simulator", "simulator settings only apply with server.mode \"simulator\"; remove them or switch the mode");
        }

        let c = &self.client;
        for (path, v) in [("client.clientId", &c.client_id), ("client.templateClientId", &c.template_client_id), ("client.redirectUri", &c.redirect_uri)] {
            if v.trim().is_empty() {
                p.add(path, "must not be empty");
            }
        }
        if !c.template_client_id.trim().is_empty() && c.template_client_id == c.client_id {
            p.add("client.templateClientId", "the template client must differ from the main client: DCR registers a new client from the template");
        }

        self.validate_credential(&mut p);

        if self.dpop.alg != "ES256" {
            p.add("dpop.alg", format!("{:?} is not supported for DPoP proofs here; use \"ES256\" (what Curity's SDKs use)", self.dpop.alg));
        }
        if self.device.attestation == Attestation::Supported {
            p.add("device.attestation", "hardware attestation cannot be performed by a browser and is not simulated in this version; choose \"unsupported\" or \"refused\" to run the fallback");
        }
        if self.stop_after == Some(Step::Authenticate) || self.stop_after == Some(Step::CodeExchange) {
            p.add("stopAfter", "the flow currently ends at \"authorize\"; choose an earlier step or null");
        }
        p.finish()
    }

    fn validate_credential(&self, p: &mut Problems) {
        let cr = &self.credential;
        let m = cr.method;
        if m == Method::None {
            p.add(
                "credential.method",
                "\"none\" cannot authenticate the fallback: the dcr-scoped token is only issued to an authenticated client, so this run fails before reaching the server. Choose a secret (client_secret_basic, client_secret_post), mutual TLS (tls_client_auth, self_signed_tls_client_auth) or a signed JWT (private_key_jwt, client_secret_jwt)",
            );
            return;
        }
        if m.uses_secret() {
            if cr.secret.as_deref().is_none_or(|s| s.is_empty()) {
                p.add("credential.secret", format!("{} needs the main client's secret", m.name()));
            }
        } else if cr.secret.is_some() {
            p.add("credential.secret", format!("{} does not use a secret; remove it (null)", m.name()));
        }
        let jwt = matches!(m, Method::PrivateKeyJwt | Method::ClientSecretJwt);
        if jwt {
            match cr.alg.as_deref().map(Alg::parse) {
                None => p.add("credential.alg", format!("{} needs an algorithm", m.name())),
                Some(Err(e)) => p.add("credential.alg", e.to_string()),
                Some(Ok(alg)) if m == Method::ClientSecretJwt && !alg.is_symmetric() => {
                    p.add("credential.alg", format!("client_secret_jwt signs with the shared secret: use HS256, HS384 or HS512, not {alg}"))
                }
                Some(Ok(alg)) if m == Method::PrivateKeyJwt && alg.is_symmetric() => {
                    p.add("credential.alg", format!("private_key_jwt signs with a private key: use RS*, PS* or ES*, not {alg} (that is client_secret_jwt)"))
                }
                Some(Ok(alg)) => {
                    if let (Some(text), Method::PrivateKeyJwt) = (&cr.private_key, m) {
                        match crate::jose::PrivateKey::parse(text) {
                            Ok(key) => {
                                if let Err(e) = key.check_alg(alg) {
                                    p.add("credential.alg", format!("{e}; the key is {}, so use {}", key.key_type(), key.default_alg()));
                                }
                            }
                            Err(e) => p.add("credential.privateKey", e.to_string()),
                        }
                    }
                }
            }
        } else if cr.alg.is_some() && !m.is_mtls() {
            p.add("credential.alg", format!("{} does not sign an assertion; remove alg (null)", m.name()));
        }
        if cr.private_key.is_some() && !matches!(m, Method::PrivateKeyJwt) && !m.is_mtls() {
            p.add("credential.privateKey", format!("{} does not use a private key; remove it (null)", m.name()));
        }
        if m.is_mtls() {
            if let Some(chain) = &cr.certificate {
                if let Err(e) = crate::x509::parse_pem_chain(chain) {
                    p.add("credential.certificate", e.to_string());
                }
            }
            match (&cr.certificate, &cr.private_key) {
                (Some(_), None) => p.add("credential.privateKey", "a client certificate needs its private key (PEM) for the TLS handshake"),
                (None, Some(_)) => p.add(
                    "credential.certificate",
                    "a private key alone is not enough for mutual TLS: paste its certificate too, or remove the key (null) to generate both",
                ),
                _ => {}
            }
        } else if cr.certificate.is_some() {
            p.add("credential.certificate", format!("{} does not use a certificate; remove it (null)", m.name()));
        }
        if !jwt && cr.audience.is_some() {
            p.add("credential.audience", format!("{} sends no assertion, so an audience has no effect; remove it (null)", m.name()));
        }
        if !jwt && cr.kid.is_some() {
            p.add("credential.kid", format!("{} sends no assertion, so a kid has no effect; remove it (null)", m.name()));
        }
        if self.server.mode == ServerMode::Http {
            if m == Method::PrivateKeyJwt && cr.private_key.is_none() {
                p.add("credential.privateKey", "a real server only accepts the key registered for the client: paste that private key (a generated one works only with the simulator)");
            }
            if m.is_mtls() && cr.certificate.is_none() {
                p.add("credential.certificate", "a real server only accepts a certificate it trusts: paste the client certificate and key (generated ones work only with the simulator)");
            }
        }
    }

    fn unknown_fields(&self, p: &mut Problems) {
        let groups: [(&str, &Unknown); 7] = [
            ("", &self.unknown),
            ("server.", &self.server.unknown),
            ("server.endpoints.", &self.server.endpoints.unknown),
            ("client.", &self.client.unknown),
            ("credential.", &self.credential.unknown),
            ("dpop.", &self.dpop.unknown),
            ("device.", &self.device.unknown),
        ];
        for (prefix, unknown) in groups {
            for key in unknown.keys() {
                p.add(&format!("{prefix}{key}"), "unknown field (check its spelling; this document is version 1)");
            }
        }
    }
}

/// Makes serde's messages read as advice.
fn explain_serde(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        format!("unknown value {rest}")
    } else {
        message.to_owned()
    }
}

#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem { path: path.to_owned(), message: message.into() });
    }
    fn url(&mut self, path: &str, value: &str) {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
                if u.fragment().is_some() {
                    self.add(path, "must not have a fragment (#…)");
                }
            }
            Ok(u) => self.add(path, format!("must be an http(s) URL, not {}:", u.scheme())),
            Err(e) => self.add(path, format!("{value:?} is not an absolute URL ({e})")),
        }
    }
    fn finish(self) -> Result<(), Vec<ConfigProblem>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
