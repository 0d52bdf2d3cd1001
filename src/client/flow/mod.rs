//! The attestation-fallback flow as a sans-IO state machine.
//!
//! ```text
//!  discovery ─▶ attestation ─▶ dcr-token ─▶ registration ─▶ store ─▶ haapi-token ─▶ authorize
//!  (GET meta)   (skipped or     (F1: client_  (F2: POST DCR   (F3: the   (F4: client_   (HAAPI: GET
//!               refused)         credentials   Bearer <dcr>,   caller     credentials    authorize,
//!                                scope=dcr,    software_id)    persists   scope=haapi,   DPoP + Accept
//!                                main client)                  it)        DPoP proof)    vnd.auth+json)
//!        a stored dynamic client skips F1–F3; if the server no longer knows it
//!        (invalid_client at F4), the flow drops it and registers again.
//! ```
//!
//! The flow never sends, signs, stores or reads a clock. Its caller loops (the one loop is
//! [`super::driver::drive`], over any [`super::driver::Environment`]):
//!
//! ```text
//! loop {
//!     match flow.poll(now)? {
//!         Next::Send(request)  => flow.on_response(transport(request), now)?,
//!         Next::Sign(job)      => flow.on_signature(&device_key(job.role).sign(job.signing_input))?,
//!         Next::Store(client)  => { device.save(client); flow.on_stored(now)? }
//!         Next::Forget(id)     => { device.delete(id); flow.on_stored(now)? }
//!         Next::Done(outcome)  => break outcome,
//!     }
//! }
//! ```

mod haapi;
mod steps;
pub mod text;

pub use haapi::{ChoiceOption, FieldRequest, InputAnswer, InputKind, InputRequest, Tokens, MAX_HAAPI_REQUESTS, MAX_POLLS};

pub use crate::proto::step::Step;
pub use steps::{response_error, DCR_SCOPE, HAAPI_MEDIA_TYPE, HAAPI_SCOPE};

use super::client_auth::{basic_authorization, set_assertion, ClientAuth, KeyRole, SignRequest};
use super::config::{Attestation, Config};
use super::dpop::{self, NonceMemory, ProofInput};
use super::error::{Error, Evidence, Fault};
use super::material::Material;
use super::trace::{Retry, Status, Trace, TraceStep};
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy;
use crate::proto::http::{HttpRequest, HttpResponse, TransportError, TransportErrorKind};
use crate::proto::jose::{self, Alg};
use crate::proto::secret::Secret;
use crate::proto::url::{origin_of, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;

/// The endpoints the flow uses: the server's own (external) URLs, from discovery and the
/// configuration's overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEndpoints {
    /// Token endpoint.
    pub token: String,
    /// Registration endpoint.
    pub registration: String,
    /// Authorization endpoint.
    pub authorization: String,
    /// CAT endpoint.
    pub cat: String,
    /// The token endpoint's mutual-TLS alias (`mtls_endpoint_aliases.token_endpoint`), which a
    /// client authenticating with a certificate must use when the metadata names one (RFC 8705
    /// §5). `None` when it does not, or when `server.endpoints.token` is configured.
    pub mtls_token: Option<String>,
}

/// A dynamically registered client, as kept on the device (F3). `Debug` redacts the secret.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicClient {
    /// The client id the server issued.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// How it authenticates (`client_secret_basic` or `client_secret_post`).
    pub token_endpoint_auth_method: String,
    /// `client_id_issued_at` from the server.
    pub client_id_issued_at: Option<u64>,
    /// `client_secret_expires_at` (0 = never).
    pub client_secret_expires_at: u64,
    /// The template it was registered from.
    pub software_id: String,
    /// The issuer that registered it.
    pub issuer: String,
    /// When the device registered it (ms since the epoch).
    pub registered_at: u64,
    /// Where this client may be sent: the token endpoint it was registered with and the origin
    /// requests went to, plus any destination a person confirmed later. A stored credential
    /// never leaves for a place it did not come from (docs/design.md).
    pub destinations: Vec<Destination>,
}

/// Where a stored dynamic client's credentials go: the server's own token endpoint (what `htu`
/// and the server know) and the origin the requests are actually sent to (`sendVia`, or the
/// endpoint's own origin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The token endpoint's external URL.
    pub token_endpoint: String,
    /// The origin requests carrying the client's credentials or tokens are sent to.
    pub send_origin: String,
}

impl Destination {
    /// `{tokenEndpoint, sendOrigin}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "tokenEndpoint": self.token_endpoint, "sendOrigin": self.send_origin })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if origin_of(&self.token_endpoint) == self.send_origin {
            f.write_str(&self.token_endpoint)
        } else {
            write!(f, "{} (sent via {})", self.token_endpoint, self.send_origin)
        }
    }
}

