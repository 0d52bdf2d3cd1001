//! The HAAPI login after `authorize`, walked by the client against the simulator: each
//! authenticator, a wrong password then the right one, too many attempts, the polling
//! authenticator done, failed and cancelled, redirects followed and stopped on, DPoP nonces on
//! and off, and what every HAAPI request carries.

use haapi_lab::client::config::Config;
use haapi_lab::client::flow::{FlowOptions, InputAnswer, InputKind, InputRequest, Step};
use haapi_lab::client::trace::Status;
use haapi_lab::lab::{LabFailure, LabRun, SimLab};
use haapi_lab::proto::clock::Timestamp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

fn config(edit: impl FnOnce(&mut Value)) -> Config {
    let mut v = Config::default().to_json();
    v["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
    edit(&mut v);
    Config::from_value(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn names(trace: &haapi_lab::client::trace::Trace) -> Vec<&'static str> {
    trace.steps.iter().map(|s| s.name.name()).collect()
}

/// Runs with `answers`, recording every question asked.
fn run_answering(
    cfg: &Config,
    options: FlowOptions,
    mut answers: impl FnMut(&InputRequest) -> Option<InputAnswer>,
) -> (Result<LabRun, Box<LabFailure>>, Vec<InputRequest>) {
    let mut lab = SimLab::new(cfg, 9, NOW).unwrap();
    let mut asked = Vec::new();
    let result = lab.run_answering(cfg, NOW, options, &mut |q: &InputRequest| {
        asked.push(q.clone());
        answers(q)
    });
    (result, asked)
}

fn ok(result: Result<LabRun, Box<LabFailure>>) -> LabRun {
    result.unwrap_or_else(|f| panic!("{}: {:#}", f.error, f.trace.to_json(true)))
}

fn failed(result: Result<LabRun, Box<LabFailure>>) -> Box<LabFailure> {
    match result {
        Ok(run) => panic!("the run succeeded: {:?}", names(&run.trace)),
        Err(f) => f,
    }
}

fn values(pairs: &[(&str, &str)]) -> InputAnswer {
    InputAnswer::Values(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>())
}

fn logged_in(run: &LabRun, amr: &str) {
    let tokens = run.outcome.tokens.as_ref().expect("tokens");
    let id = haapi_lab::proto::jose::decode_unverified(tokens.id_token.as_ref().unwrap().expose()).unwrap();
    assert_eq!(id.claims["sub"], "demo");
    assert_eq!(id.claims["amr"], json!([amr]));
    let last = run.trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (Step::CodeExchange, Status::Ok));
}

#[test]
fn the_password_authenticator_logs_in_from_the_configuration() {
    let (result, asked) = run_answering(&config(|_| {}), FlowOptions::default(), |_| None);
    let run = ok(result);
    assert!(asked.is_empty(), "nothing is asked when the configuration has every value");
    logged_in(&run, "pwd");
    assert!(run.trace.steps.iter().all(|s| s.status != Status::Failed));
    assert_eq!(names(&run.trace)[6..], ["authorize", "authenticate", "authenticate", "authenticate", "authenticate", "code-exchange"]);
    // authorize answers a redirection-step, never the form.
    let authorize = run.trace.last(Step::Authorize).unwrap();
    let first: Value = serde_json::from_str(&authorize.response.as_ref().unwrap().body).unwrap();
    assert_eq!(first["type"], "redirection-step");
    assert!(authorize.response.as_ref().unwrap().header("set-session-id").is_some());
}

#[test]
fn every_haapi_request_carries_the_token_a_fresh_proof_with_ath_and_the_session() {
    let run = ok(run_answering(&config(|_| {}), FlowOptions::default(), |_| None).0);
    let haapi_token = run.outcome.haapi_token.as_ref().unwrap().expose().to_owned();
    let ath = haapi_lab::proto::base64::url_encode(&<sha2::Sha256 as sha2::Digest>::digest(haapi_token.as_bytes()));
    let mut jtis = std::collections::HashSet::new();
    let mut session = None;
    for step in run.trace.steps.iter().filter(|s| matches!(s.name, Step::Authorize | Step::Authenticate)) {
        let r = step.request.as_ref().unwrap();
        assert_eq!(r.header("authorization"), Some(format!("DPoP {haapi_token}").as_str()));
        let proof = haapi_lab::proto::jose::decode_unverified(r.header("dpop").unwrap()).unwrap();
        assert_eq!(proof.claims["ath"], ath.as_str());
        assert_eq!(proof.claims["htm"], r.method.as_str());
        assert_eq!(proof.claims["htu"].as_str().unwrap(), r.server_url.split('?').next().unwrap());
        assert!(proof.claims["nonce"].is_string(), "nonce mode is on by default");
        assert!(jtis.insert(proof.claims["jti"].as_str().unwrap().to_owned()), "a fresh proof each time");
        if step.name == Step::Authenticate {
            assert_eq!(r.header("session-id"), session.as_deref(), "the Session-Id from the last Set-Session-Id");
        }
        if let Some(id) = step.response.as_ref().unwrap().header("set-session-id") {
            session = Some(id.to_owned());
        }
    }
    // The code exchange: PKCE verifier, Basic, a proof without ath (token endpoint).
    let exchange = run.trace.last(Step::CodeExchange).unwrap().request.as_ref().unwrap();
    assert_eq!(exchange.form_param("grant_type").as_deref(), Some("authorization_code"));
    assert!(exchange.form_param("code_verifier").is_some());
    assert!(exchange.header("authorization").unwrap().starts_with("Basic "));
    let proof = haapi_lab::proto::jose::decode_unverified(exchange.header("dpop").unwrap()).unwrap();
    let at = haapi_lab::proto::jose::decode_unverified(run.outcome.tokens.as_ref().unwrap().access_token.expose()).unwrap();
    assert_eq!(at.claims["cnf"]["jkt"].as_str().unwrap(), haapi_lab::proto::jose::thumbprint(&proof.header["jwk"]).unwrap());
}

#[test]
fn nonce_mode_off_sends_proofs_without_nonces_and_still_logs_in() {
    let cfg = config(|v| v["server"]["simulator"] = json!({ "dpopNonce": "off" }));
    let run = ok(run_answering(&cfg, FlowOptions::default(), |_| None).0);
    logged_in(&run, "pwd");
    for step in &run.trace.steps {
        if let Some(proof) = step.request.as_ref().and_then(|r| r.header("dpop")) {
            let proof = haapi_lab::proto::jose::decode_unverified(proof).unwrap();
            assert!(proof.claims.get("nonce").is_none(), "{:?} sent a nonce nobody asked for", step.name);
        }
        assert!(step.retries.is_empty(), "no nonce retries with nonces off");
    }
}

#[test]
fn nonce_mode_on_retries_once_then_carries_the_latest_nonce() {
    let run = ok(run_answering(&config(|_| {}), FlowOptions::default(), |_| None).0);
    let retried: Vec<_> = run.trace.steps.iter().filter(|s| !s.retries.is_empty()).map(|s| s.name).collect();
    assert_eq!(retried, [Step::HaapiToken], "the first proof has no nonce; later ones carry the last DPoP-Nonce");
}

#[test]
fn a_person_types_a_wrong_password_then_the_right_one() {
    let cfg = config(|v| v["authentication"]["inputs"] = json!({}));
    let mut tries = 0;
    let (result, asked) = run_answering(&cfg, FlowOptions::default(), |q| match &q.kind {
        InputKind::Form { missing, .. } => {
            tries += 1;
            if tries == 1 {
                assert_eq!(missing, &["userName", "password"]);
                assert!(q.problem.is_none());
                Some(values(&[("userName", "demo"), ("password", "wrong")]))
            } else {
                let problem = q.problem.as_ref().expect("the problem comes with the form");
                assert_eq!(problem["type"], "https://curity.se/problems/incorrect-credentials");
                Some(values(&[("userName", "demo"), ("password", "Password1")]))
            }
        }
        _ => None,
    });
    let run = ok(result);
    assert_eq!(asked.len(), 2);
    logged_in(&run, "pwd");
    // The wrong attempt stays in the trace: a failed authenticate step with the problem and what to do.
    let failed: Vec<_> = run.trace.steps.iter().filter(|s| s.status == Status::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, Step::Authenticate);
    assert_eq!(failed[0].error.as_ref().unwrap()["code"], "HAAPI_PROBLEM");
    assert_eq!(failed[0].response.as_ref().unwrap().status, 400);
    assert!(failed[0].notes.iter().any(|n| n.contains("password")), "{:?}", failed[0].notes);
}

#[test]
fn a_wrong_password_from_the_configuration_ends_the_run_with_the_problem() {
    let cfg = config(|v| v["authentication"]["inputs"]["password"] = json!("wrong"));
    let f = failed(run_answering(&cfg, FlowOptions::default(), |_| panic!("nobody is asked")).0);
    assert_eq!(f.error.code(), "HAAPI_PROBLEM");
    assert_eq!(f.error.step(), Some(Step::Authenticate));
    let json = f.error.to_json();
    assert_eq!(json["problem"], "incorrect-credentials");
    assert_eq!(json["status"], 400);
    let last = f.trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (Step::Authenticate, Status::Failed));
    assert!(last.response.as_ref().unwrap().body.contains("incorrect-credentials"), "the representation is kept");
}

