//! The configuration document, version 1 (README, "The configuration document"): reading and validation.
//!
//! Field names are a public contract. The document is read by hand from JSON rather than through
//! a derived deserializer, so that every problem is reported at once with its path (an unknown
//! field, a wrong type, a bad value, a field that cannot work with another), and so that the
//! client module stays small. Fields the chosen method does not use are ignored and listed
//! ([`Config::ignored_fields`]), never an error.

use crate::proto::jose::keytext::read_private_key;
use crate::proto::jose::Alg;
use crate::proto::json::kind_of as kind;
use crate::proto::step::Step;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// One thing wrong with a configuration, with the path of the field (`credential.secret`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the field, e.g. `credential.method`.
    pub path: String,
    /// What is wrong and what to change.
    pub message: String,
}

/// Problems as JSON: `[{path, message}, …]`.
pub fn problems_json(problems: &[ConfigProblem]) -> Value {
    Value::Array(problems.iter().map(|p| json!({ "path": p.path, "message": p.message })).collect())
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An enumeration of the document: its JSON names, in the order they are documented.
trait Named: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == text)
    }
}

/// Where the server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMode {
    /// The simulated Curity inside the page (or process).
    Simulator,
    /// A real server over HTTP(S).
    Http,
}

impl Named for ServerMode {
    const ALL: &'static [Self] = &[ServerMode::Simulator, ServerMode::Http];
    fn name(self) -> &'static str {
        match self {
            ServerMode::Simulator => "simulator",
            ServerMode::Http => "http",
        }
    }
}

/// Client authentication methods, by their RFC 7591 §2 / RFC 8705 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl Named for Method {
    const ALL: &'static [Self] = &Method::ALL;
    fn name(self) -> &'static str {
        Method::name(self)
    }
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 7] = [
        Method::ClientSecretBasic,
        Method::ClientSecretPost,
        Method::PrivateKeyJwt,
        Method::ClientSecretJwt,
        Method::TlsClientAuth,
        Method::SelfSignedTlsClientAuth,
        Method::None,
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
    /// True for the methods that send a signed JWT assertion.
    pub fn is_jwt(self) -> bool {
        matches!(self, Method::PrivateKeyJwt | Method::ClientSecretJwt)
    }
}

/// Where the DPoP key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStore {
    /// In the WebAssembly module: exportable and inspectable (for teaching).
    Wasm,
    /// A non-extractable WebCrypto key (like a mobile keystore).
    Webcrypto,
}

impl Named for KeyStore {
    const ALL: &'static [Self] = &[KeyStore::Wasm, KeyStore::Webcrypto];
    fn name(self) -> &'static str {
        match self {
            KeyStore::Wasm => "wasm",
            KeyStore::Webcrypto => "webcrypto",
        }
    }
}

/// What the simulated device can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attestation {
    /// The device attests (not simulated in this version; refused by validation).
    Supported,
    /// The device cannot attest: the attestation step is skipped and the fallback runs.
    Unsupported,
    /// The device tries to attest and the server refuses: the fallback runs.
    Refused,
}

impl Named for Attestation {
    const ALL: &'static [Self] = &[Attestation::Supported, Attestation::Unsupported, Attestation::Refused];
    fn name(self) -> &'static str {
        match self {
            Attestation::Supported => "supported",
            Attestation::Unsupported => "unsupported",
            Attestation::Refused => "refused",
        }
    }
}

impl Named for Step {
    const ALL: &'static [Self] = &Step::ALL;
    fn name(self) -> &'static str {
        Step::name(self)
    }
}

/// `server.endpoints`: overrides; each replaces what discovery says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointOverrides {
    /// Token endpoint.
    pub token: Option<String>,
    /// Dynamic client registration endpoint.
    pub registration: Option<String>,
    /// Authorization endpoint (the HAAPI entry point).
    pub authorization: Option<String>,
    /// CAT (attestation challenge) endpoint.
    pub cat: Option<String>,
}

