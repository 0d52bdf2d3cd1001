//! The flow against the simulator, in process, for every method and algorithm; reuse of the stored
//! client; re-registration after the server forgets it; nonces; sendVia; stopAfter.

use haapi_lab::client::config::Config;
use haapi_lab::client::error::Error;
use haapi_lab::client::flow::Step;
use haapi_lab::client::trace::Status;
use haapi_lab::lab::{LabRun, SimLab};
use haapi_lab::proto::clock::Timestamp;
use serde_json::{json, Value};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
const RSA_PEM: &str = include_str!("fixtures/test-only-rsa2048.pem");

/// The default configuration with the simulator's demo user as `authentication.inputs`.
fn base() -> Value {
    let mut v = Config::default().to_json();
    v["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
    v
}

fn demo() -> Config {
    Config::from_value(&base()).unwrap()
}

fn config(credential: Value) -> Config {
    let mut v = base();
    v["credential"] = credential;
    Config::from_value(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn with(mut v: Value, edit: impl FnOnce(&mut Value)) -> Config {
    edit(&mut v);
    Config::from_value(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn statuses(run: &LabRun) -> Vec<(String, Status)> {
    run.trace.steps.iter().map(|s| (s.name.name().to_owned(), s.status)).collect()
}

fn full_run(config: &Config) -> LabRun {
    let mut lab = SimLab::new(config, 42, NOW).unwrap();
    let run = lab.run(config, NOW).unwrap_or_else(|f| panic!("{}: {:#?}", f.error, f.trace.to_json(true)));
    let expected = [
        ("discovery", Status::Ok),
        ("attestation", Status::Skipped),
        ("dcr-token", Status::Ok),
        ("registration", Status::Ok),
        ("store", Status::Ok),
        ("haapi-token", Status::Ok),
        ("authorize", Status::Ok),
        ("authenticate", Status::Ok),
        ("authenticate", Status::Ok),
        ("authenticate", Status::Ok),
        ("authenticate", Status::Ok),
        ("code-exchange", Status::Ok),
    ];
    assert_eq!(statuses(&run), expected.map(|(n, s)| (n.to_owned(), s)));
    assert_logged_in(&run);
    run
}

/// The run ended with tokens for the demo user, bound to the device's DPoP key.
fn assert_logged_in(run: &LabRun) {
    assert_eq!(run.outcome.representation.as_ref().unwrap()["type"], "oauth-authorization-response");
    assert!(run.outcome.session_id.is_some());
    let tokens = run.outcome.tokens.as_ref().expect("tokens");
    assert_eq!(run.outcome.subject.as_deref(), Some("demo"));
    let at = haapi_lab::proto::jose::decode_unverified(tokens.access_token.expose()).unwrap();
    assert_eq!(at.header["typ"], "at+jwt");
    assert!(at.claims["cnf"]["jkt"].is_string());
    assert!(tokens.id_token.is_some() && tokens.refresh_token.is_some());
}

fn request(run: &LabRun, step: Step) -> &haapi_lab::proto::http::HttpRequest {
    run.trace.last(step).unwrap().request.as_ref().unwrap()
}

#[test]
fn client_secret_basic() {
    let run = full_run(&config(json!({ "method": "client_secret_basic", "secret": "Password1" })));
    let f1 = request(&run, Step::DcrToken);
    assert_eq!(f1.form_param("grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(f1.form_param("scope").as_deref(), Some("dcr"));
    assert_eq!(f1.header("authorization"), Some(haapi_lab::client::client_auth::basic_authorization("haapi-android-client", "Password1").as_str()));
    assert_eq!(f1.form_param("client_secret"), None);
}

#[test]
fn client_secret_post() {
    let run = full_run(&config(json!({ "method": "client_secret_post", "secret": "Password1" })));
    let f1 = request(&run, Step::DcrToken);
    assert_eq!(f1.form_param("client_secret").as_deref(), Some("Password1"));
    assert_eq!(f1.header("authorization"), None);
}

#[test]
fn private_key_jwt_with_every_asymmetric_algorithm() {
    for alg in ["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let key = if alg.starts_with('E') { Value::Null } else { RSA_PEM.into() };
        let run = full_run(&config(json!({ "method": "private_key_jwt", "alg": alg, "privateKey": key })));
        let f1 = request(&run, Step::DcrToken);
        assert_eq!(f1.form_param("client_assertion_type").as_deref(), Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        let jwt = haapi_lab::proto::jose::decode_unverified(&f1.form_param("client_assertion").unwrap()).unwrap();
        assert_eq!(jwt.header["alg"], alg);
        assert!(jwt.header["kid"].is_string(), "kid is sent when known");
        assert_eq!(jwt.claims["iss"], "haapi-android-client");
        assert_eq!(jwt.claims["sub"], "haapi-android-client");
        assert_eq!(jwt.claims["aud"], "https://localhost:8443/oauth/v2/oauth-token");
        assert_eq!(jwt.claims["iat"], NOW.secs());
        assert!(jwt.claims["exp"].as_u64().unwrap() - NOW.secs() <= 60);
        assert!(jwt.claims["jti"].as_str().unwrap().len() >= 16);
    }
}

#[test]
fn private_key_jwt_with_a_pasted_jwk_and_explicit_kid_and_audience() {
    let key = haapi_lab::proto::jose::p256::P256Key::generate(&mut haapi_lab::proto::entropy::SeededEntropy::new(9));
    let cfg = with(base(), |v| {
        v["credential"] = json!({ "method": "private_key_jwt", "alg": "ES256", "privateKey": key.to_private_jwk().expose(), "kid": "device-key-1",
                                  "audience": "https://localhost:8443/oauth/v2/oauth-token" });
    });
    let run = full_run(&cfg);
    let jwt = haapi_lab::proto::jose::decode_unverified(&request(&run, Step::DcrToken).form_param("client_assertion").unwrap()).unwrap();
    assert_eq!(jwt.header["kid"], "device-key-1");
}

#[test]
fn client_secret_jwt_with_every_hmac_algorithm() {
    for alg in ["HS256", "HS384", "HS512"] {
        let run = full_run(&config(json!({ "method": "client_secret_jwt", "secret": "a-shared-secret-of-enough-length-for-hs512-0123456789", "alg": alg })));
        let jwt = haapi_lab::proto::jose::decode_unverified(&request(&run, Step::DcrToken).form_param("client_assertion").unwrap()).unwrap();
        assert_eq!(jwt.header["alg"], alg);
    }
}

#[test]
fn tls_client_auth_with_a_generated_device_ca() {
    let run = full_run(&config(json!({ "method": "tls_client_auth" })));
    let f1 = request(&run, Step::DcrToken);
    assert_eq!(f1.form_param("client_id").as_deref(), Some("haapi-android-client"));
    assert!(f1.client_certificate.as_deref().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(f1.form_param("client_assertion"), None);
}

/// A server that names a mutual-TLS alias of its token endpoint (RFC 8705 §5): the main client's
/// certificate goes there, every other request to the conventional endpoints; a client that
/// authenticates otherwise ignores the alias and says so.
#[test]
fn the_mutual_tls_alias_takes_the_certificate_request_and_nothing_else() {
    const ALIAS_ORIGIN: &str = "https://mtls.localhost:8444";
    let alias = format!("{ALIAS_ORIGIN}/oauth/v2/oauth-token");
    let with_alias = |credential: Value| {
        with(base(), |v| {
            v["credential"] = credential;
            v["server"]["simulator"] = json!({ "mtlsOrigin": ALIAS_ORIGIN });
        })
    };
    let run = full_run(&with_alias(json!({ "method": "tls_client_auth" })));
    let f1 = request(&run, Step::DcrToken);
    assert_eq!(f1.url, alias);
    assert!(f1.client_certificate.is_some());
    assert_eq!(request(&run, Step::HaapiToken).url, "https://localhost:8443/oauth/v2/oauth-token");
    let notes = run.trace.last(Step::Discovery).unwrap().notes.join(" ");
    assert!(notes.contains(&alias) && notes.contains("RFC 8705 §5") && notes.contains("must use it"), "{notes}");

    let run = full_run(&with_alias(json!({ "method": "client_secret_basic", "secret": "Password1" })));
    assert_eq!(request(&run, Step::DcrToken).url, "https://localhost:8443/oauth/v2/oauth-token");
    let notes = run.trace.last(Step::Discovery).unwrap().notes.join(" ");
    assert!(notes.contains("this one does not"), "{notes}");

    // Without the setting, no alias: the certificate goes to the conventional endpoint.
    assert_eq!(request(&full_run(&config(json!({ "method": "tls_client_auth" }))), Step::DcrToken).url, "https://localhost:8443/oauth/v2/oauth-token");
}

#[test]
fn tls_client_auth_with_a_pasted_chain() {
    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(3);
    let ca = haapi_lab::proto::x509::generate_ca("QA device CA", NOW.secs() - 10, 86400, &mut rng).unwrap();
    let leaf = haapi_lab::proto::x509::issue_client_certificate(&ca, "haapi-android-client", NOW.secs() - 10, 86400, &mut rng).unwrap();
    let chain = format!("{}{}", leaf.certificate_pem, ca.certificate_pem);
    full_run(&config(json!({ "method": "tls_client_auth", "certificate": chain, "privateKey": leaf.private_key_pem })));
}

#[test]
fn self_signed_tls_client_auth() {
    let run = full_run(&config(json!({ "method": "self_signed_tls_client_auth" })));
    assert!(request(&run, Step::DcrToken).client_certificate.is_some());
}

#[test]
fn registration_and_haapi_token_requests_are_exact() {
    let run = full_run(&demo());
    let f2 = request(&run, Step::Registration);
    assert_eq!(f2.method, "POST");
    assert_eq!(f2.url, "https://localhost:8443/token-service/oauth-registration");
    assert!(f2.header("authorization").unwrap().starts_with("Bearer "));
    assert_eq!(f2.header("content-type"), Some("application/json"));
    assert_eq!(serde_json::from_str::<Value>(f2.body.as_deref().unwrap()).unwrap(), json!({ "software_id": "haapi-template-client" }));

    let f4 = request(&run, Step::HaapiToken);
    assert_eq!(f4.form_param("scope").as_deref(), Some("urn:se:curity:scopes:haapi"));
    assert!(f4.header("authorization").unwrap().starts_with("Basic "));
    let proof = haapi_lab::proto::jose::decode_unverified(f4.header("dpop").unwrap()).unwrap();
    assert_eq!(proof.header["typ"], "dpop+jwt");
    assert_eq!(proof.claims["htm"], "POST");
    assert_eq!(proof.claims["htu"], "https://localhost:8443/oauth/v2/oauth-token");
    assert!(proof.claims.get("ath").is_none());
    let body: Value = serde_json::from_str(&run.trace.last(Step::HaapiToken).unwrap().response.as_ref().unwrap().body).unwrap();
    assert_eq!(body["token_type"], "DPoP");

    let authorize = request(&run, Step::Authorize);
    assert_eq!(authorize.header("accept"), Some("application/vnd.auth+json"));
    assert!(authorize.header("authorization").unwrap().starts_with("DPoP "));
    let proof = haapi_lab::proto::jose::decode_unverified(authorize.header("dpop").unwrap()).unwrap();
    assert_eq!(proof.claims["htm"], "GET");
    assert_eq!(proof.claims["htu"], "https://localhost:8443/oauth/v2/oauth-authorize");
    assert_eq!(proof.claims["ath"], haapi_lab::client::dpop::ath(run.outcome.haapi_token.as_ref().unwrap().expose()));
    assert!(authorize.url.contains("code_challenge_method=S256"));
}

#[test]
fn a_stored_client_is_reused_and_f1_f2_skipped() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 1, NOW).unwrap();
    let first = lab.run(&cfg, NOW).unwrap();
    let id = first.outcome.dynamic_client_id.clone().unwrap();
    assert_eq!(lab.stored.len(), 1);
    assert_eq!(lab.stored[0].client_id, id);
    let second = lab.run(&cfg, NOW.plus_secs(30)).unwrap();
    assert!(second.outcome.reused_stored_client);
    assert_eq!(second.outcome.dynamic_client_id.as_deref(), Some(id.as_str()));
    let s = statuses(&second);
    assert_eq!(s[2..5], [("dcr-token".into(), Status::Skipped), ("registration".into(), Status::Skipped), ("store".into(), Status::Skipped)]);
    assert_eq!(lab.sim.dynamic_clients().len(), 1, "no second registration");
    lab.forget_device();
    let third = lab.run(&cfg, NOW.plus_secs(60)).unwrap();
    assert!(!third.outcome.reused_stored_client);
    assert_ne!(third.outcome.dynamic_client_id.as_deref(), Some(id.as_str()));
}

#[test]
fn a_stale_stored_client_is_dropped_and_registered_again() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 2, NOW).unwrap();
    let old = lab.run(&cfg, NOW).unwrap().outcome.dynamic_client_id.unwrap();
    lab.sim.reset_database();
    let run = lab.run(&cfg, NOW.plus_secs(60)).unwrap();
    assert!(run.outcome.reregistered);
    let names: Vec<_> = statuses(&run);
    let first_f4 = names.iter().position(|(n, _)| n == "haapi-token").unwrap();
    assert_eq!(names[first_f4].1, Status::Failed);
    let why = &run.trace.steps[first_f4];
    assert_eq!(why.error.as_ref().unwrap()["error"], "invalid_client");
    assert!(why.notes.iter().any(|n| n.contains(&old) && n.contains("registers a new")), "{:?}", why.notes);
    assert_eq!(
        names[first_f4 + 1..].iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["dcr-token", "registration", "store", "haapi-token", "authorize", "authenticate", "authenticate", "authenticate", "authenticate", "code-exchange"]
    );
    assert!(names[first_f4 + 1..].iter().all(|(_, s)| *s == Status::Ok));
    assert_eq!(lab.stored.len(), 1, "the stale client is forgotten, the new one kept");
    assert_ne!(lab.stored[0].client_id, old);
}

#[test]
fn dpop_nonce_is_retried_once_with_the_servers_nonce() {
    let cfg = with(base(), |v| v["server"]["simulator"] = json!({ "dpopNonce": "required" }));
    let run = full_run(&cfg);
    let f4 = run.trace.last(Step::HaapiToken).unwrap();
    assert_eq!(f4.retries.len(), 1);
    let challenge = &f4.retries[0].response;
    assert_eq!(challenge.status, 400);
    let nonce = challenge.header("dpop-nonce").unwrap();
    let proof = haapi_lab::proto::jose::decode_unverified(f4.request.as_ref().unwrap().header("dpop").unwrap()).unwrap();
    assert_eq!(proof.claims["nonce"], nonce);
}

#[test]
fn send_via_changes_where_requests_go_but_not_htu_or_aud() {
    let cfg = with(base(), |v| v["server"]["sendVia"] = json!("http://127.0.0.1:9000"));
    let run = full_run(&cfg);
    let f1 = request(&run, Step::DcrToken);
    assert_eq!(f1.url, "http://127.0.0.1:9000/oauth/v2/oauth-token");
    let jwt = haapi_lab::proto::jose::decode_unverified(&f1.form_param("client_assertion").unwrap()).unwrap();
    assert_eq!(jwt.claims["aud"], "https://localhost:8443/oauth/v2/oauth-token");
    let proof = haapi_lab::proto::jose::decode_unverified(request(&run, Step::HaapiToken).header("dpop").unwrap()).unwrap();
    assert_eq!(proof.claims["htu"], "https://localhost:8443/oauth/v2/oauth-token");
}

#[test]
fn send_via_with_dpop_nonces_keeps_nonces_under_the_servers_own_origin() {
    // The nonce arrives on a response to http://127.0.0.1:9000/… (sendVia) but belongs to the
    // server https://localhost:8443: the next proof must carry it, with no second challenge.
    let cfg = with(base(), |v| {
        v["server"]["sendVia"] = json!("http://127.0.0.1:9000");
        v["server"]["simulator"] = json!({ "dpopNonce": "required" });
    });
    let run = full_run(&cfg);
    let f4 = run.trace.last(Step::HaapiToken).unwrap();
    assert_eq!(f4.retries.len(), 1, "one use_dpop_nonce challenge at the token endpoint");
    let f4_request = f4.request.as_ref().unwrap();
    assert_eq!(f4_request.url, "http://127.0.0.1:9000/oauth/v2/oauth-token");
    assert_eq!(f4_request.server_url, "https://localhost:8443/oauth/v2/oauth-token");
    let nonce_after_f4 = f4.response.as_ref().unwrap().header("dpop-nonce").expect("the token response carries a fresh nonce").to_owned();
    let authorize = run.trace.last(Step::Authorize).unwrap();
    assert!(authorize.retries.is_empty(), "authorize needed no second challenge: the nonce was remembered under the server's origin");
    let proof = haapi_lab::proto::jose::decode_unverified(authorize.request.as_ref().unwrap().header("dpop").unwrap()).unwrap();
    assert_eq!(proof.claims["nonce"], nonce_after_f4.as_str());
    assert_eq!(proof.claims["htu"], "https://localhost:8443/oauth/v2/oauth-authorize");
}

#[test]
fn stop_after_ends_the_run_there() {
    let cfg = with(base(), |v| v["stopAfter"] = json!("registration"));
    let mut lab = SimLab::new(&cfg, 5, NOW).unwrap();
    let run = lab.run(&cfg, NOW).unwrap();
    assert_eq!(run.trace.steps.last().unwrap().name, Step::Registration);
    assert_eq!(run.outcome.last_step, Step::Registration);
    assert!(lab.stored.is_empty(), "the client was not stored");
}

#[test]
fn a_refused_attestation_is_recorded_and_the_fallback_runs() {
    let cfg = with(base(), |v| v["device"]["attestation"] = json!("refused"));
    let mut lab = SimLab::new(&cfg, 6, NOW).unwrap();
    let run = lab.run(&cfg, NOW).unwrap();
    let att = run.trace.last(Step::Attestation).unwrap();
    assert_eq!(att.status, Status::Failed);
    assert_eq!(att.response.as_ref().unwrap().status, 400);
    assert!(run.trace.last(Step::Authorize).is_some_and(|s| s.status == Status::Ok));
}

#[test]
fn a_wrong_secret_fails_with_the_servers_evidence() {
    let cfg = config(json!({ "method": "client_secret_basic", "secret": "Password1" }));
    let mut lab = SimLab::new(&cfg, 7, NOW).unwrap();
    let wrong = config(json!({ "method": "client_secret_basic", "secret": "wrong" }));
    let failure = lab.run(&wrong, NOW).unwrap_err();
    match &failure.error {
        Error::Server { step, status, error, body } => {
            assert_eq!((*step, *status, error.error.as_str()), (Step::DcrToken, 401, "invalid_client"));
            assert!(body.contains("invalid_client"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(failure.error.code(), "OAUTH_SERVER_ERROR");
    let last = failure.trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (Step::DcrToken, Status::Failed));
    assert_eq!(last.error.as_ref().unwrap()["status"], 401);
    assert!(last.notes.iter().any(|n| n.contains("credential.secret")));
}

#[test]
fn the_trace_is_redacted_by_default_and_revealed_on_request() {
    let cfg = config(json!({ "method": "client_secret_post", "secret": "Password1" }));
    let run = full_run(&cfg);
    let redacted = run.trace.to_json(false).to_string();
    let secret = run.trace.last(Step::Registration).unwrap().response.as_ref().unwrap().json_object().unwrap()["client_secret"].as_str().unwrap().to_owned();
    let token = run.outcome.haapi_token.as_ref().unwrap().expose().to_owned();
    for leak in ["Password1", secret.as_str(), token.as_str()] {
        assert!(!redacted.contains(leak), "{leak} leaked");
    }
    assert!(redacted.contains("[redacted]"));
    let revealed = run.trace.to_json(true).to_string();
    assert!(revealed.contains("Password1") && revealed.contains(&secret) && revealed.contains(&token));
    // Every step explains itself and every JWT is decoded.
    let v = run.trace.to_json(false);
    for step in v["steps"].as_array().unwrap() {
        assert!(step["purpose"].as_str().unwrap().len() > 40);
    }
    let f4_jwts = &v["steps"][5]["jwts"];
    assert!(f4_jwts.as_array().unwrap().iter().any(|j| j["at"] == "request.headers.dpop" && j["header"]["typ"] == "dpop+jwt"));
    assert!(f4_jwts.as_array().unwrap().iter().any(|j| j["at"] == "response.body.access_token" && j["claims"]["cnf"]["jkt"].is_string()));
}

#[test]
fn runs_are_deterministic_under_a_fixed_clock_and_seed() {
    let cfg = demo();
    let a = SimLab::new(&cfg, 11, NOW).unwrap().run(&cfg, NOW).unwrap();
    let b = SimLab::new(&cfg, 11, NOW).unwrap().run(&cfg, NOW).unwrap();
    assert_eq!(a.trace.to_json(true), b.trace.to_json(true));
    let c = SimLab::new(&cfg, 12, NOW).unwrap().run(&cfg, NOW).unwrap();
    assert_ne!(a.trace.to_json(true), c.trace.to_json(true));
}

#[test]
fn a_transport_failure_keeps_the_step_and_message() {
    let cfg = demo();
    let material = haapi_lab::client::material::Material::prepare(&cfg, NOW, &mut haapi_lab::proto::entropy::SeededEntropy::new(1)).unwrap();
    let key = haapi_lab::proto::jose::p256::P256Key::generate(&mut haapi_lab::proto::entropy::SeededEntropy::new(2));
    let mut flow = haapi_lab::client::flow::Flow::new(
        cfg,
        &material,
        vec![],
        key.public_jwk().clone(),
        Box::new(haapi_lab::proto::entropy::SeededEntropy::new(3)),
        Default::default(),
    )
    .unwrap();
    let mut clients = Vec::new();
    let mut env = haapi_lab::client::driver::SyncEnvironment {
        answers: None,
        transport: |_: &haapi_lab::proto::http::HttpRequest| Err("connection refused".to_owned()),
        signer: |job: &haapi_lab::client::client_auth::SignRequest| Ok(key.sign(job.signing_input.as_bytes())),
        clients: &mut clients,
        clock: &mut || NOW,
    };
    let err = haapi_lab::client::driver::run_blocking(&mut flow, &mut env).unwrap_err();
    assert_eq!(err.code(), "TRANSPORT_ERROR");
    assert_eq!(err.step(), Some(Step::Discovery));
    assert!(err.to_string().contains("connection refused"));
    assert!(flow.trace().steps[0].notes.iter().any(|n| n.contains("CORS")));
}

#[test]
fn method_none_is_refused_before_any_request() {
    let mut v = base();
    v["credential"] = json!({ "method": "none" });
    let problems = Config::from_value(&v).unwrap_err();
    assert_eq!(problems[0].path, "credential.method");
    // And a document that bypassed parsing is refused by the flow itself.
    let mut cfg = demo();
    cfg.credential.method = haapi_lab::client::config::Method::None;
    cfg.credential.alg = None;
    let err = SimLab::new(&cfg, 1, NOW).unwrap_err();
    assert_eq!(err.code(), "CONFIG_INVALID");
}

#[test]
fn the_simulators_database_survives_an_export_and_import() {
    let cfg = demo();
    let mut first = SimLab::new(&cfg, 21, NOW).unwrap();
    first.run(&cfg, NOW).unwrap();
    let state = first.sim.export_state();
    assert!(!state.to_string().contains(first.stored[0].client_secret.expose()), "secrets are exported only as hashes");
    let mut second = SimLab::new(&cfg, 21, NOW).unwrap();
    second.sim.import_state(&state).unwrap();
    second.stored = first.stored.clone();
    let run = second.run(&cfg, NOW.plus_secs(5)).unwrap();
    assert!(run.outcome.reused_stored_client);
    let mut other_issuer = state.clone();
    other_issuer["issuer"] = json!("https://elsewhere.example");
    assert!(second.sim.import_state(&other_issuer).is_err());
}

#[test]
fn an_error_debug_print_keeps_evidence_but_not_secrets() {
    let e = Error::InvalidResponse {
        step: Step::Registration,
        status: 200,
        message: "201 expected".into(),
        body: r#"{"client_id":"c","client_secret":"s3cr3t"}"#.into(),
    };
    let text = format!("{e:?}");
    assert!(text.contains("INVALID_RESPONSE") && text.contains("client_id") && !text.contains("s3cr3t"), "{text}");
}

// --- A stored credential never leaves for a place it did not come from (docs/design.md) -------------

/// Runs `cfg` on `lab`'s device; `transport` sees every request first (and may answer it).
fn run_recording(
    lab: &mut SimLab,
    cfg: &Config,
    options: haapi_lab::client::flow::FlowOptions,
    transport: &mut dyn FnMut(&haapi_lab::proto::http::HttpRequest, &mut haapi_lab::sim::Simulator) -> haapi_lab::proto::http::HttpResponse,
) -> (Result<haapi_lab::client::flow::Outcome, Error>, haapi_lab::client::trace::Trace) {
    match lab.run_over(cfg, NOW, options, &mut |r, sim| Ok(transport(r, sim)), None) {
        Ok(run) => (Ok(run.outcome), run.trace),
        Err(failure) => (Err(failure.error), failure.trace),
    }
}

fn attacker_answers_401(request: &haapi_lab::proto::http::HttpRequest) -> haapi_lab::proto::http::HttpResponse {
    assert!(request.url.starts_with("https://attacker.example/"), "unexpected request {}", request.url);
    haapi_lab::proto::http::HttpResponse::json(401, &json!({ "error": "invalid_client" }))
}

#[test]
fn a_link_that_moves_the_token_endpoint_sends_the_stored_client_nowhere() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 31, NOW).unwrap();
    let id = lab.run(&cfg, NOW).unwrap().outcome.dynamic_client_id.unwrap();
    let hostile = with(cfg.to_json(), |v| v["server"]["endpoints"]["token"] = json!("https://attacker.example/oauth/v2/oauth-token"));
    let mut seen = vec![];
    let (result, trace) = run_recording(&mut lab, &hostile, Default::default(), &mut |r, sim| {
        seen.push(r.url.clone());
        if r.url.starts_with("https://attacker.example/") {
            attacker_answers_401(r)
        } else {
            sim.handle(r, NOW)
        }
    });
    let err = result.unwrap_err();
    assert_eq!(err.code(), "CREDENTIAL_DESTINATION_CHANGED");
    assert!(err.to_string().contains("https://attacker.example/oauth/v2/oauth-token"), "{err}");
    assert!(seen.is_empty(), "the configuration names the token endpoint, so nothing is sent, not even discovery: {seen:?}");
    let last = trace.steps.last().unwrap();
    assert_eq!((last.name, last.status), (Step::HaapiToken, Status::Failed));
    assert!(last.request.is_none());
    assert!(last.notes.iter().any(|n| n.contains("Nothing was sent")), "{:?}", last.notes);
    assert_eq!(lab.stored.len(), 1);
    assert_eq!(lab.stored[0].client_id, id, "the device keeps its client");
}

#[test]
fn a_link_with_a_hostile_send_via_is_refused_before_any_request() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 32, NOW).unwrap();
    lab.run(&cfg, NOW).unwrap();
    let hostile = with(cfg.to_json(), |v| v["server"]["sendVia"] = json!("https://attacker.example"));
    let mut seen = vec![];
    let (result, _) = run_recording(&mut lab, &hostile, Default::default(), &mut |r, _| {
        seen.push(r.url.clone());
        attacker_answers_401(r)
    });
    assert_eq!(result.unwrap_err().code(), "CREDENTIAL_DESTINATION_CHANGED");
    assert!(seen.is_empty(), "nothing may be sent, not even discovery: {seen:?}");
    assert_eq!(lab.stored.len(), 1);
}

#[test]
fn a_confirmed_new_destination_that_refuses_the_client_does_not_make_the_device_forget_it() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 33, NOW).unwrap();
    let id = lab.run(&cfg, NOW).unwrap().outcome.dynamic_client_id.unwrap();
    let elsewhere = with(cfg.to_json(), |v| v["server"]["endpoints"]["token"] = json!("https://attacker.example/oauth/v2/oauth-token"));
    let options = haapi_lab::client::flow::FlowOptions { allow_new_origin: true, ..Default::default() };
    let (result, trace) = run_recording(&mut lab, &elsewhere, options, &mut |r, sim| {
        if r.url.starts_with("https://attacker.example/") {
            attacker_answers_401(r)
        } else {
            sim.handle(r, NOW)
        }
    });
    assert!(result.is_err(), "the new destination refuses everything");
    let f4 = trace.steps.iter().find(|s| s.name == Step::HaapiToken).unwrap();
    assert!(f4.notes.iter().any(|n| n.contains("keeps it")), "{:?}", f4.notes);
    assert!(lab.stored.iter().any(|c| c.client_id == id), "a 401 from elsewhere never deletes the stored client");
    // And the original server still accepts it.
    let again = lab.run(&cfg, NOW.plus_secs(10)).unwrap();
    assert!(again.outcome.reused_stored_client);
}

#[test]
fn a_confirmed_proxy_to_the_same_server_is_remembered() {
    let cfg = demo();
    let mut lab = SimLab::new(&cfg, 34, NOW).unwrap();
    lab.run(&cfg, NOW).unwrap();
    let proxied = with(cfg.to_json(), |v| v["server"]["sendVia"] = json!("http://127.0.0.1:9000"));
    let refused = run_recording(&mut lab, &proxied, Default::default(), &mut |r, sim| sim.handle(r, NOW)).0.unwrap_err();
    assert_eq!(refused.code(), "CREDENTIAL_DESTINATION_CHANGED");
    let options = haapi_lab::client::flow::FlowOptions { allow_new_origin: true, ..Default::default() };
    let outcome = run_recording(&mut lab, &proxied, options, &mut |r, sim| sim.handle(r, NOW)).0.unwrap();
    assert!(outcome.reused_stored_client);
    assert_eq!(lab.stored.len(), 1);
    assert_eq!(lab.stored[0].destinations.len(), 2, "{:?}", lab.stored[0].destinations);
    // Confirmed once: the next run through the proxy needs no confirmation.
    let third = run_recording(&mut lab, &proxied, Default::default(), &mut |r, sim| sim.handle(r, NOW)).0;
    assert!(third.is_ok(), "{third:?}");
}

// --- Every failure reaches automation (issue 8, point 3) ---------------------------------------

#[test]
fn fields_the_method_does_not_use_are_ignored_with_a_note() {
    let cfg = config(json!({ "method": "client_secret_basic", "secret": "S3cret-main-client", "alg": "ES256", "audience": "https://x.example" }));
    let ignored: Vec<String> = cfg.ignored_fields().iter().map(|p| p.path.clone()).collect();
    assert_eq!(ignored, ["credential.alg", "credential.audience"]);
    let mut lab = SimLab::new(&cfg, 5, NOW).unwrap();
    let run = lab.run(&cfg, NOW).unwrap_or_else(|f| panic!("{}", f.error));
    let notes = run.trace.to_json(false)["notes"].clone();
    assert!(notes.to_string().contains("credential.alg") && notes.to_string().contains("ignored"), "{notes}");
}

#[test]
fn a_refused_configuration_is_the_traces_top_level_error() {
    let mut cfg = demo();
    cfg.credential.method = haapi_lab::client::config::Method::None;
    cfg.credential.alg = None;
    let mut lab = SimLab::new(&demo(), 1, NOW).unwrap();
    let failure = lab.run(&cfg, NOW).unwrap_err();
    let v = failure.trace.to_json(false);
    assert_eq!(v["steps"], json!([]));
    assert_eq!(v["error"]["code"], "CONFIG_INVALID");
    assert_eq!(v["error"]["problems"][0]["path"], "credential.method");
    assert!(v["error"]["message"].as_str().unwrap().len() > 10);
}

#[test]
fn the_run_result_is_redacted_as_the_trace_is() {
    let cfg = config(json!({ "method": "client_secret_post", "secret": "S3cret-main-client" }));
    let run = full_run(&cfg);
    let revealed = run.trace.to_json(true);
    let session =
        revealed["steps"].as_array().unwrap().iter().find_map(|s| s["response"]["headers"]["set-session-id"].as_str()).expect("a HAAPI session id").to_owned();
    let dynamic_secret =
        run.trace.last(Step::Registration).unwrap().response.as_ref().unwrap().json_object().unwrap()["client_secret"].as_str().unwrap().to_owned();
    let tokens = run.outcome.tokens.as_ref().unwrap();
    let mut result = json!({ "state": "succeeded", "outcome": run.outcome.to_json(false), "trace": run.trace.to_json(false) });
    // What an error or a paused question may quote is scrubbed too, as it is, form-encoded or JSON-escaped.
    result["error"] = json!({ "message": format!("the server said {session} for {dynamic_secret}; body client_secret=S3cret-main-client") });
    run.trace.scrub(&mut result);
    let text = result.to_string();
    for leak in [
        session.as_str(),
        dynamic_secret.as_str(),
        "S3cret-main-client",
        "Password1",
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
    ] {
        assert!(!text.contains(leak), "{leak} leaked in the run result");
    }
    assert_eq!(result["outcome"]["sessionId"], "[redacted]");
    assert!(result["outcome"]["tokens"]["accessToken"].as_str().unwrap().ends_with(".[redacted]"), "tokens keep header and claims");
    assert_eq!(result["error"]["message"], "the server said [redacted] for [redacted]; body client_secret=[redacted]");
}
