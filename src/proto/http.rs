//! Plain HTTP values. The flow emits [`HttpRequest`]s and consumes [`HttpResponse`]s; whoever holds
//! them (browser `fetch`, a test closure, the simulator) does the sending.

use serde_json::Value;

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

impl Headers {
    /// As a JSON object of names to values (a repeated header: an array of its values).
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (n, v) in &self.0 {
            match map.get_mut(n) {
                None => {
                    map.insert(n.clone(), Value::String(v.clone()));
                }
                Some(Value::Array(a)) => a.push(Value::String(v.clone())),
                Some(first) => *first = Value::Array(vec![first.take(), Value::String(v.clone())]),
            }
        }
        Value::Object(map)
    }
}

impl Headers {
    /// From a JSON object of names to values (an array of values for a repeated header).
    pub fn from_json(v: &Value) -> Result<Headers, String> {
        let mut h = Headers::new();
        let Value::Object(map) = v else { return Err("headers must be an object of names to values".into()) };
        for (name, value) in map {
            match value {
                Value::String(s) => h.0.push((name.to_ascii_lowercase(), s.clone())),
                Value::Array(values) => {
                    for one in values {
                        let s = one.as_str().ok_or_else(|| format!("header {name:?}: each value must be a string"))?;
                        h.0.push((name.to_ascii_lowercase(), s.to_owned()));
                    }
                }
                _ => return Err(format!("header {name:?} must be a string")),
            }
        }
        Ok(h)
    }
}

fn member<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("{what} has no \"{name}\""))
}

fn opt_string(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{name}\" must be a string")),
    }
}

/// An HTTP request as the flow builds it. `Debug` prints it redacted as the trace exports it.
///
/// Two URLs, because where a request is sent is not what the server calls itself (docs/design.md):
/// `url` is where it goes (a same-origin proxy with `sendVia`), `server_url` the server's own
/// URL for it, which DPoP `htu`, assertion `aud` and the DPoP nonce memory use.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The absolute URL the request is sent to (after `sendVia` rewriting).
    pub url: String,
    /// The server's own URL for this request (equal to `url` without `sendVia`).
    pub server_url: String,
    /// Request headers.
    pub headers: Headers,
    /// The body, if any (form-encoded or JSON text).
    pub body: Option<String>,
    /// The client certificate chain (PEM, leaf first) presented in the TLS handshake, for mutual
    /// TLS (RFC 8705). The simulator verifies it as its TLS layer would; a browser transport cannot
    /// choose a certificate (the browser does) and reports that instead of ignoring it.
    pub client_certificate: Option<String>,
}

/// `application/x-www-form-urlencoded`.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// `application/json`.
pub const JSON: &str = "application/json";

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        let url = url.into();
        HttpRequest { method: method.to_owned(), server_url: url.clone(), url, headers: Headers::new(), body: None, client_certificate: None }
    }
    /// Its JSON form: `{method, url, serverUrl, headers, body?, clientCertificate?}`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("method".into(), Value::String(self.method.clone()));
        m.insert("url".into(), Value::String(self.url.clone()));
        m.insert("serverUrl".into(), Value::String(self.server_url.clone()));
        m.insert("headers".into(), self.headers.to_json());
        if let Some(b) = &self.body {
            m.insert("body".into(), Value::String(b.clone()));
        }
        if let Some(c) = &self.client_certificate {
            m.insert("clientCertificate".into(), Value::String(c.clone()));
        }
        Value::Object(m)
    }
    /// From its JSON form (as the simulator module receives it).
    pub fn from_json(v: &Value) -> Result<HttpRequest, String> {
        let text = |name: &str| member(v, name, "a request").and_then(|m| m.as_str().map(str::to_owned).ok_or_else(|| format!("\"{name}\" must be a string")));
        let url = text("url")?;
        Ok(HttpRequest {
            method: text("method")?,
            server_url: opt_string(v, "serverUrl")?.unwrap_or_else(|| url.clone()),
            url,
            headers: v.get("headers").map(Headers::from_json).transpose()?.unwrap_or_default(),
            body: opt_string(v, "body")?,
            client_certificate: opt_string(v, "clientCertificate")?,
        })
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
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// The body as text (every body in this protocol is JSON or empty).
    pub body: String,
}

impl HttpResponse {
    /// Its JSON form: `{status, headers, body}`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("status".into(), Value::from(self.status));
        m.insert("headers".into(), self.headers.to_json());
        m.insert("body".into(), Value::String(self.body.clone()));
        Value::Object(m)
    }
    /// From its JSON form (`{status, headers, body}`, as `fetch` and the simulator module give it).
    pub fn from_json(v: &Value) -> Result<HttpResponse, String> {
        let status = member(v, "status", "a response")?.as_u64().filter(|s| *s <= 999).ok_or("\"status\" must be an HTTP status code")? as u16;
        Ok(HttpResponse {
            status,
            headers: v.get("headers").map(Headers::from_json).transpose()?.unwrap_or_default(),
            body: opt_string(v, "body")?.unwrap_or_default(),
        })
    }
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
        match crate::proto::json::parse(&self.body) {
            Ok(serde_json::Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}

/// The most bytes of a response body a transport reads (1 MiB): every answer in this protocol
/// is a few kilobytes, so a larger one is a broken or hostile server, not data to keep.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How a request got no complete response (what the transport could tell).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The connection failed: refused, reset, DNS, TLS, or a network error the platform does
    /// not explain.
    Network,
    /// A browser blocked the response: the server is reachable but does not allow this origin
    /// (CORS).
    Cors,
    /// No complete answer within the time allowed (`server.timeoutMs`).
    Timeout,
    /// The caller stopped the run (an `AbortSignal`).
    Aborted,
    /// The body is larger than [`MAX_RESPONSE_BYTES`]; what arrived is in `partial`.
    TooLarge,
    /// The connection closed in the middle of the body; what arrived is in `partial`.
    Truncated,
    /// The server answered with an HTTP redirect the platform would not show (a browser's
    /// opaque redirect: no status, no `Location`).
    Redirect,
}

