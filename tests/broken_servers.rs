//! Broken servers are explained, not crashed on (issue 8, point 4): each broken answer, put in
//! place of what the simulator would say at one step, ends the run with a typed error that names
//! the step, keeps the evidence (cut to a size) and leaves advice in the trace.

use haapi_lab::client::config::{Config, DEFAULT_TIMEOUT_MS};
use haapi_lab::client::error::{Error, EVIDENCE_BODY_CHARS};
use haapi_lab::client::flow::Step;
use haapi_lab::client::trace::{Status, Trace};
use haapi_lab::lab::SimLab;
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::http::{HttpRequest, HttpResponse, TransportError, TransportErrorKind, MAX_RESPONSE_BYTES};
use haapi_lab::sim::Simulator;
use serde_json::{json, Value};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

fn demo() -> Config {
    let mut v = Config::default().to_json();
    v["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
    Config::from_value(&v).unwrap()
}

fn is_discovery(r: &HttpRequest) -> bool {
    r.url.ends_with("/.well-known/openid-configuration")
}
fn is_dcr_token(r: &HttpRequest) -> bool {
    r.body.as_deref().is_some_and(|b| b.contains("scope=dcr"))
}
fn is_registration(r: &HttpRequest) -> bool {
    r.header("content-type") == Some("application/json") && r.body.as_deref().is_some_and(|b| b.contains("software_id"))
}
fn is_code_exchange(r: &HttpRequest) -> bool {
    r.body.as_deref().is_some_and(|b| b.contains("grant_type=authorization_code"))
}
fn is_authorize(r: &HttpRequest) -> bool {
    r.url.contains("/oauth-authorize")
}

fn response(status: u16, content_type: Option<&str>, body: &str) -> HttpResponse {
    let mut r = HttpResponse { status, headers: Default::default(), body: body.to_owned() };
    if let Some(t) = content_type {
        r.headers.set("content-type", t);
    }
    r
}

/// Runs the demo configuration; the request `at` picks is answered by `broken` (given what the
/// simulator would have said), every other by the simulator. Returns the error and the trace.
fn run_broken(at: fn(&HttpRequest) -> bool, mut broken: impl FnMut(HttpResponse) -> Result<HttpResponse, TransportError>) -> (Error, Trace) {
    run_broken_with(&demo(), at, &mut broken)
}

fn run_broken_with(cfg: &Config, at: fn(&HttpRequest) -> bool, broken: &mut dyn FnMut(HttpResponse) -> Result<HttpResponse, TransportError>) -> (Error, Trace) {
    let mut lab = SimLab::new(cfg, 7, NOW).unwrap();
    let mut transport = |r: &HttpRequest, sim: &mut Simulator| {
        let real = sim.handle(r, NOW);
        if at(r) {
            broken(real)
        } else {
            Ok(real)
        }
    };
    match lab.run_over(cfg, NOW, Default::default(), &mut transport, None) {
        Ok(run) => panic!("the run succeeded: {:#?}", run.trace.to_json(false)),
        Err(failure) => (failure.error, failure.trace),
    }
}

/// The error's code and step, the trace's last step failed with that error and advice.
fn assert_explained(e: &Error, trace: &Trace, code: &str, step: Step, advice: &str) -> Value {
    assert_eq!((e.code(), e.step()), (code, Some(step)), "{e}");
    let last = trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (step, Status::Failed));
    assert_eq!(last.error.as_ref().unwrap()["code"], code);
    assert!(last.notes.iter().any(|n| n.contains(advice)), "advice {advice:?} not in {:#?}", last.notes);
    e.to_json()
}

#[test]
fn an_html_error_page_at_discovery() {
    let page = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>".to_owned() + &"<p>nothing here</p>".repeat(500) + "</body></html>";
    let (e, trace) = run_broken(is_discovery, |_| Ok(response(404, Some("text/html; charset=utf-8"), &page)));
    let v = assert_explained(&e, &trace, "HTML_RESPONSE", Step::Discovery, "web page, not the API");
    assert!(e.to_string().contains("\"404 Not Found\""), "{e}");
    assert_eq!(v["status"], 404);
    let body = v["evidence"]["body"].as_str().unwrap();
    assert_eq!(body.chars().count(), EVIDENCE_BODY_CHARS, "the evidence keeps the start of the page, cut");
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert_eq!((v["evidence"]["truncated"].as_bool(), v["evidence"]["bodyBytes"].as_u64()), (Some(true), Some(page.len() as u64)));
    assert_eq!(trace.steps[0].response.as_ref().unwrap().body, page, "the trace keeps the whole response (under its own cap)");
}

#[test]
fn an_html_page_with_200_at_the_token_endpoint() {
    let (e, trace) = run_broken(is_dcr_token, |_| Ok(response(200, Some("text/html"), "<html><head><title>Sign in</title></head></html>")));
    assert_explained(&e, &trace, "HTML_RESPONSE", Step::DcrToken, "web page");
}

