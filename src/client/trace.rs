//! The trace: every step's request, response, decoded JWTs, purpose, timing and error, for the page
//! to show and for QA to read. Stored in full; redacted when exported unless revealed on purpose.
//!
//! Default redaction (docs/design.md): secrets and private keys become `[redacted]`; tokens and
//! assertions keep header and claims but lose their signature (`header.payload.[redacted]`), so an
//! exported trace can go into a bug report and cannot be replayed.

use super::flow::text;
use crate::proto::http::{HttpRequest, HttpResponse};
use crate::proto::jose;
use crate::proto::redact::redact_pair;
use crate::proto::secret::{Secret, REDACTED};
use crate::proto::step::Step;
use serde_json::{json, Value};

/// How a step ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok,
    /// Failed (the error says why).
    Failed,
    /// Not needed in this run (the explanation says why).
    Skipped,
}

impl Status {
    /// `ok`, `failed` or `skipped`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One HTTP exchange that a step retried after (e.g. a `use_dpop_nonce` challenge).
#[derive(Clone, Debug)]
pub struct Retry {
    /// Why the request was sent again.
    pub reason: String,
    /// The first request.
    pub request: HttpRequest,
    /// The answer that caused the retry.
    pub response: HttpResponse,
}

/// One step of a run.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// The step's name (src/proto/step.rs).
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
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Steps in the order they ran.
    pub steps: Vec<TraceStep>,
    /// What the run noticed about its configuration (fields it ignored).
    pub notes: Vec<String>,
    /// Why a run could not start at all (a refused configuration): `{code, message, problems}`.
    pub error: Option<Value>,
    /// Values that are secret wherever they appear ([`Trace::keep_secret`]).
    pub secrets: Vec<Secret>,
}

/// The shortest value [`Trace::keep_secret`] scrubs by value (shorter ones would blank out
/// unrelated text); redaction by field name covers every length.
pub const MIN_SCRUBBED_LEN: usize = 4;

fn scrub_value(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for x in secrets {
                if s.contains(x.as_str()) {
                    *s = s.replace(x.as_str(), REDACTED);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(x, secrets)),
        Value::Object(m) => m.values_mut().for_each(|x| scrub_value(x, secrets)),
        _ => {}
    }
}

impl TraceStep {
    /// A new step record.
    pub fn new(name: Step, status: Status) -> Self {
        TraceStep {
            name,
            status,
            purpose: text::purpose(name),
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
        let mut v = json!({
            "name": self.name.name(),
            "status": self.status.name(),
            "purpose": self.purpose,
            "notes": self.notes,
            "request": self.request.as_ref().map(HttpRequest::to_json),
            "response": self.response.as_ref().map(HttpResponse::to_json),
            "retries": self.retries.iter().map(|r| json!({ "reason": r.reason, "request": r.request.to_json(), "response": r.response.to_json() })).collect::<Vec<_>>(),
            "error": self.error,
            "startedAt": self.started_at,
            "durationMs": self.duration_ms,
        });
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
        let mut v = json!({ "steps": self.steps.iter().map(|s| s.to_json(reveal)).collect::<Vec<_>>(), "redacted": !reveal });
        if !self.notes.is_empty() {
            v["notes"] = json!(self.notes);
        }
        if let Some(e) = &self.error {
            v["error"] = e.clone();
        }
        if !reveal {
            self.scrub(&mut v);
        }
        v
    }

    /// Remembers a value that is secret wherever it appears (a configured client secret or key,
    /// a password typed into a form): the redacted trace, and everything passed to
    /// [`Trace::scrub`], never shows it, whatever field or header carries it. Values shorter than
    /// [`MIN_SCRUBBED_LEN`] are left to the redaction by field name.
    pub fn keep_secret(&mut self, value: Option<&str>) {
        if let Some(v) = value.filter(|v| v.chars().count() >= MIN_SCRUBBED_LEN) {
            if !self.secrets.iter().any(|s| s.expose() == v) {
                self.secrets.push(Secret::new(v));
            }
        }
    }

    /// Replaces every secret this trace knows of ([`Trace::keep_secret`]) in the strings of `v`
    /// (as it is, form-encoded, or JSON-escaped) with `[redacted]`: for a run result or anything
    /// else shown beside the redacted trace.
    pub fn scrub(&self, v: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        let mut forms: Vec<String> = Vec::new();
        for s in &self.secrets {
            let raw = s.expose();
            forms.push(raw.to_owned());
            let encoded = crate::proto::http::encode_form([("", raw)]);
            forms.push(encoded.trim_start_matches('=').to_owned());
            let escaped = Value::String(raw.to_owned()).to_string();
            forms.push(escaped[1..escaped.len() - 1].to_owned());
        }
        // Longest first (a secret inside another is replaced after it), equal ones side by side
        // for dedup. A few dozen strings at most: an insertion sort, not the standard library's
        // (about 6 KB of WebAssembly for this one call).
        for i in 1..forms.len() {
            let mut j = i;
            while j > 0 && (forms[j].len(), &forms[j - 1]) > (forms[j - 1].len(), &forms[j]) {
                forms.swap(j - 1, j);
                j -= 1;
            }
        }
        forms.dedup();
        scrub_value(v, &forms);
    }

    /// The trace of a run that could not start: no steps, the error at the top.
    pub fn refused(error: Value) -> Trace {
        Trace { error: Some(error), ..Trace::default() }
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
    if req.header("content-type").is_some_and(|c| c.starts_with(crate::proto::http::FORM)) {
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
    if let Ok(Value::Object(m)) = crate::proto::json::parse(body) {
        for (k, v) in m {
            if let Value::String(s) = v {
                if jose::looks_like_jwt(&s) {
                    out.push((format!("{prefix}.{k}"), s));
                }
            }
        }
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
        let trace = Trace { steps: vec![step], ..Trace::default() };
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

    #[test]
    fn scrub_replaces_the_longest_secret_first_and_every_form_of_it() {
        let mut trace = Trace::default();
        // Added shortest first: "abcd" inside "abcd efgh" must not leave " efgh" behind.
        trace.keep_secret(Some("abcd"));
        trace.keep_secret(Some("abcd efgh"));
        trace.keep_secret(Some("abcd"));
        trace.keep_secret(Some("q\"uo"));
        let mut v = json!({"a": "x abcd efgh y", "b": ["abcd+efgh", "abcd"], "c": {"d": "q\\\"uo and q\"uo"}});
        trace.scrub(&mut v);
        assert_eq!(v, json!({"a": "x [redacted] y", "b": ["[redacted]", "[redacted]"], "c": {"d": "[redacted] and [redacted]"}}));
    }
}
