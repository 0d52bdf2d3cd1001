//! The trace: every step's request, response, decoded JWTs, purpose, timing and error, for the page
//! to show and for QA to read. Stored in full; redacted when exported unless revealed on purpose.
//!
//! Default redaction (DESIGN.md): secrets and private keys become `[redacted]`; tokens and
//! assertions keep header and claims but lose their signature (`header.payload.[redacted]`), so an
//! exported trace can go into a bug report and cannot be replayed.

use crate::flow::Step;
use crate::http::{HttpRequest, HttpResponse};
use crate::jose;
use crate::secret::REDACTED;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How a step ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Done.
    Ok,
    /// Failed (the error says why).
    Failed,
    /// Not needed in this run (the explanation says why).
    Skipped,
}

/// One HTTP exchange that a step retried after (e.g. a `use_dpop_nonce` challenge).
#[derive(Clone, Debug, Serialize)]
pub struct Retry {
    /// Why the request was sent again.
    pub reason: String,
    /// The first request.
    pub request: HttpRequest,
    /// The answer that caused the retry.
    pub response: HttpResponse,
}

/// One step of a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceStep {
    /// The step's name (DESIGN.md).
    pub name: Step,
    /// How it ended.
    pub status: Status,
    /// Why this step exists, in one sentence.
    pub purpose: &'static str,
    /// What happened in this run, in plain words.
    pub notes: Vec<String>,
    /// The request sent (the last one, after retries).
    pub request: Option<HttpRequest>,
    /// The response received.
    pub response: Option<HttpResponse>,
    /// Earlier exchanges of this step.
    pub retries: Vec<Retry>,
    /// The error, with its evidence.
    pub error: Option<Value>,
    /// When the step started (ms since the epoch, from the caller's clock).
    pub started_at: Option<u64>,
    /// How long it took, in ms.
    pub duration_ms: Option<u64>,
}

/// The whole trace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    /// Steps in the order they ran.
    pub steps: Vec<TraceStep>,
}

impl TraceStep {
    /// A new step record.
    pub fn new(name: Step, status: Status) -> Self {
        TraceStep {
            name,
            status,
            purpose: name.purpose(),
            notes: vec![],
            request: None,
            response: None,
            retries: vec![],
            error: None,
            started_at: None,
            duration_ms: None,
        }
    }

    fn to_json(&self, reveal: bool) -> Value {
        let mut v = serde_json::to_value(self).expect("a trace step serialises");
        let mut jwts = vec![];
        if let Some(req) = &self.request {
            collect_request_jwts(req, &mut jwts);
        }
        if let Some(resp) = &self.response {
            collect_body_jwts("response.body", &resp.body, &mut jwts);
        }
        v["jwts"] = Value::Array(jwts.into_iter().map(|(at, token)| decoded(at, &token, reveal)).collect());
        if !reveal {
            redact_pair(&mut v);
            if let Some(retries) = v["retries"].as_array_mut() {
                retries.iter_mut().for_each(redact_pair);
            }
        }
        v
    }
}

impl Trace {
    /// The trace as JSON: `{"steps": [...]}`, redacted unless `reveal`.
    pub fn to_json(&self, reveal: bool) -> Value {
        json!({ "steps": self.steps.iter().map(|s| s.to_json(reveal)).collect::<Vec<_>>(), "redacted": !reveal })
    }

    /// The last record of `step`, if it ran.
    pub fn last(&self, step: Step) -> Option<&TraceStep> {
        self.steps.iter().rev().find(|s| s.name == step)
    }
}

fn decoded(at: String, token: &str, reveal: bool) -> Value {
    match jose::decode_unverified(token) {
        Ok(d) => json!({
            "at": at,
            "header": d.header,
            "claims": d.claims,
            "signature": if reveal { Value::String(d.signature) } else { Value::String(REDACTED.into()) },
        }),
        Err(e) => json!({ "at": at, "error": e.to_string() }),
    }
}

fn collect_request_jwts(req: &HttpRequest, out: &mut Vec<(String, String)>) {
    for (name, value) in req.headers.iter() {
        let candidate = value.split_once(' ').map(|(_, t)| t).unwrap_or(value);
        if jose::looks_like_jwt(candidate) {
            out.push((format!("request.headers.{name}"), candidate.to_owned()));
        }
    }
    if req.header("content-type").is_some_and(|c| c.starts_with(crate::http::FORM)) {
        for (k, v) in req.form_params() {
            if jose::looks_like_jwt(&v) {
                out.push((format!("request.body.{k}"), v));
            }
        }
    } else if let Some(body) = &req.body {
        collect_body_jwts("request.body", body, out);
    }
}

fn collect_body_jwts(prefix: &str, body: &str, out: &mut Vec<(String, String)>) {
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(body) {
        for (k, v) in m {
            if let Value::String(s) = v {
                if jose::looks_like_jwt(&s) {
                    out.push((format!("{prefix}.{k}"), s));
                }
            }
        }
    }
}

/// Fields whose values are secrets wherever they appear.
const SECRET_FIELDS: [&str; 6] = ["client_secret", "password", "registration_access_token", "code_verifier", "private_key", "d"];
/// Fields whose values are tokens: JWTs lose their signature, opaque tokens are redacted.
const TOKEN_FIELDS: [&str; 5] = ["access_token", "refresh_token", "id_token", "client_assertion", "token"];

fn redact_token(value: &str) -> String {
    if jose::looks_like_jwt(value) {
        jose::redact_signature(value)
    } else {
        REDACTED.to_owned()
    }
}

/// `{"request": …, "response": …}` with the default redaction (for `Debug` output).
pub(crate) fn redacted(request: Option<&HttpRequest>, response: Option<&HttpResponse>) -> Value {
    let mut v = json!({ "request": request, "response": response });
    redact_pair(&mut v);
    v
}

/// A response body (JSON or not) with the default redaction.
pub(crate) fn redacted_body(body: &str) -> String {
    redact_json_text(body)
}

/// Redacts the `request` and `response` members of an object.
fn redact_pair(v: &mut Value) {
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
        let is_form = req.get("headers").and_then(|h| h.get("content-type")).and_then(Value::as_str).is_some_and(|c| c.starts_with(crate::http::FORM));
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
    crate::http::encode_form(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).replace("%5Bredacted%5D", REDACTED)
}

fn redact_json_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_secrets_and_signatures_but_keeps_claims() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        let mut step = TraceStep::new(Step::DcrToken, Status::Ok);
        let mut req = HttpRequest::form("https://as/token", &[("client_secret", "Password1"), ("client_assertion", jwt), ("scope", "dcr")]);
        req.headers.set("authorization", "Basic aGVsbG86d29ybGQ=");
        step.request = Some(req);
        step.response = Some(HttpResponse::json(201, &json!({"client_id": "c", "client_secret": "s3cr3t", "access_token": "opaque"})));
        let trace = Trace { steps: vec![step] };
        let text = trace.to_json(false).to_string();
        for secret in ["Password1", "s3cr3t", "opaque", "aGVsbG86d29ybGQ", ".c2ln"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.[redacted]"));
        assert!(text.contains("scope=dcr"));
        let revealed = trace.to_json(true).to_string();
        assert!(revealed.contains("Password1") && revealed.contains("s3cr3t") && revealed.contains(".c2ln"));
        assert_eq!(trace.to_json(false)["steps"][0]["jwts"][0]["claims"]["sub"], "a");
    }
}