impl DynamicClient {
    /// The client as the device keeps it (its secret included: the device encrypts it).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
            "tokenEndpointAuthMethod": self.token_endpoint_auth_method,
            "clientIdIssuedAt": self.client_id_issued_at,
            "clientSecretExpiresAt": self.client_secret_expires_at,
            "softwareId": self.software_id,
            "issuer": self.issuer,
            "registeredAt": self.registered_at,
            "destinations": self.destinations.iter().map(Destination::to_json).collect::<Vec<_>>(),
        })
    }

    /// Reads a client as the device stored it (its JSON form); `None` when it is not one.
    pub fn from_json(v: &Value) -> Option<DynamicClient> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let destinations = v.get("destinations").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|d| {
                    Some(Destination { token_endpoint: d.get("tokenEndpoint")?.as_str()?.to_owned(), send_origin: d.get("sendOrigin")?.as_str()?.to_owned() })
                })
                .collect()
        });
        Some(DynamicClient {
            client_id: s("clientId")?,
            client_secret: Secret::new(s("clientSecret")?),
            token_endpoint_auth_method: s("tokenEndpointAuthMethod").unwrap_or_else(|| "client_secret_basic".into()),
            client_id_issued_at: n("clientIdIssuedAt"),
            client_secret_expires_at: n("clientSecretExpiresAt").unwrap_or(0),
            software_id: s("softwareId")?,
            issuer: s("issuer")?,
            registered_at: n("registeredAt").unwrap_or(0),
            destinations: destinations.unwrap_or_default(),
        })
    }

    /// True when this client may be sent to `to` (an empty list is a record from before
    /// destinations were kept: it is bound to its issuer's origin).
    pub fn may_go_to(&self, to: &Destination) -> bool {
        if self.destinations.is_empty() {
            let origin = origin_of(&self.issuer);
            return origin_of(&to.token_endpoint) == origin && to.send_origin == origin;
        }
        self.destinations.contains(to)
    }
}

/// Options of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowOptions {
    /// A person confirmed that a stored client may be sent to a destination it was not
    /// registered at (the page's prompt; `run({ allowNewOrigin: true })`). Never set from a link.
    pub allow_new_origin: bool,
    /// A person runs the flow: it stops at each authenticator selector and form (prefilled from
    /// `authentication.inputs`) for them to choose and type, instead of filling them itself.
    pub interactive: bool,
}

/// An update of what the device keeps, which the caller carries out ([`Next::Store`],
/// [`Next::Forget`]) and confirms with [`Flow::on_stored`].
#[derive(Clone, Debug)]
enum Effect {
    Store(DynamicClient),
    Forget(String),
}

/// How a run ended. Serialise it with [`Outcome::to_json`], which redacts as the trace does.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The step the run stopped after (`stopAfter`), or the last step.
    pub last_step: Step,
    /// The dynamic client used, if the run got that far.
    pub dynamic_client_id: Option<String>,
    /// True when a stored client was reused (F1–F3 skipped).
    pub reused_stored_client: bool,
    /// True when a stored client was rejected and a new one registered.
    pub reregistered: bool,
    /// The HAAPI access token.
    pub haapi_token: Option<Secret>,
    /// The last HAAPI representation.
    pub representation: Option<Value>,
    /// The HAAPI session id (`Set-Session-Id`).
    pub session_id: Option<Secret>,
    /// The tokens the authorization code bought.
    pub tokens: Option<Tokens>,
    /// Who logged in (the ID token's `sub`).
    pub subject: Option<String>,
}

impl Outcome {
    /// The outcome as JSON, redacted unless `reveal` (the run result the page and QA read): the
    /// token loses its signature, the session id is `[redacted]`, the representation is
    /// redacted as a response body is.
    pub fn to_json(&self, reveal: bool) -> Value {
        let secret = |s: &Option<Secret>, redact: fn(&str) -> String| s.as_ref().map(|s| if reveal { s.expose().to_owned() } else { redact(s.expose()) });
        let mut representation = self.representation.clone();
        if let (Some(r), false) = (representation.as_mut(), reveal) {
            crate::proto::redact::redact_value(r);
        }
        serde_json::json!({
            "lastStep": self.last_step.name(),
            "dynamicClientId": self.dynamic_client_id,
            "reusedStoredClient": self.reused_stored_client,
            "reregistered": self.reregistered,
            "haapiToken": secret(&self.haapi_token, jose::redact_signature),
            "representation": representation,
            "sessionId": secret(&self.session_id, |_| crate::proto::secret::REDACTED.to_owned()),
            "subject": self.subject,
            "tokens": self.tokens.as_ref().map(|t| serde_json::json!({
                "accessToken": if reveal { t.access_token.expose().to_owned() } else { jose::redact_signature(t.access_token.expose()) },
                "idToken": secret(&t.id_token, jose::redact_signature),
                "refreshToken": secret(&t.refresh_token, |_| crate::proto::secret::REDACTED.to_owned()),
                "expiresIn": t.expires_in,
                "scope": t.scope,
            })),
        })
    }
}