/// `server`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Simulator or a real server.
    pub mode: ServerMode,
    /// The issuer; discovery is `issuer + "/.well-known/openid-configuration"`.
    pub issuer: String,
    /// Endpoint overrides.
    pub endpoints: EndpointOverrides,
    /// Base URL requests are sent to instead (a same-origin proxy); `htu` and `aud` keep the
    /// server's own URLs.
    pub send_via: Option<String>,
    /// Simulator settings (only with `mode: "simulator"`); see the simulator's documentation.
    pub simulator: Option<Value>,
    /// How long a request may take, from sending it to the last byte of the answer, in ms
    /// (`server.timeoutMs`, 1 to 600000; [`DEFAULT_TIMEOUT_MS`] when absent or null). A real server that
    /// does not answer, or answers slowly forever, ends the run with `TIMEOUT`.
    pub timeout_ms: u32,
}

/// `server.timeoutMs` when the document does not say: 30 s.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;
/// The largest `server.timeoutMs`: 10 minutes.
pub const MAX_TIMEOUT_MS: u32 = 600_000;

/// `client`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// The main HAAPI client, which authenticates the fallback.
    pub client_id: String,
    /// The template client, sent as `software_id`.
    pub template_client_id: String,
    /// Redirect URI used for the HAAPI authorization request.
    pub redirect_uri: String,
    /// Scope of the HAAPI authorization request.
    pub scope: String,
}

/// `credential`: how the main client authenticates. `Debug` redacts the secret and the key.
#[derive(Clone, PartialEq)]
pub struct CredentialConfig {
    /// The method.
    pub method: Method,
    /// The client secret (secret methods and `client_secret_jwt`).
    pub secret: Option<String>,
    /// The assertion's algorithm (JWT methods).
    pub alg: Option<String>,
    /// The private key, PEM or JWK text; generated when null.
    pub private_key: Option<String>,
    /// The client certificate chain (PEM, leaf first); generated when null.
    pub certificate: Option<String>,
    /// The assertion's `aud`; null means the token endpoint's URL.
    pub audience: Option<String>,
    /// The `kid` header of assertions; null means the key's own `kid`, or its RFC 7638 thumbprint.
    pub kid: Option<String>,
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| crate::proto::secret::REDACTED);
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
#[derive(Clone, Debug, PartialEq)]
pub struct DpopConfig {
    /// Proof algorithm (ES256).
    pub alg: String,
    /// Where the key lives.
    pub key_store: KeyStore,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig { alg: "ES256".into(), key_store: KeyStore::Wasm }
    }
}

/// `device`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceConfig {
    /// What the device can do.
    pub attestation: Attestation,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig { attestation: Attestation::Unsupported }
    }
}

/// `authentication`: how a run walks the HAAPI login after `authorize`.
#[derive(Clone, PartialEq)]
pub struct AuthenticationConfig {
    /// Follow `redirection-step`s (false: stop on each and show it).
    pub follow_redirects: bool,
    /// Which option of an authenticator selector (its title or href); null = the first.
    pub authenticator: Option<String>,
    /// Values for form fields, by the field names the representations give.
    pub inputs: BTreeMap<String, String>,
    /// Exchange the authorization code for tokens at the end.
    pub code_exchange: bool,
    /// How long to wait between polls of a `polling-step`, in ms (0 to 60000).
    pub poll_interval_ms: u32,
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        AuthenticationConfig { follow_redirects: true, authenticator: None, inputs: BTreeMap::new(), code_exchange: true, poll_interval_ms: 1000 }
    }
}

impl fmt::Debug for AuthenticationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationConfig")
            .field("follow_redirects", &self.follow_redirects)
            .field("authenticator", &self.authenticator)
            .field("inputs", &self.inputs.keys().collect::<Vec<_>>())
            .field("code_exchange", &self.code_exchange)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

/// The whole document.
#[derive(Clone, Debug, PartialEq)]
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
    pub dpop: DpopConfig,
    /// The device.
    pub device: DeviceConfig,
    /// The HAAPI login.
    pub authentication: AuthenticationConfig,
    /// Stop after this step; null runs to the end.
    pub stop_after: Option<Step>,
}

/// The default issuer: Curity's anonymous metadata endpoint on its default port.
pub const DEFAULT_ISSUER: &str = "https://localhost:8443/oauth/v2/oauth-anonymous";