#[test]
fn too_many_attempts_locks_the_session() {
    let cfg = config(|v| {
        v["authentication"]["inputs"] = json!({});
        v["server"]["simulator"] = json!({ "authentication": { "maxFailedAttempts": 2 } });
    });
    let (result, asked) = run_answering(&cfg, FlowOptions::default(), |q| match q.kind {
        InputKind::Form { .. } => Some(values(&[("userName", "demo"), ("password", "wrong")])),
        _ => None,
    });
    let f = failed(result);
    assert_eq!(f.error.to_json()["problem"], "too-many-attempts");
    assert_eq!(f.error.to_json()["status"], 429);
    // Locked after exactly maxFailedAttempts wrong passwords: the first wrong one is only
    // incorrect-credentials and the person is asked again.
    assert_eq!(asked.len(), 2, "two attempts, then the lock");
    assert_eq!(asked[1].problem.as_ref().expect("the first failure comes back with the form")["type"], "https://curity.se/problems/incorrect-credentials");
    let posts: Vec<_> = f.trace.steps.iter().filter(|s| s.name == Step::Authenticate && s.request.as_ref().is_some_and(|r| r.method == "POST")).collect();
    assert_eq!(posts.len(), 2, "the lock is the answer to the second POST, not a third one");
}

#[test]
fn the_polling_authenticator_is_approved_after_the_configured_polls() {
    let cfg = config(|v| {
        v["authentication"]["authenticator"] = json!("device-approval");
        v["server"]["simulator"] = json!({ "authentication": { "pollsUntilOutcome": 3 } });
    });
    let (result, asked) = run_answering(&cfg, FlowOptions::default(), |q| match q.kind {
        InputKind::Poll { .. } => Some(InputAnswer::Proceed),
        _ => None,
    });
    let run = ok(result);
    logged_in(&run, "mfa");
    let polls = asked.iter().filter(|q| matches!(q.kind, InputKind::Poll { .. })).count();
    assert_eq!(polls, 3, "pending, pending, pending, then done");
    assert!(asked.iter().all(|q| matches!(q.kind, InputKind::Poll { interval_ms: 1000, .. })));
}

