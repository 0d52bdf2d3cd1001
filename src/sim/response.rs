//! Error and success responses: the JSON error body of RFC 6749 §5.2 (also used by RFC 7591
//! §3.2.2 and RFC 9449), with the status and `WWW-Authenticate` challenge each case needs.

use crate::proto::http::{Headers, HttpResponse};
use serde_json::{json, Value};

/// An error the simulator answers with: `{"error", "error_description"}` (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SimError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// `WWW-Authenticate` challenge, built by [`Challenge`].
    pub challenge: Option<Challenge>,
    /// Extra headers (`DPoP-Nonce`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// A HAAPI problem body (RFC 7807, `application/problem+json`) instead of an OAuth error.
    pub problem: Option<Box<Value>>,
}

/// A `WWW-Authenticate` challenge (RFC 9110 §11.6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="…"` (RFC 7617 §2), for `invalid_client` after Basic (RFC 6749 §5.2).
    Basic,
    /// `Bearer realm="…", error="…"` (RFC 6750 §3).
    Bearer,
    /// `DPoP error="…", algs="…"` (RFC 9449 §7.1).
    DPoP { algs: String },
}

impl SimError {
    /// An error with no challenge.
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        SimError { status, error, description: description.into(), challenge: None, headers: Vec::new(), problem: None }
    }
    /// A HAAPI problem (docs/protocol.md §5): `application/problem+json` with `type`
    /// `https://curity.se/problems/<name>`, `title`, and the members in `extra`.
    pub fn problem(status: u16, name: &str, title: &str, extra: Value) -> Self {
        let mut body = json!({ "type": format!("{}{name}", crate::proto::haapi::PROBLEM_PREFIX), "title": title });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let mut e = SimError::new(status, "haapi_problem", title);
        e.problem = Some(Box::new(body));
        e
    }
    /// 400 `invalid_request` (RFC 6749 §5.2).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        SimError::new(400, "invalid_request", description)
    }
    /// 401 `invalid_client` (RFC 6749 §5.2).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        SimError::new(401, "invalid_client", description)
    }
    /// 400 `invalid_scope` (RFC 6749 §5.2).
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        SimError::new(400, "invalid_scope", description)
    }
    /// 400 `invalid_client_metadata` (RFC 7591 §3.2.2).
    pub fn invalid_client_metadata(description: impl Into<String>) -> Self {
        SimError::new(400, "invalid_client_metadata", description)
    }
    /// 500 `server_error`: the settings cannot work (RFC 6749 §5.2 does not define it for the
    /// token endpoint, but §4.1.2.1 does for authorization; it says what to fix).
    pub fn server_error(description: impl Into<String>) -> Self {
        SimError::new(500, "server_error", description)
    }
    /// 401 `invalid_token` with a `Bearer` challenge (RFC 6750 §3.1).
    pub fn bearer_invalid_token(description: impl Into<String>) -> Self {
        SimError::new(401, "invalid_token", description).with_challenge(Challenge::Bearer)
    }
    /// Adds a challenge.
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }
    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The HTTP response. `realm` names the server in `Basic` and `Bearer` challenges; with
    /// `detailed` false the description is left out (Curity without
    /// `expose-detailed-error-messages`).
    pub fn to_response(&self, realm: &str, detailed: bool) -> HttpResponse {
        if let Some(problem) = &self.problem {
            let mut response = HttpResponse::json(self.status, problem);
            response.headers.set("content-type", crate::proto::haapi::PROBLEM_MEDIA_TYPE);
            for (name, value) in &self.headers {
                response.headers.set(name, value.clone());
            }
            return response;
        }
        let mut body = json!({ "error": self.error });
        if detailed {
            body["error_description"] = Value::String(self.description.clone());
        }
        let mut response = HttpResponse::json(self.status, &body);
        response.headers.set("pragma", "no-cache");
        if let Some(challenge) = &self.challenge {
            let description = if detailed { format!(", error_description=\"{}\"", quote_safe(&self.description)) } else { String::new() };
            let value = match challenge {
                Challenge::Basic => format!("Basic realm=\"{}\"", quote_safe(realm)),
                Challenge::Bearer => format!("Bearer realm=\"{}\", error=\"{}\"{description}", quote_safe(realm), self.error),
                Challenge::DPoP { algs } => format!("DPoP error=\"{}\"{description}, algs=\"{algs}\"", self.error),
            };
            response.headers.set("www-authenticate", value);
        }
        for (name, value) in &self.headers {
            response.headers.set(name, value.clone());
        }
        response
    }
}

/// Text safe inside a quoted-string (RFC 9110 §5.6.4) and within RFC 6750 §3's allowed
/// characters for `error_description` (%x20-21 / %x23-5B / %x5D-7E).
fn quote_safe(text: &str) -> String {
    text.replace('§', "section ")
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

/// A JSON success response with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749
/// §5.1, RFC 7591 §3.2.1).
pub(crate) fn json_ok(status: u16, body: &Value) -> HttpResponse {
    let mut response = HttpResponse::json(status, body);
    response.headers.set("pragma", "no-cache");
    response
}

/// A JSON response that caches are allowed to keep (discovery and JWKS are public metadata).
pub(crate) fn json_public(body: &Value) -> HttpResponse {
    let mut headers = Headers::new();
    headers.set("content-type", crate::proto::http::JSON);
    headers.set("cache-control", "public, max-age=60");
    HttpResponse { status: 200, headers, body: body.to_string() }
}