#[test]
fn json_with_the_wrong_content_type() {
    let (e, trace) = run_broken(is_registration, |mut real| {
        real.headers.set("content-type", "text/plain");
        Ok(real)
    });
    assert_explained(&e, &trace, "WRONG_CONTENT_TYPE", Step::Registration, "Content-Type application/json");
    assert!(e.to_string().contains("\"text/plain\"") && e.to_string().contains("the body is JSON"), "{e}");
}

#[test]
fn a_truncated_json_body() {
    let (e, trace) = run_broken(is_registration, |mut real| {
        real.headers.set("content-length", real.body.len().to_string());
        real.body.truncate(real.body.len() / 2);
        Ok(real)
    });
    assert_explained(&e, &trace, "TRUNCATED_RESPONSE", Step::Registration, "cut off");
    assert!(e.to_string().contains("Content-Length said"), "{e}");
}

#[test]
fn a_body_labelled_json_that_is_not_json() {
    let (e, trace) = run_broken(is_dcr_token, |_| Ok(response(200, Some("application/json"), "access_token=abc&token_type=bearer")));
    assert_explained(&e, &trace, "MALFORMED_JSON", Step::DcrToken, "claims to be JSON");
    let (e, _) = run_broken(is_dcr_token, |_| Ok(response(200, Some("application/json"), "")));
    assert_eq!(e.code(), "MALFORMED_JSON");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn a_body_over_the_cap() {
    let huge = format!("{{\"issuer\":\"{}\"}}", "x".repeat(MAX_RESPONSE_BYTES));
    let (e, trace) = run_broken(is_discovery, |_| Ok(response(200, Some("application/json"), &huge)));
    let v = assert_explained(&e, &trace, "RESPONSE_TOO_LARGE", Step::Discovery, "few kilobytes");
    assert_eq!(v["evidence"]["bodyBytes"].as_u64(), Some(huge.len() as u64));
    assert!(v["evidence"]["body"].as_str().unwrap().len() <= EVIDENCE_BODY_CHARS);
    assert!(trace.steps[0].response.as_ref().unwrap().body.len() < huge.len() / 4, "the trace does not keep the megabyte");
    // The browser stops reading at the cap and says how much arrived.
    let (e, trace) = run_broken(is_discovery, |_| {
        let mut f = TransportError::new(TransportErrorKind::TooLarge, "more than 1048576 bytes");
        f.partial = Some(response(200, Some("application/json"), "{\"issuer\":\"xxxx"));
        f.received_bytes = Some(MAX_RESPONSE_BYTES as u64 + 1);
        Err(f)
    });
    let v = assert_explained(&e, &trace, "RESPONSE_TOO_LARGE", Step::Discovery, "few kilobytes");
    assert_eq!((v["evidence"]["bodyBytes"].as_u64(), v["evidence"]["truncated"].as_bool()), (Some(MAX_RESPONSE_BYTES as u64 + 1), Some(true)));
}

#[test]
fn a_redirect_is_not_followed() {
    let (e, trace) = run_broken(is_discovery, |_| {
        let mut r = response(301, None, "");
        r.headers.set("location", "https://localhost:8443/oauth/v2/oauth-anonymous/");
        Ok(r)
    });
    let v = assert_explained(&e, &trace, "UNEXPECTED_REDIRECT", Step::Discovery, "points to https://localhost:8443/oauth/v2/oauth-anonymous/");
    assert_eq!(v["location"], "https://localhost:8443/oauth/v2/oauth-anonymous/");
    // A browser hides where a redirect goes (an opaque redirect).
    let (e, trace) = run_broken(is_dcr_token, |_| Err(TransportError::new(TransportErrorKind::Redirect, "an opaque redirect")));
    assert_explained(&e, &trace, "UNEXPECTED_REDIRECT", Step::DcrToken, "open the URL in a tab");
}

#[test]
fn a_5xx_with_retry_after() {
    let (e, trace) = run_broken(is_registration, |_| {
        let mut r = response(503, Some("text/html"), "<html><title>Service Unavailable</title></html>");
        r.headers.set("retry-after", "120");
        Ok(r)
    });
    let v = assert_explained(&e, &trace, "SERVER_UNAVAILABLE", Step::Registration, "tried again in 120 s");
    assert_eq!((v["status"].as_u64(), v["retryAfter"].as_u64()), (Some(503), Some(120)));
    // An HTTP-date is read against the run's clock (no system time).
    let (e, _) = run_broken(is_registration, |_| {
        let mut r = HttpResponse::json(502, &json!({ "error": "bad_gateway" }));
        r.headers.set("retry-after", "Fri, 15 Jan 2027 08:01:00 GMT"); // NOW + 60 s
        Ok(r)
    });
    assert_eq!(e.to_json()["retryAfter"], 60, "{e}");
    assert!(e.to_string().contains("bad_gateway"), "{e}");
    let (e, trace) = run_broken(is_registration, |_| Ok(response(500, None, "")));
    assert_explained(&e, &trace, "SERVER_UNAVAILABLE", Step::Registration, "Run again later");
}

#[test]
fn a_cors_block() {
    let (e, trace) = run_broken(is_discovery, |_| Err(TransportError::new(TransportErrorKind::Cors, "Failed to fetch")));
    assert_explained(&e, &trace, "CORS_BLOCKED", Step::Discovery, "server.sendVia");
    assert!(e.to_string().contains("Failed to fetch"), "{e}");
}

#[test]
fn a_timeout_and_a_server_that_answers_slowly_forever() {
    let (e, trace) = run_broken(is_dcr_token, |_| {
        let mut f = TransportError::new(TransportErrorKind::Timeout, "no answer within 30000 ms");
        f.timeout_ms = Some(30_000);
        Err(f)
    });
    let v = assert_explained(&e, &trace, "TIMEOUT", Step::DcrToken, "No answer within 30000 ms (server.timeoutMs)");
    assert_eq!(v["timeoutMs"], 30_000);
    // Headers arrived, then the body trickles and never ends: the part that came is evidence.
    let (e, trace) = run_broken(is_registration, |_| {
        let mut f = TransportError::new(TransportErrorKind::Timeout, "the body did not finish");
        f.partial = Some(response(201, Some("application/json"), "{\"client_id\":\"abc\",  "));
        f.received_bytes = Some(22);
        f.timeout_ms = Some(500);
        Err(f)
    });
    let v = assert_explained(&e, &trace, "TIMEOUT", Step::Registration, "began to answer (HTTP 201)");
    assert_eq!((v["status"].as_u64(), v["evidence"]["body"].as_str()), (Some(201), Some("{\"client_id\":\"abc\",  ")));
    assert_eq!(trace.steps.last().unwrap().response.as_ref().unwrap().status, 201);
}

#[test]
fn an_abort_and_a_refused_connection_are_told_apart() {
    let (e, _) = run_broken(is_discovery, |_| Err(TransportError::new(TransportErrorKind::Aborted, "aborted by the caller (AbortSignal)")));
    assert_eq!((e.code(), e.step()), ("ABORTED", Some(Step::Discovery)));
    let (e, _) = run_broken(is_discovery, |_| Err(TransportError::from("connection refused")));
    assert_eq!(e.code(), "TRANSPORT_ERROR");
    let (e, trace) = run_broken(is_registration, |_| {
        let mut f = TransportError::new(TransportErrorKind::Truncated, "terminated after 10 bytes");
        f.partial = Some(response(201, Some("application/json"), "{\"client_i"));
        Err(f)
    });
    assert_explained(&e, &trace, "TRUNCATED_RESPONSE", Step::Registration, "cut off");
}

#[test]
fn an_issuer_mismatch_at_discovery() {
    let (e, trace) = run_broken(is_discovery, |real| {
        let mut doc = real.json_object().unwrap();
        doc.insert("issuer".into(), json!("https://localhost:8443/oauth/v2/oauth-anonymous/"));
        Ok(HttpResponse::json(200, &Value::Object(doc)))
    });
    assert_explained(&e, &trace, "ISSUER_MISMATCH", Step::Discovery, "set server.issuer to exactly the issuer the server names");
}

#[test]
fn an_id_token_that_is_not_a_jwt() {
    let (e, trace) = run_broken(is_code_exchange, |real| {
        let mut doc = real.json_object().unwrap();
        doc.insert("id_token".into(), json!("opaque-id-token-value"));
        Ok(HttpResponse::json(200, &Value::Object(doc)))
    });
    assert_explained(&e, &trace, "NOT_A_JWT", Step::CodeExchange, "always a signed JWT");
}

#[test]
fn a_haapi_step_answered_with_html() {
    let (e, trace) = run_broken(is_authorize, |_| Ok(response(200, Some("text/html"), "<!doctype html><title>Login</title>")));
    assert_explained(&e, &trace, "HTML_RESPONSE", Step::Authorize, "web page");
}

#[test]
fn server_timeout_ms_is_configurable_with_a_default() {
    assert_eq!(demo().server.timeout_ms, DEFAULT_TIMEOUT_MS);
    let mut v = Config::default().to_json();
    v["server"]["timeoutMs"] = json!(2500);
    let cfg = Config::from_value(&v).unwrap();
    assert_eq!(cfg.server.timeout_ms, 2500);
    assert_eq!(cfg.to_json()["server"]["timeoutMs"], 2500, "exported with the document");
    for bad in [json!(0), json!(-1), json!(1.5), json!("30s"), json!(600_001)] {
        v["server"]["timeoutMs"] = bad.clone();
        let problems = Config::from_value(&v).unwrap_err();
        assert_eq!(problems[0].path, "server.timeoutMs", "{bad}");
    }
}
