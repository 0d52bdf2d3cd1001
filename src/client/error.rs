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
            Error::Problem { step, .. } | Error::Haapi { step, .. } => Some(*step),
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
