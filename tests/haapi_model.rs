//! Curity's published HAAPI representations (tests/fixtures/haapi/, from the sources in
//! docs/protocol.md §5) read into the model.

use haapi_lab::proto::haapi::{Kind, Model, Representation};

fn fixture(name: &str) -> Representation {
    let text = std::fs::read_to_string(format!("{}/tests/fixtures/haapi/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Representation::from_json(&serde_json::from_str(&text).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn redirection_step() {
    let r = fixture("redirect");
    assert_eq!(r.kind, Kind::RedirectionStep);
    let form = r.actions[0].form().unwrap();
    assert_eq!((r.actions[0].kind.as_str(), form.method.as_str()), ("redirect", "GET"));
    assert!(form.href.contains("resumePath=%2Fdev%2Foauth%2Fauthorize"));
}

#[test]
fn login_form_with_fields_and_a_forgot_password_link() {
    let r = fixture("login");
    let form = r.action("login").unwrap().form().unwrap();
    let names: Vec<_> = form.fields.iter().map(|f| (f.name.as_str(), f.kind.as_str(), f.label.as_deref())).collect();
    assert_eq!(names, [("userName", "username", Some("Username")), ("password", "password", Some("Password"))]);
    assert_eq!((form.href.as_str(), form.method.as_str(), form.action_title.as_deref()), ("/dev/authn/authenticate/htmlSql", "POST", Some("Login")));
    assert_eq!(r.link("forgot-password").unwrap().title.as_deref(), Some("Forgot your password?"));
}

#[test]
fn selector_options_are_actions() {
    let r = fixture("selector");
    let Model::Selector(options) = &r.action("authenticator-selector").unwrap().model else { panic!("not a selector") };
    let titles: Vec<_> = options.iter().map(|o| o.title.as_deref().unwrap()).collect();
    assert_eq!(titles, ["Username / password", "BankID"]);
    assert_eq!(options[1].properties["authenticatorType"], "bankid");
    assert_eq!(options[0].form().unwrap().href, "/dev/authn/authenticate/htmlSql");
}

#[test]
fn polling_pending_and_done() {
    let pending = fixture("polling-pending");
    assert_eq!((pending.kind.clone(), pending.property("status")), (Kind::PollingStep, Some("pending")));
    assert!(pending.action("poll").is_some() && pending.action("cancel").is_some());
    let done = fixture("polling-done");
    let redirect = done.action("redirect").unwrap().form().unwrap();
    assert_eq!((redirect.fields[0].name.as_str(), redirect.fields[0].value.as_deref(), redirect.fields[0].is_hidden()), ("moveOn", Some("true"), true));
}

#[test]
fn problems() {
    let invalid = fixture("invalid-input");
    assert_eq!(invalid.kind, Kind::Problem("invalid-input".into()));
    assert_eq!(invalid.invalid_fields[0].detail.as_deref(), Some("You have to enter your password"));
    assert_eq!(fixture("incorrect-credentials").title.as_deref(), Some("Incorrect credentials"));
    let mismatch = fixture("session-mismatch");
    assert_eq!((mismatch.kind.clone(), mismatch.code.as_deref()), (Kind::Problem("unexpected".into()), Some("authorization_failed")));
    assert!(mismatch.summary().contains("original DPoP keys"));
    assert_eq!(mismatch.link("restart").unwrap().href, "/dev/authn/authenticate");
}

#[test]
fn authorization_response() {
    let r = fixture("authorization-response");
    assert_eq!((r.kind.clone(), r.property("code"), r.property("state")), (Kind::AuthorizationResponse, Some("OZxymZHVjkEhf9fajYz0jNPOaJaQpXTg"), Some("foo")));
    assert!(r.link("authorization-response").unwrap().href.starts_with("https://localhost:7777/client-callback?code="));
}
