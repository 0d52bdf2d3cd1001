//! Redaction (docs/design.md): secrets and private keys become `[redacted]`; tokens and assertions keep
//! header and claims but lose their signature (`header.payload.[redacted]`), so what is shown or
//! exported can go into a bug report and cannot be replayed. Used by the trace, by `Debug` output
//! and by the run result.

use super::http::{HttpRequest, HttpResponse};
use super::secret::REDACTED;
use serde_json::{json, Map, Value};

/// Fields whose values are secrets wherever they appear.
const SECRET_FIELDS: [&str; 6] = ["client_secret", "password", "registration_access_token", "code_verifier", "private_key", "d"];
/// Fields whose values are tokens: JWTs lose their signature, opaque tokens are redacted.
const TOKEN_FIELDS: [&str; 5] = ["access_token", "refresh_token", "id_token", "client_assertion", "token"];

fn redact_token(value: &str) -> String {
    if super::jose::looks_like_jwt(value) {
        super::jose::redact_signature(value)
    } else {
        REDACTED.to_owned()
    }
}

/// `{"request": …, "response": …}` with the default redaction (for `Debug` output).
pub fn redacted(request: Option<&HttpRequest>, response: Option<&HttpResponse>) -> Value {
    let mut v = json!({ "request": request.map(HttpRequest::to_json), "response": response.map(HttpResponse::to_json) });
    redact_pair(&mut v);
    v
}

/// A response body (JSON or not) with the default redaction.
pub fn redacted_body(body: &str) -> String {
    redact_json_text(body)
}

/// Redacts the `request` and `response` members of an object.
pub fn redact_pair(v: &mut Value) {
    let Value::Object(m) = v else { return };
    let mut req = m.remove("request").unwrap_or_default();
    let mut resp = m.remove("response").unwrap_or_default();
    redact_exchange(&mut req, &mut resp);
    m.insert("request".into(), req);
    m.insert("response".into(), resp);
}

fn redact_exchange(request: &mut Value, response: &mut Value) {
    if let Value::Object(req) = request {
        if let Some(Value::Object(headers)) = req.get_mut("headers") {
            redact_headers(headers);
        }
        let is_form = req.get("headers").and_then(|h| h.get("content-type")).and_then(Value::as_str).is_some_and(|c| c.starts_with(super::http::FORM));
        if let Some(Value::String(body)) = req.get_mut("body") {
            *body = if is_form { redact_form(body) } else { redact_json_text(body) };
        }
    }
    if let Value::Object(resp) = response {
        if let Some(Value::Object(headers)) = resp.get_mut("headers") {
            redact_headers(headers);
        }
        if let Some(Value::String(body)) = resp.get_mut("body") {
            *body = redact_json_text(body);
        }
    }
}

fn redact_headers(headers: &mut Map<String, Value>) {
    for (name, value) in headers.iter_mut() {
        let Value::String(v) = value else { continue };
        match name.as_str() {
            "authorization" => {
                *v = match v.split_once(' ') {
                    Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => format!("{scheme} {REDACTED}"),
                    Some((scheme, token)) => format!("{scheme} {}", redact_token(token)),
                    None => REDACTED.to_owned(),
                }
            }
            "dpop" => *v = redact_token(v),
            "cookie" | "set-cookie" | "session-id" | "set-session-id" => *v = REDACTED.to_owned(),
            _ => {}
        }
    }
}

fn redact_form(body: &str) -> String {
    let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .map(|(k, v)| {
            let v = if SECRET_FIELDS.contains(&k.as_str()) {
                REDACTED.to_owned()
            } else if TOKEN_FIELDS.contains(&k.as_str()) {
                redact_token(&v)
            } else {
                v
            };
            (k, v)
        })
        .collect();
    // The marker stays readable: "[redacted]" rather than "%5Bredacted%5D".
    super::http::encode_form(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).replace("%5Bredacted%5D", REDACTED)
}

fn redact_json_text(body: &str) -> String {
    match crate::proto::json::parse(body) {
        Ok(mut v) => {
            redact_json(&mut v);
            v.to_string()
        }
        Err(_) => body.to_owned(),
    }
}

fn redact_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                match val {
                    Value::String(s) if SECRET_FIELDS.contains(&k.as_str()) => *s = REDACTED.to_owned(),
                    Value::String(s) if TOKEN_FIELDS.contains(&k.as_str()) => *s = redact_token(s),
                    other => redact_json(other),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A JSON value (a run's outcome, a HAAPI representation) with the default redaction.
pub fn redact_value(v: &mut Value) {
    redact_json(v);
}