#[test]
fn the_polling_authenticator_denied_fails_the_run() {
    let cfg = config(|v| {
        v["authentication"]["authenticator"] = json!("Approve on another device");
        v["server"]["simulator"] = json!({ "authentication": { "pollingOutcome": "deny", "pollsUntilOutcome": 1 } });
    });
    let f = failed(run_answering(&cfg, FlowOptions::default(), |_| Some(InputAnswer::Proceed)).0);
    assert_eq!(f.error.code(), "POLLING_FAILED");
    assert_eq!(f.error.step(), Some(Step::Authenticate));
}

#[test]
fn the_polling_authenticator_cancelled_goes_back_to_the_choice() {
    let cfg = config(|v| {
        v["authentication"]["authenticator"] = json!("device-approval");
        v["server"]["simulator"] = json!({ "authentication": { "pollingOutcome": "wait" } });
    });
    let mut chose = 0;
    let (result, asked) = run_answering(&cfg, FlowOptions::default(), |q| match &q.kind {
        InputKind::Poll { .. } => Some(InputAnswer::Cancel),
        InputKind::Choose { options, .. } => {
            chose += 1;
            Some(InputAnswer::Choose(options.iter().position(|o| o.authenticator_type.as_deref() == Some("html-form")).unwrap()))
        }
        _ => None,
    });
    let run = ok(result);
    assert_eq!(chose, 1, "after a cancel the selector is asked, not chosen again");
    assert!(matches!(asked[0].kind, InputKind::Poll { .. }));
    logged_in(&run, "pwd");
    assert!(run.trace.steps.iter().any(|s| s.notes.iter().any(|n| n.contains("Cancelled"))));
}

