//! Errors that keep their evidence: the step, the HTTP status, the body and the server's OAuth
//! error. Each has a stable [`Error::code`] that JavaScript receives as `error.code`.

use super::config::ConfigProblem;
use super::flow::Destination;
use crate::proto::step::Step;
use std::fmt;

/// An OAuth error response body (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 9449 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code, e.g. `invalid_client`.
    pub error: String,
    /// Human-readable detail from the server.
    pub error_description: Option<String>,
    /// A page about the error.
    pub error_uri: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        if let Some(u) = &self.error_uri {
            write!(f, " (see {u})")?;
        }
        Ok(())
    }
}

/// Everything that can stop a run. `Debug` shows the evidence with secrets redacted.
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work; nothing was sent.
    #[error("the configuration cannot work: {}", list(.0))]
    Config(Vec<ConfigProblem>),
    /// The server answered with an OAuth error.
    #[error("{step}: the server refused the request (HTTP {status}): {error}")]
    Server {
        /// The step that failed.
        step: Step,
        /// HTTP status.
        status: u16,
        /// The server's error body.
        error: OAuthError,
        /// The raw body.
        body: String,
    },
    /// The server answered with a status this step does not expect, and no OAuth error.
    #[error("{step}: unexpected HTTP status {status}")]
    UnexpectedStatus {
        /// The step that failed.
        step: Step,
        /// HTTP status.
        status: u16,
        /// The raw body.
        body: String,
    },
    /// The response does not conform to the protocol (missing field, wrong type, wrong media type).
    #[error("{step}: the response does not conform: {message}")]
    InvalidResponse {
        /// The step that failed.
        step: Step,
        /// HTTP status.
        status: u16,
        /// What is wrong.
        message: String,
        /// The raw body.
        body: String,
    },
    /// The request could not be sent (network, CORS, TLS); from the transport.
    #[error("{step}: the request could not be sent: {message}")]
    Transport {
        /// The step that failed.
        step: Step,
        /// What the transport reported.
        message: String,
    },
    /// The configuration would send a client kept on the device to a place it was not
    /// registered at, and nobody confirmed that; nothing was sent.
    #[error("this device keeps client {client_id} for {}; this configuration would send it to {requested}. Nothing was sent: confirm the new destination, restore server.endpoints and server.sendVia, or forget this device", list_destinations(.registered_at))]
    DestinationChanged {
        /// The stored client.
        client_id: String,
        /// Where it may go.
        registered_at: Vec<Destination>,
        /// Where this configuration would send it.
        requested: Destination,
    },
    /// The HAAPI server answered with a problem (`application/problem+json`).
    #[error("{step}: {problem}: {title}{}", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    Problem {
        /// The step that failed.
        step: Step,
        /// HTTP status.
        status: u16,
        /// The problem type's last segment (`incorrect-credentials`, …).
        problem: String,
        /// Its title.
        title: String,
        /// Its messages and invalid fields, in words.
        detail: String,
        /// The raw body (the problem representation).
        body: String,
    },
    /// The HAAPI walk cannot go on.
    #[error("{step}: {message}")]
    Haapi {
        /// The step that failed.
        step: Step,
        /// What kind of failure (its stable code).
        failure: HaapiFailure,
        /// What happened.
        message: String,
        /// The HTTP status of the response, when one caused it.
        status: Option<u16>,
        /// The response body, when one caused it.
        body: String,
    },
    /// The server broke the exchange in a way this lab recognises (an HTML page, a wrong
    /// content type, a cut or non-JSON body, a body too large, a redirect, a 5xx, no answer in
    /// time, a CORS block, an issuer that is not the configured one, a token that is not a JWT),
    /// or the caller stopped it. The evidence is kept.
    #[error("{step}: {message}")]
    Exchange {
        /// The step that failed.
        step: Step,
        /// What went wrong (its stable code).
        fault: Fault,
        /// What happened, in words.
        message: String,
        /// What the response showed, as far as it arrived.
        evidence: Box<Evidence>,
    },
    /// A key, certificate or JWT could not be made or used.
    #[error("{0}")]
    Crypto(String),
    /// The device's storage failed (IndexedDB, WebCrypto).
    #[error("the device's storage failed: {0}")]
    Storage(String),
    /// The flow was driven out of order (a bug in the caller).
    #[error("flow misuse: {0}")]
    State(String),
}

/// Why the HAAPI walk stopped, when no server error says it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HaapiFailure {
    /// A representation this lab cannot follow (a client operation, an unknown type).
    Unsupported,
    /// A representation that breaks the model (a form without `href`, …).
    Malformed,
    /// An `href` that is not a URL this lab follows.
    BadTarget,
    /// An `href` on another origin than the server's.
    OffOriginTarget,
    /// `authentication.authenticator` names no option of the selector.
    AuthenticatorNotFound,
    /// A form field has no value and nobody gave one.
    InputRequired,
    /// The polling authenticator failed (the other device denied).
    PollingFailed,
    /// The other device did not answer in time.
    PollingTimedOut,
    /// Too many HAAPI requests without an authorization response.
    TooManySteps,
    /// The authorization response's `state` is not the one sent.
    StateMismatch,
    /// An `iss` that is not the configured issuer (RFC 9207).
    IssuerMismatch,
    /// The authorization response is an error.
    AuthorizationError,
}