/// What the caller must do next.
#[derive(Clone, Debug)]
pub enum Next {
    /// Send this request, then call [`Flow::on_response`] (or [`Flow::on_transport_error`]).
    Send(HttpRequest),
    /// Sign these bytes with the device's key for `role` (the DPoP key, or the main client's
    /// assertion key), then call [`Flow::on_signature`].
    Sign(SignRequest),
    /// Persist this client on the device (add it, or replace the one with its `client_id`), then
    /// call [`Flow::on_stored`].
    Store(DynamicClient),
    /// Delete the stored client with this `client_id` (the server that registered it no longer
    /// knows it), then call [`Flow::on_stored`].
    Forget(String),
    /// The HAAPI walk needs something from outside (a value, a choice, the other device's
    /// answer): answer with [`Flow::on_input`], or leave the run paused here.
    Input(InputRequest),
    /// The run is over.
    Done(Outcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Discovery,
    Attestation,
    DcrToken,
    Registration,
    Store,
    HaapiToken,
    Authorize,
    Authenticate,
    CodeExchange,
    Done,
}

/// The step a stage records.
fn step_of(stage: Stage) -> Option<Step> {
    Some(match stage {
        Stage::Discovery => Step::Discovery,
        Stage::Attestation => Step::Attestation,
        Stage::DcrToken => Step::DcrToken,
        Stage::Registration => Step::Registration,
        Stage::Store => Step::Store,
        Stage::HaapiToken => Step::HaapiToken,
        Stage::Authorize => Step::Authorize,
        Stage::Authenticate => Step::Authenticate,
        Stage::CodeExchange => Step::CodeExchange,
        Stage::Done => return None,
    })
}

enum Pending {
    Nothing,
    Sign { request: HttpRequest, jobs: VecDeque<SignRequest> },
    Ready(HttpRequest),
    Awaiting(HttpRequest),
    Effect { effect: Effect, completes_step: bool },
    Asking(Box<(InputRequest, haapi::Asked)>),
}

/// One run of the fallback. Build it with [`Flow::new`], drive it with [`Flow::poll`].
pub struct Flow {
    config: Config,
    auth: ClientAuth,
    dpop_alg: Alg,
    dpop_jwk: Value,
    rng: Box<dyn Entropy>,
    endpoints: Option<ServerEndpoints>,
    stage: Stage,
    pending: Pending,
    record: Option<TraceStep>,
    trace: Trace,
    client: Option<DynamicClient>,
    /// Every client the device keeps for this issuer (the one to reuse is chosen once the
    /// destination is known).
    stored: Vec<DynamicClient>,
    options: FlowOptions,
    /// The stored client is being sent to a destination a person just confirmed.
    confirmed_destination: Option<Destination>,
    effects: std::collections::VecDeque<Effect>,
    reused: bool,
    reregistered: bool,
    retried: bool,
    dcr_token: Option<Secret>,
    haapi_token: Option<Secret>,
    nonces: NonceMemory,
    state: String,
    code_verifier: Secret,
    representation: Option<Value>,
    walk: haapi::Walk,
    failed: Option<Error>,
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow").field("stage", &self.stage).field("client", &self.client).finish_non_exhaustive()
    }
}