impl Default for Config {
    /// The README's example: the in-page simulator, `private_key_jwt` with a generated ES256 key.
    fn default() -> Self {
        Config {
            version: 1,
            server: ServerConfig {
                mode: ServerMode::Simulator,
                issuer: DEFAULT_ISSUER.into(),
                endpoints: EndpointOverrides::default(),
                send_via: None,
                simulator: None,
                timeout_ms: DEFAULT_TIMEOUT_MS,
            },
            client: ClientConfig {
                client_id: "haapi-android-client".into(),
                template_client_id: "haapi-template-client".into(),
                redirect_uri: "app://haapi".into(),
                scope: "openid profile".into(),
            },
            credential: CredentialConfig {
                method: Method::PrivateKeyJwt,
                secret: None,
                alg: Some("ES256".into()),
                private_key: None,
                certificate: None,
                audience: None,
                kid: None,
            },
            dpop: DpopConfig::default(),
            device: DeviceConfig::default(),
            authentication: AuthenticationConfig::default(),
            stop_after: None,
        }
    }
}

/// Reads one JSON object of the document, field by field, keeping every problem with its path.
struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    path: &'a str,
    known: Vec<&'static str>,
}

/// What reading found wrong so far.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem { path: path.to_owned(), message: message.into() });
    }
    fn url(&mut self, path: &str, value: &str) {
        match crate::proto::url::Url::parse(value) {
            Ok(u) if u.fragment().is_some() => self.add(path, "must not have a fragment (#…)"),
            Ok(_) => {}
            Err(e) => self.add(path, e.to_string()),
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

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Fields<'a> {
    /// The object at `path` (`value` absent or null: an empty section, its defaults apply).
    fn of(value: Option<&'a Value>, path: &'a str, p: &mut Problems) -> Fields<'a> {
        let map = match value {
            Some(Value::Object(m)) => Some(m),
            None | Some(Value::Null) => None,
            Some(other) => {
                p.add(if path.is_empty() { "(document)" } else { path }, format!("must be a JSON object, not {}", kind(other)));
                None
            }
        };
        Fields { map, path, known: Vec::new() }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    /// An optional string (absent or null: `None`).
    fn opt_string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                p.add(&join(self.path, key), format!("must be a string or null, not {}", kind(other)));
                None
            }
        }
    }

    /// A required string: `default` stands in when it is missing, so reading goes on.
    fn string(&mut self, key: &'static str, default: &str, p: &mut Problems) -> String {
        let present = self.map.is_some_and(|m| m.get(key).is_some_and(|v| !v.is_null()));
        match self.opt_string(key, p) {
            Some(s) => s,
            None => {
                if !present && self.map.is_some() {
                    p.add(&join(self.path, key), "is missing (a string)");
                }
                default.to_owned()
            }
        }
    }

    fn bool(&mut self, key: &'static str, default: bool, p: &mut Problems) -> bool {
        match self.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                p.add(&join(self.path, key), format!("must be true or false, not {}", kind(other)));
                default
            }
        }
    }

    /// One of an enumeration's names; `default` when absent (or, after a problem, to go on).
    fn named<E: Named>(&mut self, key: &'static str, default: Option<E>, p: &mut Problems) -> Option<E> {
        let path = join(self.path, key);
        match self.get(key) {
            None => {
                if default.is_none() && self.map.is_some() {
                    p.add(&path, format!("is missing: one of {}", names::<E>()));
                }
                default
            }
            Some(Value::String(s)) => E::parse(s).or_else(|| {
                p.add(&path, format!("unknown value {s:?}: expected one of {}", names::<E>()));
                default
            }),
            Some(other) => {
                p.add(&path, format!("must be one of {}, not {}", names::<E>(), kind(other)));
                default
            }
        }
    }

    /// Every member not read is an unknown field (a misspelling, or a field of another version).
    fn finish(self, p: &mut Problems) {
        for key in self.map.into_iter().flat_map(|m| m.keys()) {
            if !self.known.contains(&key.as_str()) {
                p.add(&join(self.path, key), "unknown field (check its spelling; this document is version 1)");
            }
        }
    }
}

fn names<E: Named>() -> String {
    E::ALL.iter().map(|v| format!("\"{}\"", v.name())).collect::<Vec<_>>().join(", ")
}

impl Config {
    /// Parses and validates a document (JSON text). Every problem is reported at once.
    pub fn from_json(text: &str) -> Result<Config, Vec<ConfigProblem>> {
        let value: Value = crate::proto::json::parse(text).map_err(|e| vec![ConfigProblem { path: "(document)".into(), message: format!("not JSON: {e}") }])?;
        Self::from_value(&value)
    }