impl HaapiFailure {
    /// The stable code JavaScript sees.
    pub fn code(self) -> &'static str {
        match self {
            HaapiFailure::Unsupported => "HAAPI_UNSUPPORTED_STEP",
            HaapiFailure::Malformed => "HAAPI_MALFORMED",
            HaapiFailure::BadTarget => "HAAPI_BAD_TARGET",
            HaapiFailure::OffOriginTarget => "HAAPI_OFF_ORIGIN_TARGET",
            HaapiFailure::AuthenticatorNotFound => "AUTHENTICATOR_NOT_FOUND",
            HaapiFailure::InputRequired => "INPUT_REQUIRED",
            HaapiFailure::PollingFailed => "POLLING_FAILED",
            HaapiFailure::PollingTimedOut => "POLLING_TIMED_OUT",
            HaapiFailure::TooManySteps => "HAAPI_TOO_MANY_STEPS",
            HaapiFailure::StateMismatch => "STATE_MISMATCH",
            HaapiFailure::IssuerMismatch => "ISSUER_MISMATCH",
            HaapiFailure::AuthorizationError => "AUTHORIZATION_ERROR",
        }
    }
}

/// What went wrong with an exchange ([`Error::Exchange`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An HTML page where JSON was expected (a proxy's error page, a web app's fallback page).
    HtmlResponse,
    /// A body labelled with another media type than the step expects (or none).
    WrongContentType,
    /// A JSON body that ends in the middle (a cut connection, a wrong `Content-Length`).
    TruncatedBody,
    /// A body labelled JSON that is not JSON.
    MalformedJson,
    /// A body over [`crate::proto::http::MAX_RESPONSE_BYTES`].
    TooLarge,
    /// An HTTP redirect (3xx): no step of this protocol is answered with one.
    Redirect,
    /// A 5xx: the server (or a gateway before it) failed.
    ServerUnavailable,
    /// The browser blocked the response: the server does not allow this page's origin (CORS).
    Cors,
    /// No complete answer within `server.timeoutMs`.
    Timeout,
    /// The caller stopped the run (an `AbortSignal`).
    Aborted,
    /// The discovery document names another issuer than the configured one (RFC 8414 §3.3).
    IssuerMismatch,
    /// A token that must be a JWT (the ID token) is not one.
    NotAJwt,
}

impl Fault {
    /// The stable code JavaScript sees.
    pub fn code(self) -> &'static str {
        match self {
            Fault::HtmlResponse => "HTML_RESPONSE",
            Fault::WrongContentType => "WRONG_CONTENT_TYPE",
            Fault::TruncatedBody => "TRUNCATED_RESPONSE",
            Fault::MalformedJson => "MALFORMED_JSON",
            Fault::TooLarge => "RESPONSE_TOO_LARGE",
            Fault::Redirect => "UNEXPECTED_REDIRECT",
            Fault::ServerUnavailable => "SERVER_UNAVAILABLE",
            Fault::Cors => "CORS_BLOCKED",
            Fault::Timeout => "TIMEOUT",
            Fault::Aborted => "ABORTED",
            Fault::IssuerMismatch => "ISSUER_MISMATCH",
            Fault::NotAJwt => "NOT_A_JWT",
        }
    }
}

/// How much of a response body an error's evidence keeps (characters).
pub const EVIDENCE_BODY_CHARS: usize = 2048;

/// What a failed exchange left to look at: the status, the headers and the body as far as they
/// arrived. In JSON the body is redacted and cut to [`EVIDENCE_BODY_CHARS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The response headers.
    pub headers: crate::proto::http::Headers,
    /// The body (as far as it arrived).
    pub body: String,
    /// How many body bytes arrived, when more than `body` holds.
    pub received_bytes: Option<u64>,
    /// `Retry-After`, in seconds from when the response arrived.
    pub retry_after_secs: Option<u64>,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// The time allowed, for a timeout.
    pub timeout_ms: Option<u64>,
}

impl Evidence {
    /// The evidence of a whole response.
    pub fn of(resp: &crate::proto::http::HttpResponse) -> Evidence {
        Evidence {
            status: Some(resp.status),
            headers: resp.headers.clone(),
            body: resp.body.clone(),
            location: resp.header("location").map(str::to_owned),
            ..Evidence::default()
        }
    }