impl Flow {
    /// A new run. `stored` are the dynamic clients kept on the device from earlier runs (those of
    /// other issuers are ignored; the one to reuse is chosen once the destination is known);
    /// `dpop_public_jwk` is the public key of the DPoP signer (`alg` ES256).
    pub fn new(
        config: Config,
        material: &Material,
        stored: Vec<DynamicClient>,
        dpop_public_jwk: Value,
        mut rng: Box<dyn Entropy>,
        options: FlowOptions,
    ) -> Result<Flow, Error> {
        config.validate().map_err(Error::Config)?;
        let auth = ClientAuth::for_main_client(&config, material)?;
        let stored: Vec<DynamicClient> = stored.into_iter().filter(|c| c.issuer == config.server.issuer).collect();
        let s = &config.server.endpoints;
        let endpoints = match (&s.token, &s.registration, &s.authorization) {
            (Some(t), Some(r), Some(a)) => Some(ServerEndpoints {
                token: t.clone(),
                registration: r.clone(),
                authorization: a.clone(),
                cat: s.cat.clone().unwrap_or_else(|| format!("{t}/cat")),
                mtls_token: None,
            }),
            _ => None,
        };
        let state = rng.token(16);
        let code_verifier = Secret::new(rng.token(32));
        // Fields the method does not use are left over from switching methods: ignored, and said.
        let mut trace = Trace { notes: config.ignored_fields().iter().map(ToString::to_string).collect(), ..Trace::default() };
        trace.keep_secret(config.credential.secret.as_deref());
        trace.keep_secret(config.credential.private_key.as_deref());
        for (name, value) in &config.authentication.inputs {
            if secret_input(name) {
                trace.keep_secret(Some(value));
            }
        }
        Ok(Flow {
            dpop_alg: Alg::parse(&config.dpop.alg).map_err(|e| Error::Crypto(e.to_string()))?,
            config,
            auth,
            dpop_jwk: dpop_public_jwk,
            rng,
            endpoints,
            stage: Stage::Discovery,
            pending: Pending::Nothing,
            record: None,
            trace,
            reused: false,
            client: None,
            stored,
            options,
            confirmed_destination: None,
            effects: Default::default(),
            reregistered: false,
            retried: false,
            dcr_token: None,
            haapi_token: None,
            nonces: NonceMemory::default(),
            state,
            code_verifier,
            representation: None,
            walk: haapi::Walk::default(),
            failed: None,
        })
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The endpoints in use, once known.
    pub fn endpoints(&self) -> Option<&ServerEndpoints> {
        self.endpoints.as_ref()
    }

    /// The dynamic client, once registered or loaded.
    pub fn dynamic_client(&self) -> Option<&DynamicClient> {
        self.client.as_ref()
    }

    /// The HAAPI access token, once issued.
    pub fn haapi_token(&self) -> Option<&Secret> {
        self.haapi_token.as_ref()
    }

    /// The PKCE `code_verifier` of the authorization request (RFC 7636), for the code exchange.
    pub fn code_verifier(&self) -> &Secret {
        &self.code_verifier
    }

    /// True once the run has ended (succeeded, stopped after `stopAfter`, or failed).
    pub fn is_finished(&self) -> bool {
        self.failed.is_some() || (self.stage == Stage::Done && matches!(self.pending, Pending::Nothing))
    }

    /// The question the run waits on ([`Next::Input`]), if it waits.
    pub fn question(&self) -> Option<&InputRequest> {
        match &self.pending {
            Pending::Asking(asked) => Some(&asked.0),
            _ => None,
        }
    }

    /// The error that ended the run, if it failed.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// What to do next.
    pub fn poll(&mut self, now: Timestamp) -> Result<Next, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            match std::mem::replace(&mut self.pending, Pending::Nothing) {
                Pending::Sign { request, jobs } => {
                    let next = jobs.front().cloned().ok_or_else(|| Error::State("a signature step without a job".into()))?;
                    self.pending = Pending::Sign { request, jobs };
                    return Ok(Next::Sign(next));
                }
                Pending::Ready(request) => {
                    self.pending = Pending::Awaiting(request.clone());
                    return Ok(Next::Send(request));
                }
                Pending::Awaiting(request) => {
                    self.pending = Pending::Awaiting(request);
                    return Err(Error::State("a response is awaited: call on_response or on_transport_error".into()));
                }
                Pending::Asking(asked) => {
                    let next = Next::Input(asked.0.clone());
                    self.pending = Pending::Asking(asked);
                    return Ok(next);
                }
                Pending::Effect { effect, completes_step } => {
                    let next = match &effect {
                        Effect::Store(client) => Next::Store(client.clone()),
                        Effect::Forget(client_id) => Next::Forget(client_id.clone()),
                    };
                    self.pending = Pending::Effect { effect, completes_step };
                    return Ok(next);
                }
                Pending::Nothing => {}
            }
            if let Some(effect) = self.effects.pop_front() {
                self.pending = Pending::Effect { effect, completes_step: false };
                continue;
            }
            if self.stage == Stage::Done {
                return Ok(Next::Done(self.outcome()));
            }
            self.begin(now)?;
        }
    }

    /// Hands the flow the signature it asked for with [`Next::Sign`].
    pub fn on_signature(&mut self, signature: &[u8]) -> Result<(), Error> {
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Sign { mut request, mut jobs } => {
                let job = jobs.pop_front().ok_or_else(|| Error::State("no signature was asked for".into()))?;
                let jws = jose::compact(&job.signing_input, signature);
                match job.role {
                    KeyRole::Dpop => request.headers.set("dpop", jws),
                    KeyRole::Assertion | KeyRole::SharedSecret => {
                        let client_id = self.auth.client_id().to_owned();
                        set_assertion(&mut request, &client_id, &jws);
                    }
                }
                if jobs.is_empty() {
                    self.set_request(&request);
                    self.pending = Pending::Ready(request);
                } else {
                    self.pending = Pending::Sign { request, jobs };
                }
                Ok(())
            }
            other => {
                self.pending = other;
                Err(Error::State("no signature was asked for".into()))
            }
        }
    }

    /// Confirms that the device did what [`Next::Store`] or [`Next::Forget`] asked.
    pub fn on_stored(&mut self, now: Timestamp) -> Result<(), Error> {
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Effect { effect, completes_step } => {
                if completes_step {
                    if let Effect::Store(client) = effect {
                        self.note(format!("Kept client {} on the device; later runs reuse it and skip registration.", client.client_id));
                    }
                    self.complete(now);
                }
                Ok(())
            }
            other => {
                self.pending = other;
                Err(Error::State("nothing was being stored".into()))
            }
        }
    }

    /// The request could not be sent; ends the run with [`Error::Transport`].
    pub fn on_transport_error(&mut self, message: &str, now: Timestamp) -> Error {
        self.on_transport_failure(TransportError::network(message), now)
    }

    /// The request got no complete response: a network failure ([`Error::Transport`]), or a
    /// CORS block, a timeout, an abort, a body over the cap or a redirect the platform hid
    /// ([`Error::Exchange`]). What arrived (status, headers, the body so far) is kept in the
    /// trace and in the error's evidence.
    pub fn on_transport_failure(&mut self, failure: TransportError, now: Timestamp) -> Error {
        self.pending = Pending::Nothing;
        let step = self.current_step();
        if let (Some(r), Some(partial)) = (self.record.as_mut(), &failure.partial) {
            r.response = Some(partial.clone());
        }
        let mut evidence = failure.partial.as_ref().map(Evidence::of).unwrap_or_default();
        evidence.received_bytes = failure.received_bytes;
        evidence.timeout_ms = failure.timeout_ms;
        let message = failure.message;
        let (fault, message) = match failure.kind {
            TransportErrorKind::Network => return self.fail(Error::Transport { step, message }, now),
            TransportErrorKind::Cors => {
                (Fault::Cors, format!("the browser blocked the answer: the server is reachable but does not allow this page's origin (CORS): {message}"))
            }
            TransportErrorKind::Timeout => (Fault::Timeout, message),
            TransportErrorKind::Aborted => (Fault::Aborted, message),
            TransportErrorKind::TooLarge => (Fault::TooLarge, steps::too_large_message(evidence.received_bytes.unwrap_or(evidence.body.len() as u64))),
            TransportErrorKind::Truncated => (Fault::TruncatedBody, format!("the connection closed in the middle of the answer's body: {message}")),
            TransportErrorKind::Redirect => (Fault::Redirect, message),
        };
        self.fail(Error::Exchange { step, fault, message, evidence: Box::new(evidence) }, now)
    }

    /// Something on the device failed (a key could not sign, storage refused a write): ends the
    /// run with `error`, recorded on the step in progress.
    pub fn on_device_error(&mut self, error: Error, now: Timestamp) -> Error {
        self.pending = Pending::Nothing;
        self.fail(error, now)
    }

    /// The step in progress (or the last one).
    pub fn current_step(&self) -> Step {
        self.record.as_ref().map(|r| r.name).or_else(|| self.trace.steps.last().map(|s| s.name)).unwrap_or(Step::Discovery)
    }

    /// Hands the flow the response to the request of [`Next::Send`].
    pub fn on_response(&mut self, response: HttpResponse, now: Timestamp) -> Result<(), Error> {
        let request = match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Awaiting(r) => r,
            other => {
                self.pending = other;
                return Err(Error::State("no request is in flight".into()));
            }
        };
        if let Some(nonce) = response.header("dpop-nonce") {
            // Under the server's own URL, where the next proof looks it up (not the sendVia one).
            self.nonces.remember(&request.server_url, nonce);
        }
        if let Some(r) = self.record.as_mut() {
            r.response = Some(response.clone());
            r.duration_ms = r.started_at.map(|s| now.millis().saturating_sub(s));
        }
        // A redirect, a 5xx or a body over the cap is the same fault whatever the step asked
        // (attestation excepted: its failing is what the fallback is for).
        if self.stage != Stage::Attestation {
            if let Some(e) = steps::response_fault(self.current_step(), &response, now) {
                return Err(self.fail(e, now));
            }
        }
        match self.process(&request, &response, now) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e, now)),
        }
    }

    fn process(&mut self, request: &HttpRequest, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let issuer = self.config.server.issuer.clone();
        match self.stage {
            Stage::Discovery => {
                let endpoints = steps::process_discovery(resp, &issuer, &self.config.server.endpoints)?;
                self.note(format!(
                    "Token endpoint {}, registration endpoint {}, authorization endpoint {}.",
                    endpoints.token, endpoints.registration, endpoints.authorization
                ));
                if let Some(alias) = &endpoints.mtls_token {
                    self.note(if self.config.credential.method.is_mtls() {
                        format!("Its mutual-TLS alias of the token endpoint, {alias}, takes the dcr token request: a client that authenticates with a certificate must use it (mtls_endpoint_aliases, RFC 8705 §5).")
                    } else {
                        format!("It names a mutual-TLS alias of the token endpoint ({alias}), for clients that authenticate with a certificate; this one does not (RFC 8705 §5).")
                    });
                }
                self.endpoints = Some(endpoints);
                self.complete(now);
            }
            Stage::Attestation => {
                let error = if resp.status == 200 {
                    Error::InvalidResponse {
                        step: Step::Attestation,
                        status: 200,
                        message: "the server offered an attestation challenge, but this device cannot answer it".into(),
                        body: resp.body.clone(),
                    }
                } else {
                    steps::response_error(Step::Attestation, resp)
                };
                // Attestation failing is what the fallback is for: record it, then carry on.
                if let Some(mut r) = self.record.take() {
                    r.status = Status::Failed;
                    r.error = Some(error.to_json());
                    r.notes
                        .push("Attestation is not available, so the app uses the fallback: dynamic client registration with its secondary credential.".into());
                    self.trace.steps.push(r);
                }
                self.advance();
            }
            Stage::DcrToken => {
                let token = steps::process_token(Step::DcrToken, resp, "Bearer", DCR_SCOPE)?;
                self.note(format!("Got a one-time registration token{}.", token.expires_in.map(|s| format!(", valid {s} s")).unwrap_or_default()));
                self.dcr_token = Some(token.access_token);
                self.complete(now);
            }
            Stage::Registration => {
                let mut client = steps::process_registration(resp, &self.config.client.template_client_id, &issuer, now)?;
                client.destinations = self.destination().into_iter().collect();
                self.note(format!("Registered dynamic client {} from template {}.", client.client_id, client.software_id));
                self.dcr_token = None;
                self.trace.keep_secret(Some(client.client_secret.expose()));
                self.client = Some(client);
                self.complete(now);
            }
            Stage::HaapiToken => {
                if steps::is_nonce_challenge(resp) && !self.retried {
                    return self.retry_for_nonce(request, resp, now);
                }
                if self.reused
                    && !self.reregistered
                    && resp.status == 401
                    && steps::response_error(Step::HaapiToken, resp).oauth_error().is_some_and(|e| e.error == "invalid_client")
                {
                    self.forget_stale_client(resp);
                    return Ok(());
                }
                let token = steps::process_token(Step::HaapiToken, resp, "DPoP", HAAPI_SCOPE)?;
                self.note(format!("Got a DPoP-bound HAAPI token{}.", token.expires_in.map(|s| format!(", valid {s} s")).unwrap_or_default()));
                self.haapi_token = Some(token.access_token);
                if let (Some(to), Some(client)) = (self.confirmed_destination.take(), self.client.as_mut()) {
                    // The person confirmed this destination and the server there knows the client:
                    // from now on it belongs there too.
                    client.destinations.push(to.clone());
                    let client = client.clone();
                    self.note(format!("The server at {to} accepted client {}: the device now also allows it there.", client.client_id));
                    self.effects.push_back(Effect::Store(client));
                }
                self.complete(now);
            }
            Stage::Authorize | Stage::Authenticate => {
                if steps::is_nonce_challenge(resp) && !self.retried {
                    return self.retry_for_nonce(request, resp, now);
                }
                self.process_haapi(resp, now)?;
            }
            Stage::CodeExchange => {
                if steps::is_nonce_challenge(resp) && !self.retried {
                    return self.retry_for_nonce(request, resp, now);
                }
                self.process_code_exchange(resp, now)?;
            }
            Stage::Store | Stage::Done => return Err(Error::State("no response expected in this stage".into())),
        }
        Ok(())
    }

    fn retry_for_nonce(&mut self, request: &HttpRequest, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        self.retried = true;
        if let Some(r) = self.record.as_mut() {
            r.retries.push(Retry {
                reason: "the server requires a DPoP nonce (use_dpop_nonce); sending the request again with a proof that carries it (RFC 9449 §8)".into(),
                request: request.clone(),
                response: resp.clone(),
            });
            r.request = None;
            r.response = None;
        }
        self.build_request(now)
    }

    fn forget_stale_client(&mut self, resp: &HttpResponse) {
        let old = self.client.take().map(|c| c.client_id).unwrap_or_default();
        let error = steps::response_error(Step::HaapiToken, resp);
        let note = match self.confirmed_destination.take() {
            // A server it was never registered at does not know it: that says nothing about the
            // server that does, so the device keeps it.
            Some(to) => format!(
                "The server at {to} does not know client {old}; the device keeps it for the place it was registered at and registers a new client here."
            ),
            None => {
                self.effects.push_back(Effect::Forget(old.clone()));
                format!("The server no longer knows the stored client {old} (its database was probably reset). The app forgets it and registers a new dynamic client.")
            }
        };
        if let Some(mut r) = self.record.take() {
            r.status = Status::Failed;
            r.error = Some(error.to_json());
            r.notes.push(note);
            self.trace.steps.push(r);
        }
        self.reregistered = true;
        self.retried = false;
        self.stage = Stage::DcrToken;
    }

    /// Where the stored client's credentials would go in this run, once the endpoints are known.
    fn destination(&self) -> Option<Destination> {
        let token = &self.endpoints.as_ref()?.token;
        Some(Destination { token_endpoint: token.clone(), send_origin: origin_of(&self.send_url(token)) })
    }

    /// Chooses the stored client for this run's destination. A client kept for this issuer but
    /// for another destination is not sent anywhere unless a person confirmed it
    /// ([`FlowOptions::allow_new_origin`]); the run stops before any request that would carry it.
    fn choose_stored_client(&mut self, now: Timestamp) -> Result<(), Error> {
        if self.stored.is_empty() || self.client.is_some() || self.reregistered {
            return Ok(());
        }
        let Some(to) = self.destination() else { return Ok(()) };
        if let Some(i) = self.stored.iter().position(|c| c.may_go_to(&to)) {
            self.trace.keep_secret(Some(self.stored[i].client_secret.expose()));
            self.client = Some(self.stored.swap_remove(i));
            self.reused = true;
            return Ok(());
        }
        let newest = self.stored.iter().max_by_key(|c| c.registered_at).cloned().expect("stored is not empty");
        if self.options.allow_new_origin {
            self.note(format!("A person confirmed sending client {} (kept for {}) to {to}.", newest.client_id, list_destinations(&newest)));
            self.trace.keep_secret(Some(newest.client_secret.expose()));
            self.client = Some(newest);
            self.reused = true;
            self.confirmed_destination = Some(to);
            return Ok(());
        }
        Err(self.refuse_destination(&newest, to, now))
    }

    /// Before anything is sent: a configuration that names where requests go (`sendVia`, a token
    /// endpoint) and matches no stored client's destination stops here, so a link cannot even
    /// make the device call a new origin (discovery included).
    fn precheck_destination(&mut self, now: Timestamp) -> Result<(), Error> {
        if self.stored.is_empty() || self.options.allow_new_origin {
            return Ok(());
        }
        if self.endpoints.is_some() {
            return self.choose_stored_client(now);
        }
        let token = self.config.server.endpoints.token.clone();
        let send_origin = match (&self.config.server.send_via, &token) {
            (Some(via), _) => Some(origin_of(via)),
            (None, Some(t)) => Some(origin_of(t)),
            (None, None) => None,
        };
        let Some(send_origin) = send_origin else { return Ok(()) };
        // A record from before destinations were kept is bound to its issuer's origin.
        let fits = |c: &DynamicClient| match c.destinations.is_empty() {
            true => origin_of(&c.issuer) == send_origin,
            false => c.destinations.iter().any(|d| d.send_origin == send_origin && token.as_ref().is_none_or(|t| *t == d.token_endpoint)),
        };
        if self.stored.iter().any(fits) {
            return Ok(());
        }
        let newest = self.stored.iter().max_by_key(|c| c.registered_at).cloned().expect("stored is not empty");
        let to = Destination { token_endpoint: token.unwrap_or_else(|| "(from discovery)".into()), send_origin };
        Err(self.refuse_destination(&newest, to, now))
    }

    fn refuse_destination(&mut self, client: &DynamicClient, to: Destination, now: Timestamp) -> Error {
        let error = Error::DestinationChanged { client_id: client.client_id.clone(), registered_at: client.destinations.clone(), requested: to };
        let mut r = TraceStep::new(Step::HaapiToken, Status::Failed);
        r.started_at = Some(now.millis());
        r.duration_ms = Some(0);
        r.error = Some(error.to_json());
        r.notes.push(text::advice(&error, &self.config));
        self.record = None;
        self.trace.steps.push(r);
        self.failed = Some(error.clone());
        error
    }

    fn begin(&mut self, now: Timestamp) -> Result<(), Error> {
        let step = match self.stage {
            Stage::Discovery => Step::Discovery,
            Stage::Attestation => Step::Attestation,
            Stage::DcrToken => Step::DcrToken,
            Stage::Registration => Step::Registration,
            Stage::Store => Step::Store,
            Stage::HaapiToken => Step::HaapiToken,
            Stage::Authorize => Step::Authorize,
            Stage::Authenticate => Step::Authenticate,
            Stage::CodeExchange => Step::CodeExchange,
            Stage::Done => return Ok(()),
        };
        match self.stage {
            Stage::Discovery => self.precheck_destination(now)?,
            Stage::DcrToken => self.choose_stored_client(now)?,
            _ => {}
        }
        let mut record = TraceStep::new(step, Status::Ok);
        record.started_at = Some(now.millis());
        record.notes = std::mem::take(&mut self.walk.carried_notes);
        self.record = Some(record);
        self.retried = false;
        let skip = match self.stage {
            Stage::Discovery if self.endpoints.is_some() => Some("Every endpoint is configured, so there is nothing to discover.".to_owned()),
            Stage::Attestation if self.config.device.attestation == Attestation::Unsupported => {
                Some("This device cannot attest (device.attestation is \"unsupported\"), so the app goes straight to the fallback.".to_owned())
            }
            Stage::DcrToken | Stage::Registration | Stage::Store if self.reused && !self.reregistered => {
                let c = self.client.as_ref().expect("a reused client is present");
                Some(format!("Reusing client {} kept on the device since an earlier run (registered from {}).", c.client_id, c.software_id))
            }
            _ => None,
        };
        if let Some(why) = skip {
            if let Some(mut r) = self.record.take() {
                r.status = Status::Skipped;
                r.notes.push(why);
                self.trace.steps.push(r);
            }
            self.advance();
            return Ok(());
        }
        if self.stage == Stage::Store {
            let client = self.client.clone().ok_or_else(|| Error::State("store without a client".into()))?;
            self.pending = Pending::Effect { effect: Effect::Store(client), completes_step: true };
            return Ok(());
        }
        self.build_request(now)
    }

    fn build_request(&mut self, now: Timestamp) -> Result<(), Error> {
        let issuer = self.config.server.issuer.clone();
        let ep = self.endpoints.clone();
        let ep = || ep.clone().ok_or_else(|| Error::State("endpoints unknown before discovery".into()));
        let mut jobs = VecDeque::new();
        // `Some(access token)` when the request carries a DPoP proof (`Some(None)`: without ath).
        let (mut request, proof_for): (HttpRequest, Option<Option<String>>) = match self.stage {
            Stage::Discovery => (steps::prepare_discovery(&issuer), None),
            Stage::Attestation => (steps::prepare_attestation(&ep()?.cat, &self.config.client.client_id), None),
            Stage::DcrToken => {
                // The main client's certificate goes to the mutual-TLS alias when there is one.
                let ep = ep()?;
                let token_url = match ep.mtls_token {
                    Some(alias) if self.config.credential.method.is_mtls() => alias,
                    _ => ep.token,
                };
                let mut r = steps::prepare_client_credentials(&token_url, DCR_SCOPE);
                jobs.extend(self.auth.apply(&mut r, &token_url, now, self.rng.as_mut())?);
                (r, None)
            }
            Stage::Registration => {
                let token = self.dcr_token.as_ref().ok_or_else(|| Error::State("registration without a dcr token".into()))?;
                (steps::prepare_registration(&ep()?.registration, token.expose(), &self.config.client.template_client_id), None)
            }
            Stage::HaapiToken => {
                let client = self.client.as_ref().ok_or_else(|| Error::State("haapi-token without a client".into()))?;
                let mut r = steps::prepare_client_credentials(&ep()?.token, HAAPI_SCOPE);
                if client.token_endpoint_auth_method == "client_secret_post" {
                    r.set_form_param("client_id", &client.client_id);
                    r.set_form_param("client_secret", client.client_secret.expose());
                } else {
                    r.headers.set("authorization", basic_authorization(&client.client_id, client.client_secret.expose()));
                }
                (r, Some(None))
            }
            Stage::Authorize => {
                let client = self.client.as_ref().ok_or_else(|| Error::State("authorize without a client".into()))?;
                let token = self.haapi_token.clone().ok_or_else(|| Error::State("authorize without a HAAPI token".into()))?;
                let challenge = jose::b64url(&Sha256::digest(self.code_verifier.expose().as_bytes()));
                let c = &self.config.client;
                let r = steps::prepare_authorize(&ep()?.authorization, &client.client_id, &c.redirect_uri, &c.scope, &self.state, &challenge, token.expose());
                (r, Some(Some(token.expose().to_owned())))
            }
            Stage::Authenticate => {
                let token = self.haapi_token.clone().ok_or_else(|| Error::State("authenticate without a HAAPI token".into()))?;
                let call = self.walk.next.clone().ok_or_else(|| Error::State("authenticate without a next call".into()))?;
                (self.prepare_haapi(&call, &token), Some(Some(token.expose().to_owned())))
            }
            Stage::CodeExchange => (self.prepare_code_exchange()?, Some(None)),
            Stage::Store | Stage::Done => return Err(Error::State("no request in this stage".into())),
        };
        if let Some(access_token) = proof_for {
            let nonce = self.nonces.get(&request.server_url).map(str::to_owned);
            let input = ProofInput { method: &request.method, url: &request.server_url, access_token: access_token.as_deref(), nonce: nonce.as_deref() };
            let signing_input = dpop::unsigned_proof(self.dpop_alg.name(), &self.dpop_jwk, &input, now.secs(), self.rng.as_mut());
            jobs.push_back(SignRequest { role: KeyRole::Dpop, alg: self.dpop_alg, signing_input });
        }
        request.url = self.send_url(&request.server_url);
        if jobs.is_empty() {
            self.set_request(&request);
            self.pending = Pending::Ready(request);
        } else {
            self.pending = Pending::Sign { request, jobs };
        }
        Ok(())
    }

    /// Where a request to the server's own `url` is sent: `server.sendVia` replaces the origin
    /// (and prefixes its path); `htu` and `aud` keep the server's own URL.
    fn send_url(&self, url: &str) -> String {
        match (&self.config.server.send_via, Url::parse(url)) {
            (Some(base), Ok(u)) => format!("{}{}", base.trim_end_matches('/'), u.path_and_query()),
            _ => url.to_owned(),
        }
    }

    fn set_request(&mut self, request: &HttpRequest) {
        if let Some(r) = self.record.as_mut() {
            r.request = Some(request.clone());
        }
    }

    /// Adds a note to the step in progress, or (between steps: an answer to a question) to the
    /// next step.
    fn note(&mut self, note: String) {
        match self.record.as_mut() {
            Some(r) => r.notes.push(note),
            None => self.walk.carried_notes.push(note),
        }
    }

    fn complete(&mut self, now: Timestamp) {
        if let Some(mut r) = self.record.take() {
            if r.duration_ms.is_none() {
                r.duration_ms = r.started_at.map(|s| now.millis().saturating_sub(s));
            }
            self.trace.steps.push(r);
        }
        self.advance();
    }

    fn advance(&mut self) {
        let finished = self.trace.steps.last().map(|s| s.name);
        if finished.is_some() && finished == self.config.stop_after {
            self.stage = Stage::Done;
            return;
        }
        self.stage = match self.stage {
            Stage::Discovery => Stage::Attestation,
            Stage::Attestation => Stage::DcrToken,
            Stage::DcrToken => Stage::Registration,
            Stage::Registration => Stage::Store,
            Stage::Store => Stage::HaapiToken,
            Stage::HaapiToken => Stage::Authorize,
            Stage::Authorize | Stage::Authenticate | Stage::CodeExchange | Stage::Done => Stage::Done,
        };
    }

    fn fail(&mut self, error: Error, now: Timestamp) -> Error {
        // A failure between steps (a question nobody answered) is a failed step of its own.
        let between = self.record.is_none().then(|| {
            let mut r = TraceStep::new(error.step().unwrap_or(Step::Authenticate), Status::Ok);
            r.started_at = Some(now.millis());
            r.duration_ms = Some(0);
            r
        });
        if let Some(mut r) = self.record.take().or(between) {
            r.status = Status::Failed;
            if let (Error::Exchange { .. }, Some(resp)) = (&error, r.response.as_mut()) {
                cut_body(resp);
            }
            r.error = Some(error.to_json());
            r.notes.push(text::advice(&error, &self.config));
            if r.duration_ms.is_none() {
                r.duration_ms = r.started_at.map(|s| now.millis().saturating_sub(s));
            }
            self.trace.steps.push(r);
        }
        self.failed = Some(error.clone());
        error
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            last_step: self.trace.steps.last().map(|s| s.name).unwrap_or(Step::Discovery),
            dynamic_client_id: self.client.as_ref().map(|c| c.client_id.clone()),
            reused_stored_client: self.reused && !self.reregistered,
            reregistered: self.reregistered,
            haapi_token: self.haapi_token.clone(),
            representation: self.representation.clone(),
            session_id: self.walk.session_id.clone(),
            tokens: self.walk.tokens.clone(),
            subject: self.walk.subject.clone(),
        }
    }
}

/// How much of a broken response's body the trace keeps (characters).
pub const TRACE_BODY_CHARS: usize = 64 * 1024;

/// Cuts a body over [`TRACE_BODY_CHARS`], saying how much there was.
fn cut_body(resp: &mut HttpResponse) {
    if resp.body.len() > TRACE_BODY_CHARS {
        let total = resp.body.len();
        resp.body = resp.body.chars().take(TRACE_BODY_CHARS).collect();
        resp.body.push_str(&format!("\n[… cut: {total} bytes in all]"));
    }
}

/// True for a form field whose value is a secret by its name (a password, a PIN, a one-time
/// code): its value from `authentication.inputs` is redacted wherever the trace shows it.
pub fn secret_input(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "secret", "pin", "otp", "token", "credential", "code"].iter().any(|w| n.contains(w))
}

fn list_destinations(client: &DynamicClient) -> String {
    if client.destinations.is_empty() {
        return format!("its issuer's origin {}", origin_of(&client.issuer));
    }
    client.destinations.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