#[test]
fn a_polling_login_nobody_answers_gives_up_after_the_cap() {
    let cfg = config(|v| {
        v["authentication"]["authenticator"] = json!("device-approval");
        v["server"]["simulator"] = json!({ "authentication": { "pollingOutcome": "wait" } });
    });
    let f = failed(run_answering(&cfg, FlowOptions::default(), |_| Some(InputAnswer::Proceed)).0);
    assert_eq!(f.error.code(), "POLLING_TIMED_OUT");
    assert!(f.error.to_string().contains(&haapi_lab::client::flow::MAX_POLLS.to_string()));
}

#[test]
fn redirects_are_stopped_on_when_follow_redirects_is_false() {
    let cfg = config(|v| v["authentication"]["followRedirects"] = json!(false));
    let (result, asked) = run_answering(&cfg, FlowOptions::default(), |q| match q.kind {
        InputKind::Redirect { .. } => Some(InputAnswer::Proceed),
        _ => None,
    });
    let run = ok(result);
    logged_in(&run, "pwd");
    let hrefs: Vec<_> = asked
        .iter()
        .map(|q| match &q.kind {
            InputKind::Redirect { href } => href.clone(),
            other => panic!("only redirects are asked: {other:?}"),
        })
        .collect();
    assert_eq!(hrefs.len(), 2, "after authorize and after the login");
    assert_eq!(hrefs[0], "/authn/authenticate");
    assert!(hrefs[1].starts_with("/oauth/v2/oauth-authorize?"));
}

#[test]
fn a_stopped_redirect_nobody_follows_ends_the_run_with_input_required() {
    let cfg = config(|v| v["authentication"]["followRedirects"] = json!(false));
    let f = failed(run_answering(&cfg, FlowOptions::default(), |_| None).0);
    assert_eq!(f.error.code(), "INPUT_REQUIRED");
    let last = f.trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (Step::Authenticate, Status::Failed), "the trace ends with the failure");
    assert_eq!(last.error.as_ref().unwrap()["code"], "INPUT_REQUIRED");
}

#[test]
fn an_interactive_run_asks_for_the_authenticator_and_shows_the_configured_values() {
    let options = FlowOptions { interactive: true, ..Default::default() };
    let (result, asked) = run_answering(&config(|_| {}), options, |q| match &q.kind {
        InputKind::Choose { options, configured } => {
            assert_eq!(options.len(), 2);
            assert_eq!(*configured, Some(0));
            Some(InputAnswer::Choose(0))
        }
        InputKind::Form { fields, missing, .. } => {
            assert!(missing.is_empty());
            assert!(fields.iter().all(|f| f.value.is_some()), "prefilled from authentication.inputs");
            let shown = q.to_json();
            assert_eq!(shown["fields"][1]["value"], Value::Null, "a typed value is not copied into what the page keeps");
            Some(InputAnswer::Proceed)
        }
        _ => None,
    });
    ok(result);
    assert_eq!(asked.len(), 2);
}

#[test]
fn an_unknown_authenticator_is_refused_with_the_options() {
    let cfg = config(|v| v["authentication"]["authenticator"] = json!("sms"));
    let f = failed(run_answering(&cfg, FlowOptions::default(), |_| None).0);
    assert_eq!(f.error.code(), "AUTHENTICATOR_NOT_FOUND");
    assert!(f.error.to_string().contains("Username and password"));
}

#[test]
fn code_exchange_off_ends_at_the_authorization_response() {
    let cfg = config(|v| v["authentication"]["codeExchange"] = json!(false));
    let run = ok(run_answering(&cfg, FlowOptions::default(), |_| None).0);
    assert_eq!(run.trace.steps.last().unwrap().name, Step::Authenticate);
    assert!(run.outcome.tokens.is_none());
    assert_eq!(run.outcome.representation.as_ref().unwrap()["type"], "oauth-authorization-response");
}

#[test]
fn stop_after_authorize_ends_at_the_first_representation() {
    let cfg = config(|v| v["stopAfter"] = json!("authorize"));
    let run = ok(run_answering(&cfg, FlowOptions::default(), |_| None).0);
    assert_eq!(run.trace.steps.last().unwrap().name, Step::Authorize);
    assert_eq!(run.outcome.representation.as_ref().unwrap()["type"], "redirection-step");
}