    /// `{status, headers, body, bodyBytes, truncated}`: headers and body redacted as the trace
    /// redacts a response, the body cut to [`EVIDENCE_BODY_CHARS`].
    pub fn to_json(&self) -> serde_json::Value {
        let resp = crate::proto::http::HttpResponse { status: self.status.unwrap_or(0), headers: self.headers.clone(), body: self.body.clone() };
        let shown = crate::proto::redact::redacted(None, Some(&resp));
        let body = shown["response"]["body"].as_str().unwrap_or("").to_owned();
        let bytes = self.received_bytes.unwrap_or(self.body.len() as u64);
        let cut = body.chars().count() > EVIDENCE_BODY_CHARS;
        let body: String = body.chars().take(EVIDENCE_BODY_CHARS).collect();
        serde_json::json!({
            "status": self.status,
            "headers": shown["response"]["headers"],
            "body": body,
            "bodyBytes": bytes,
            "truncated": cut || bytes > self.body.len() as u64,
        })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = self.to_json();
        if let Error::Server { body, .. }
        | Error::UnexpectedStatus { body, .. }
        | Error::InvalidResponse { body, .. }
        | Error::Problem { body, .. }
        | Error::Haapi { body, .. } = self
        {
            v["body"] = crate::proto::redact::redacted_body(body).into();
        }
        write!(f, "Error({v})")
    }
}

fn list_destinations(d: &[Destination]) -> String {
    if d.is_empty() {
        return "its issuer's origin".into();
    }
    d.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn list(problems: &[ConfigProblem]) -> String {
    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
}

impl Error {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "CONFIG_INVALID",
            Error::Server { .. } => "OAUTH_SERVER_ERROR",
            Error::UnexpectedStatus { .. } => "UNEXPECTED_STATUS",
            Error::InvalidResponse { .. } => "INVALID_RESPONSE",
            Error::Transport { .. } => "TRANSPORT_ERROR",
            Error::DestinationChanged { .. } => "CREDENTIAL_DESTINATION_CHANGED",
            Error::Problem { .. } => "HAAPI_PROBLEM",
            Error::Haapi { failure, .. } => failure.code(),
            Error::Exchange { fault, .. } => fault.code(),
            Error::Crypto(_) => "CRYPTO_ERROR",
            Error::Storage(_) => "STORAGE_ERROR",
            Error::State(_) => "FLOW_STATE",
        }
    }

    /// The step the error belongs to, when it belongs to one.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::Server { step, .. } | Error::UnexpectedStatus { step, .. } | Error::InvalidResponse { step, .. } | Error::Transport { step, .. } => {
                Some(*step)
            }
            Error::DestinationChanged { .. } => Some(Step::HaapiToken),
            Error::Problem { step, .. } | Error::Haapi { step, .. } | Error::Exchange { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// The HTTP status, when a response caused the error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Server { status, .. } | Error::UnexpectedStatus { status, .. } | Error::InvalidResponse { status, .. } | Error::Problem { status, .. } => {
                Some(*status)
            }
            Error::Haapi { status, .. } => *status,
            Error::Exchange { evidence, .. } => evidence.status,
            _ => None,
        }
    }

    /// The server's OAuth `error` code, when there is one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self {
            Error::Server { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The evidence as JSON (what the trace and JavaScript get).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        if let Some(step) = self.step() {
            v["step"] = step.name().into();
        }
        if let Some(status) = self.status() {
            v["status"] = status.into();
        }
        if let Some(e) = self.oauth_error() {
            v["error"] = e.error.clone().into();
            if let Some(d) = &e.error_description {
                v["errorDescription"] = d.clone().into();
            }
        }
        if let Error::Config(problems) = self {
            v["problems"] = super::config::problems_json(problems);
        }
        if let Error::Problem { problem, title, body, .. } = self {
            v["problem"] = problem.clone().into();
            v["title"] = title.clone().into();
            if let Ok(representation) = crate::proto::json::parse(body) {
                v["representation"] = representation;
            }
        }
        if let Error::Exchange { evidence, .. } = self {
            v["evidence"] = evidence.to_json();
            if let Some(secs) = evidence.retry_after_secs {
                v["retryAfter"] = secs.into();
            }
            if let Some(location) = &evidence.location {
                v["location"] = location.clone().into();
            }
            if let Some(ms) = evidence.timeout_ms {
                v["timeoutMs"] = ms.into();
            }
        }
        if let Error::DestinationChanged { client_id, registered_at, requested } = self {
            v["clientId"] = client_id.clone().into();
            v["registeredAt"] = registered_at.iter().map(Destination::to_json).collect();
            v["requested"] = requested.to_json();
        }
        v
    }
}

impl From<crate::proto::jose::JoseError> for Error {
    fn from(e: crate::proto::jose::JoseError) -> Self {
        Error::Crypto(e.to_string())
    }
}
impl From<crate::proto::jose::KeyError> for Error {
    fn from(e: crate::proto::jose::KeyError) -> Self {
        Error::Crypto(e.to_string())
    }
}