impl TransportErrorKind {
    /// Its name in the JSON form (`network`, `cors`, …).
    pub fn name(self) -> &'static str {
        match self {
            TransportErrorKind::Network => "network",
            TransportErrorKind::Cors => "cors",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Aborted => "aborted",
            TransportErrorKind::TooLarge => "too-large",
            TransportErrorKind::Truncated => "truncated",
            TransportErrorKind::Redirect => "redirect",
        }
    }
    /// From its name; an unknown name is [`TransportErrorKind::Network`].
    pub fn from_name(name: &str) -> TransportErrorKind {
        match name {
            "cors" => TransportErrorKind::Cors,
            "timeout" => TransportErrorKind::Timeout,
            "aborted" => TransportErrorKind::Aborted,
            "too-large" => TransportErrorKind::TooLarge,
            "truncated" => TransportErrorKind::Truncated,
            "redirect" => TransportErrorKind::Redirect,
            _ => TransportErrorKind::Network,
        }
    }
}

/// A request that got no complete response, with what the transport saw of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// What the transport reported, in words.
    pub message: String,
    /// What arrived before it failed (status, headers, the body so far), if anything did.
    pub partial: Option<HttpResponse>,
    /// How many body bytes arrived (more than `partial.body` holds when the body was cut).
    pub received_bytes: Option<u64>,
    /// The time allowed, for a timeout.
    pub timeout_ms: Option<u64>,
}

impl TransportError {
    /// A failure of `kind` with nothing received.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError { kind, message: message.into(), partial: None, received_bytes: None, timeout_ms: None }
    }
    /// A network failure (what a plain `Err(String)` from a transport means).
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Network, message)
    }

    /// From its JSON form, as the browser transport reports it: `{kind, message, partial?:
    /// {status, headers, body}, receivedBytes?, timeoutMs?}`.
    pub fn from_json(v: &Value) -> TransportError {
        TransportError {
            kind: TransportErrorKind::from_name(v.get("kind").and_then(Value::as_str).unwrap_or("network")),
            message: v.get("message").and_then(Value::as_str).unwrap_or("the request failed").to_owned(),
            partial: v.get("partial").and_then(|p| HttpResponse::from_json(p).ok()),
            received_bytes: v.get("receivedBytes").and_then(Value::as_u64),
            timeout_ms: v.get("timeoutMs").and_then(Value::as_u64),
        }
    }
}

impl From<String> for TransportError {
    fn from(message: String) -> Self {
        TransportError::network(message)
    }
}

impl From<&str> for TransportError {
    fn from(message: &str) -> Self {
        TransportError::network(message)
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// True when `body` is (the start of) an HTML document rather than JSON.
pub fn looks_like_html(body: &str) -> bool {
    let start: String = body.trim_start_matches('\u{feff}').trim_start().chars().take(15).collect::<String>().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head") || start.starts_with("<body") || start.starts_with("<!--")
}

/// An HTML document's `<title>`, trimmed and shortened, if it has one.
pub fn html_title(body: &str) -> Option<String> {
    let head: String = body.chars().take(8192).collect();
    let lower = head.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title: String = head[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then(|| title.chars().take(120).collect())
}

/// Reads `Retry-After` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date as seconds from `now`
/// (0 when it is already past). `None` when absent or unreadable.
pub fn retry_after_secs(value: &str, now: crate::proto::clock::Timestamp) -> Option<u64> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().ok();
    }
    http_date(v).map(|at| at.saturating_sub(now.secs()))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) as seconds since the epoch.
fn http_date(v: &str) -> Option<u64> {
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: u64 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].iter().position(|m| m == month)? as u64 + 1;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else { return None };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), for years from 1970.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpRequest {}", super::redact::redacted(Some(self), None)["request"])
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpResponse {}", super::redact::redacted(None, Some(self))["response"])
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
        assert_eq!(h.to_json().to_string(), r#"{"content-type":"b"}"#);
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
    fn html_is_recognised_and_its_title_read() {
        assert!(looks_like_html("\n  <!DOCTYPE html><html><head><title> 502  Bad\n Gateway</title>"));
        assert!(looks_like_html("<HTML><body>oops</body></HTML>"));
        assert!(!looks_like_html("{\"error\": \"<html>\"}"));
        assert_eq!(html_title("<html><head><TITLE> 502  Bad\n Gateway</TITLE></head>").as_deref(), Some("502 Bad Gateway"));
        assert_eq!(html_title("<html><body>no title</body></html>"), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = crate::proto::clock::Timestamp::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after_secs("120", now), Some(120));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:51:37 GMT", now), Some(120));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:40:00 GMT", now), Some(0), "a date already past: retry now");
        assert_eq!(retry_after_secs("soon", now), None);
        assert_eq!(retry_after_secs("Sun, 06 Foo 1994 08:51:37 GMT", now), None);
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