    /// Reads and validates a document (as the JS API receives it). Every problem is reported at
    /// once, each with the path of its field.
    pub fn from_value(value: &Value) -> Result<Config, Vec<ConfigProblem>> {
        let mut p = Problems::default();
        let d = Config::default();
        let mut doc = Fields::of(Some(value), "", &mut p);
        if value.is_null() {
            p.add("(document)", "must be a JSON object, not null");
        }

        let version = match doc.get("version") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)) => n.as_u64().unwrap_or(0) as u32,
            Some(other) => {
                p.add("version", format!("must be the number 1, not {other}"));
                1
            }
            None => {
                p.add("version", "is missing: this document is version 1");
                1
            }
        };

        let mut s = Fields::of(doc.get("server"), "server", &mut p);
        if s.map.is_none() && doc.map.is_some_and(|m| m.get("server").is_none_or(Value::is_null)) {
            p.add("server", "is missing (an object with mode and issuer)");
        }
        let mode = s.named("mode", None, &mut p).unwrap_or(d.server.mode);
        let issuer = s.string("issuer", &d.server.issuer, &mut p);
        let mut e = Fields::of(s.get("endpoints"), "server.endpoints", &mut p);
        let endpoints = EndpointOverrides {
            token: e.opt_string("token", &mut p),
            registration: e.opt_string("registration", &mut p),
            authorization: e.opt_string("authorization", &mut p),
            cat: e.opt_string("cat", &mut p),
        };
        e.finish(&mut p);
        let send_via = s.opt_string("sendVia", &mut p);
        let simulator = match s.get("simulator") {
            None => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(other) => {
                p.add("server.simulator", format!("must be an object of simulator settings, not {}", kind(other)));
                None
            }
        };
        let timeout_ms = match s.get("timeoutMs") {
            None | Some(Value::Null) => d.server.timeout_ms,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| (1..=u64::from(MAX_TIMEOUT_MS)).contains(&v)) => n.as_u64().unwrap_or(0) as u32,
            Some(other) => {
                p.add("server.timeoutMs", format!("must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}, not {other}"));
                d.server.timeout_ms
            }
        };
        s.finish(&mut p);

        let mut c = Fields::of(doc.get("client"), "client", &mut p);
        if c.map.is_none() && doc.map.is_some_and(|m| m.get("client").is_none_or(Value::is_null)) {
            p.add("client", "is missing (an object with clientId, templateClientId, redirectUri, scope)");
        }
        let client = ClientConfig {
            client_id: c.string("clientId", &d.client.client_id, &mut p),
            template_client_id: c.string("templateClientId", &d.client.template_client_id, &mut p),
            redirect_uri: c.string("redirectUri", &d.client.redirect_uri, &mut p),
            scope: c.string("scope", &d.client.scope, &mut p),
        };
        c.finish(&mut p);

        let mut cr = Fields::of(doc.get("credential"), "credential", &mut p);
        if cr.map.is_none() && doc.map.is_some_and(|m| m.get("credential").is_none_or(Value::is_null)) {
            p.add("credential", "is missing (an object with method and what it needs)");
        }
        let credential = CredentialConfig {
            method: cr.named("method", None, &mut p).unwrap_or(d.credential.method),
            secret: cr.opt_string("secret", &mut p),
            alg: cr.opt_string("alg", &mut p),
            private_key: cr.opt_string("privateKey", &mut p),
            certificate: cr.opt_string("certificate", &mut p),
            audience: cr.opt_string("audience", &mut p),
            kid: cr.opt_string("kid", &mut p),
        };
        cr.finish(&mut p);

        let mut dp = Fields::of(doc.get("dpop"), "dpop", &mut p);
        let dpop = DpopConfig {
            alg: dp.opt_string("alg", &mut p).unwrap_or(d.dpop.alg),
            key_store: dp.named("keyStore", Some(d.dpop.key_store), &mut p).unwrap_or(KeyStore::Wasm),
        };
        dp.finish(&mut p);

        let mut dv = Fields::of(doc.get("device"), "device", &mut p);
        let device = DeviceConfig { attestation: dv.named("attestation", Some(d.device.attestation), &mut p).unwrap_or(Attestation::Unsupported) };
        dv.finish(&mut p);

        let mut au = Fields::of(doc.get("authentication"), "authentication", &mut p);
        let da = AuthenticationConfig::default();
        let mut inputs = BTreeMap::new();
        match au.get("inputs") {
            None => {}
            Some(Value::Object(m)) => {
                for (name, v) in m {
                    match v {
                        Value::String(s) => {
                            inputs.insert(name.clone(), s.clone());
                        }
                        Value::Null => {}
                        other => p.add(&format!("authentication.inputs.{name}"), format!("must be a string (a form field's value), not {}", kind(other))),
                    }
                }
            }
            Some(other) => p.add("authentication.inputs", format!("must be an object of field name to value, not {}", kind(other))),
        }
        let authentication = AuthenticationConfig {
            follow_redirects: au.bool("followRedirects", da.follow_redirects, &mut p),
            authenticator: au.opt_string("authenticator", &mut p),
            inputs,
            code_exchange: au.bool("codeExchange", da.code_exchange, &mut p),
            poll_interval_ms: match au.get("pollIntervalMs") {
                None => da.poll_interval_ms,
                Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v <= 60_000) => n.as_u64().unwrap_or(0) as u32,
                Some(other) => {
                    p.add("authentication.pollIntervalMs", format!("must be a whole number of milliseconds from 0 to 60000, not {other}"));
                    da.poll_interval_ms
                }
            },
        };
        au.finish(&mut p);

        let stop_after =
            doc.named("stopAfter", Some(Step::CodeExchange), &mut p).filter(|_| doc.map.is_some_and(|m| m.get("stopAfter").is_some_and(|v| !v.is_null())));
        doc.finish(&mut p);

        let config = Config {
            version,
            server: ServerConfig { mode, issuer, endpoints, send_via, simulator, timeout_ms },
            client,
            credential,
            dpop,
            device,
            authentication,
            stop_after,
        };
        if let Err(more) = config.validate() {
            for problem in more {
                if !p.0.iter().any(|q| q.path == problem.path) {
                    p.0.push(problem);
                }
            }
        }
        p.finish()?;
        Ok(config)
    }

    /// The document as JSON (secrets included: it is the document itself).
    pub fn to_json(&self) -> Value {
        let (s, c, cr) = (&self.server, &self.client, &self.credential);
        let mut server = json!({
            "mode": s.mode.name(),
            "issuer": s.issuer,
            "endpoints": { "token": s.endpoints.token, "registration": s.endpoints.registration, "authorization": s.endpoints.authorization, "cat": s.endpoints.cat },
            "sendVia": s.send_via,
            "timeoutMs": s.timeout_ms,
        });
        if let Some(sim) = &s.simulator {
            server["simulator"] = sim.clone();
        }
        let a = &self.authentication;
        json!({
            "version": self.version,
            "server": server,
            "client": { "clientId": c.client_id, "templateClientId": c.template_client_id, "redirectUri": c.redirect_uri, "scope": c.scope },
            "credential": { "method": cr.method.name(), "secret": cr.secret, "alg": cr.alg, "privateKey": cr.private_key, "certificate": cr.certificate, "audience": cr.audience, "kid": cr.kid },
            "dpop": { "alg": self.dpop.alg, "keyStore": self.dpop.key_store.name() },
            "device": { "attestation": self.device.attestation.name() },
            "authentication": { "followRedirects": a.follow_redirects, "authenticator": a.authenticator, "inputs": a.inputs, "codeExchange": a.code_exchange, "pollIntervalMs": a.poll_interval_ms },
            "stopAfter": self.stop_after.map(Step::name),
        })
    }

    /// The credential's algorithm, parsed (JWT methods).
    pub fn assertion_alg(&self) -> Option<Alg> {
        self.credential.alg.as_deref().and_then(|a| Alg::parse(a).ok())
    }

    /// Checks everything that can be checked before a request is sent.
    pub fn validate(&self) -> Result<(), Vec<ConfigProblem>> {
        let mut p = Problems::default();
        if self.version != 1 {
            p.add("version", format!("version {} is not supported; this lab reads version 1", self.version));
        }

        let s = &self.server;
        p.url("server.issuer", &s.issuer);
        for (name, value) in [
            ("token", &s.endpoints.token),
            ("registration", &s.endpoints.registration),
            ("authorization", &s.endpoints.authorization),
            ("cat", &s.endpoints.cat),
        ] {
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
        if self.stop_after == Some(Step::CodeExchange) && !self.authentication.code_exchange {
            p.add("stopAfter", "authentication.codeExchange is false, so there is no code-exchange step to stop after");
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
        if m.uses_secret() && cr.secret.as_deref().is_none_or(|s| s.is_empty()) {
            p.add("credential.secret", format!("{} needs the main client's secret", m.name()));
        }
        if m.is_jwt() {
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
                        match read_private_key(text, cr.kid.as_deref()) {
                            Ok(key) if key.family != alg.family() => p.add(
                                "credential.alg",
                                format!("a {} key cannot sign {alg}; the key is {}, so use {}", key.family.name(), key.family.name(), key.family.default_alg()),
                            ),
                            Ok(key) => {
                                if let Some(said) = key.jwk_alg.as_deref().filter(|a| *a != alg.name()) {
                                    p.add("credential.alg", format!("the JWK says it is for {said} (its \"alg\" member) but credential.alg is {alg}: use {said}, or remove \"alg\" from the JWK"));
                                }
                            }
                            Err(e) => p.add("credential.privateKey", e.to_string()),
                        }
                    }
                }
            }
        }
        if m.is_mtls() {
            if let Some(chain) = &cr.certificate {
                if let Err(e) = check_certificate_text(chain) {
                    p.add("credential.certificate", e);
                }
            }
            match (&cr.certificate, &cr.private_key) {
                (Some(_), None) => p.add("credential.privateKey", "a client certificate needs its private key (PEM) for the TLS handshake"),
                (None, Some(_)) => p.add(
                    "credential.certificate",
                    "a private key alone is not enough for mutual TLS: paste its certificate too, or remove the key (null) to generate both",
                ),
                (Some(_), Some(key)) => {
                    if let Err(e) = read_private_key(key, None) {
                        p.add("credential.privateKey", e.to_string());
                    }
                }
                _ => {}
            }
        }
        if self.server.mode == ServerMode::Http {
            if m == Method::PrivateKeyJwt && cr.private_key.is_none() {
                p.add(
                    "credential.privateKey",
                    "a real server only accepts the key registered for the client: paste that private key (a generated one works only with the simulator)",
                );
            }
            if m.is_mtls() && cr.certificate.is_none() {
                p.add(
                    "credential.certificate",
                    "a real server only accepts a certificate it trusts: paste the client certificate and key (generated ones work only with the simulator)",
                );
            }
        }
    }

    /// Fields that the chosen method does not use: left over from switching methods, they are
    /// ignored (and said so), never an error. Each entry is `(path, why)`.
    pub fn ignored_fields(&self) -> Vec<ConfigProblem> {
        let cr = &self.credential;
        let m = cr.method;
        let mut out = Vec::new();
        let mut ignore = |path: &str, present: bool, why: &str| {
            if present {
                out.push(ConfigProblem { path: path.into(), message: format!("ignored: {} {why}", m.name()) });
            }
        };
        if m == Method::None {
            return out;
        }
        ignore("credential.secret", cr.secret.is_some() && !m.uses_secret(), "does not use a secret");
        ignore("credential.alg", cr.alg.is_some() && !m.is_jwt(), "signs no assertion, so it has no algorithm");
        ignore("credential.privateKey", cr.private_key.is_some() && m != Method::PrivateKeyJwt && !m.is_mtls(), "does not use a private key");
        ignore("credential.certificate", cr.certificate.is_some() && !m.is_mtls(), "does not use a certificate");
        ignore("credential.audience", cr.audience.is_some() && !m.is_jwt(), "sends no assertion, so it has no audience");
        ignore("credential.kid", cr.kid.is_some() && !m.is_jwt(), "sends no assertion, so it has no kid");
        out
    }
}

/// A light check of pasted certificates (PEM `CERTIFICATE` blocks holding DER): the full reading
/// is the server's (the simulator's) to do.
fn check_certificate_text(text: &str) -> Result<(), String> {
    let blocks = crate::proto::pem::parse_all(text).map_err(|e| e.0)?;
    if blocks.is_empty() {
        return Err("no CERTIFICATE block (-----BEGIN CERTIFICATE-----) found".into());
    }
    for (i, b) in blocks.iter().enumerate() {
        if b.label != "CERTIFICATE" {
            return Err(format!("block #{} is a {} block; paste only CERTIFICATE blocks here (the key goes in credential.privateKey)", i + 1, b.label));
        }
        if b.der.first() != Some(&0x30) {
            return Err(format!("certificate #{} is not DER", i + 1));
        }
    }
    Ok(())
}
