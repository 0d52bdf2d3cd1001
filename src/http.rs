//! Plain HTTP values. The flow emits [`HttpRequest`]s and consumes [`HttpResponse`]s; whoever holds
//! them (browser `fetch`, a test closure, the simulator) does the sending.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Header fields in order, names compared case-insensitively (RFC 9110 §5.1). Serialised as a JSON
/// object (`{"content-type": "…"}`), names lowercased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }
    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Sets `name` to `value`, replacing earlier values.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }
    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    /// Iterates over `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
    /// Mutable access to each value (for redaction).
    pub fn values_mut(&mut self) -> impl Iterator<Item = (&str, &mut String)> {
        self.0.iter_mut().map(|(n, v)| (n.as_str(), v))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.set(&n.into(), v);
        }
        h
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in &self.0 {
            map.serialize_entry(n, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        Ok(map.into_iter().collect())
    }
}

/// An HTTP request as the flow builds it. `Debug` prints it redacted as the trace exports it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The absolute URL the request is sent to (after `sendVia` rewriting).
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: Headers,
    /// The body, if any (form-encoded or JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The client certificate chain (PEM, leaf first) presented in the TLS handshake, for mutual
    /// TLS (RFC 8705). The simulator verifies it as its TLS layer would; a browser transport cannot
    /// choose a certificate (the browser does) and reports that instead of ignoring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
}

/// `application/x-www-form-urlencoded`.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// `application/json`.
pub const JSON: &str = "application/json";

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        HttpRequest { method: method.to_owned(), url: url.into(), headers: Headers::new(), body: None, client_certificate: None }
    }
    /// A `POST` with a form-encoded body (RFC 6749 §3.2).
    pub fn form(url: impl Into<String>, params: &[(&str, &str)]) -> Self {
        let mut r = HttpRequest::new("POST", url);
        r.headers.set("content-type", FORM);
        r.body = Some(encode_form(params.iter().copied()));
        r
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
    /// The form-encoded body's parameters, decoded.
    pub fn form_params(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.body.as_deref().unwrap_or("").as_bytes()).into_owned().collect()
    }
    /// One form parameter (the first of that name).
    pub fn form_param(&self, name: &str) -> Option<String> {
        self.form_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
    /// Adds or replaces a form parameter.
    pub fn set_form_param(&mut self, name: &str, value: &str) {
        let mut params: Vec<(String, String)> = self.form_params().into_iter().filter(|(k, _)| k != name).collect();
        params.push((name.to_owned(), value.to_owned()));
        self.body = Some(encode_form(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
}

/// Encodes form parameters (`application/x-www-form-urlencoded`).
pub fn encode_form<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// An HTTP response as the transport hands it back. `Debug` prints it redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: Headers,
    /// The body as text (every body in this protocol is JSON or empty).
    #[serde(default)]
    pub body: String,
}

impl HttpResponse {
    /// A response with a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        let mut headers = Headers::new();
        headers.set("content-type", JSON);
        headers.set("cache-control", "no-store");
        HttpResponse { status, headers, body: body.to_string() }
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
    /// The media type of the body, lowercased, without parameters (RFC 9110 §8.3.1).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
    /// The body parsed as a JSON object, if it is one.
    pub fn json_object(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_str(&self.body) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpRequest {}", crate::trace::redacted(Some(self), None)["request"])
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpResponse {}", crate::trace::redacted(None, Some(self))["response"])
    }
}

/// Reads one parameter of a `WWW-Authenticate` challenge (RFC 9110 §11.6.1), e.g. `error`.
pub fn challenge_param(header: &str, name: &str) -> Option<String> {
    let mut rest = header;
    while let Some(pos) = rest.find(name) {
        let before_ok = pos == 0 || matches!(rest.as_bytes()[pos - 1], b' ' | b',' | b'\t');
        let after = &rest[pos + name.len()..];
        let after = after.trim_start();
        if before_ok && after.starts_with('=') {
            let value = after[1..].trim_start();
            return Some(if let Some(quoted) = value.strip_prefix('"') {
                quoted.split('"').next().unwrap_or("").to_owned()
            } else {
                value.split([',', ' ']).next().unwrap_or("").to_owned()
            });
        }
        rest = &rest[pos + name.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive_and_serialise_as_an_object() {
        let mut h = Headers::new();
        h.set("Content-Type", "a");
        h.set("content-type", "b");
        assert_eq!(h.get("CONTENT-TYPE"), Some("b"));
        assert_eq!(serde_json::to_string(&h).unwrap(), r#"{"content-type":"b"}"#);
    }

    #[test]
    fn form_round_trip_encodes_reserved_characters() {
        let mut r = HttpRequest::form("https://as/token", &[("a", "x y&z"), ("b", "1")]);
        assert_eq!(r.body.as_deref(), Some("a=x+y%26z&b=1"));
        r.set_form_param("a", "2");
        assert_eq!(r.form_param("a").as_deref(), Some("2"));
        assert_eq!(r.form_param("b").as_deref(), Some("1"));
    }

    #[test]
    fn debug_output_is_redacted() {
        let mut r = HttpRequest::form("https://as/token", &[("client_secret", "Password1"), ("scope", "dcr")]);
        r.headers.set("authorization", "Basic aGVsbG86d29ybGQ=");
        let text = format!("{r:?}");
        assert!(!text.contains("Password1") && !text.contains("aGVsbG86d29ybGQ"), "{text}");
        assert!(text.contains("scope=dcr"));
        let resp = HttpResponse::json(201, &serde_json::json!({ "client_id": "c", "client_secret": "s3cr3t" }));
        assert!(!format!("{resp:?}").contains("s3cr3t"));
    }

    #[test]
    fn challenge_params() {
        let h = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256""#;
        assert_eq!(challenge_param(h, "error").as_deref(), Some("use_dpop_nonce"));
        assert_eq!(challenge_param(h, "algs").as_deref(), Some("ES256"));
        assert_eq!(challenge_param("Bearer realm=x, error=invalid_token", "error").as_deref(), Some("invalid_token"));
        assert_eq!(challenge_param("Bearer", "error"), None);
    }
}
