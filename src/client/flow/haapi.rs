//! The HAAPI walk after `authorize` (docs/protocol.md §5): the flow follows any representation,
//! not a script. A `redirection-step` is followed (or shown, with `followRedirects` false); an
//! authenticator selector picks the configured option; a form is filled from
//! `authentication.inputs` by the field names the representation gives; a `polling-step` is
//! polled until `done` or `failed`; a problem becomes a typed error that keeps the
//! representation; the `oauth-authorization-response` ends the walk with a code, exchanged for
//! tokens at the token endpoint.
//!
//! Where a person is needed (a value no configuration gives, a choice to make in the page, the
//! other device's answer), the flow asks with [`super::Next::Input`] and waits for
//! [`super::Flow::on_input`].

use super::steps;
use super::{Flow, Pending, Stage, Step};
use crate::client::client_auth::basic_authorization;
use crate::client::error::{Error, HaapiFailure};
use crate::client::trace::Status;
use crate::proto::clock::Timestamp;
use crate::proto::haapi::{Action, Form, Kind, Model, Representation, MEDIA_TYPE, PROBLEM_MEDIA_TYPE};
use crate::proto::http::{HttpRequest, HttpResponse, FORM, JSON};
use crate::proto::json;
use crate::proto::secret::Secret;
use crate::proto::url::Url;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most HAAPI representations in one run, polls not counted: a loop between representations
/// ends here.
pub const MAX_HAAPI_REQUESTS: u32 = 40;
/// Most polls before the flow gives up (a minute at the default `authentication.pollIntervalMs`).
pub const MAX_POLLS: u32 = 60;

/// A selector's option, as a person sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceOption {
    /// Its title.
    pub title: String,
    /// Where it leads.
    pub href: String,
    /// `properties.authenticatorType`, when given.
    pub authenticator_type: Option<String>,
}

/// A form field, as a person fills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequest {
    /// The name the value is sent under.
    pub name: String,
    /// `username`, `password`, `text`, `hidden`, …
    pub kind: String,
    /// Its label.
    pub label: Option<String>,
    /// The value it will be sent with, if it has one (the server's, or `authentication.inputs`).
    pub value: Option<String>,
}

/// What the flow needs from outside to go on.
#[derive(Clone, Debug, PartialEq)]
pub enum InputKind {
    /// Pick an authenticator: answer [`InputAnswer::Choose`].
    Choose {
        /// The options.
        options: Vec<ChoiceOption>,
        /// The one the configuration picks, if any.
        configured: Option<usize>,
    },
    /// Fill a form: answer [`InputAnswer::Values`] (missing values are taken from
    /// [`FieldRequest::value`]).
    Form {
        /// The action's title.
        title: Option<String>,
        /// Its button.
        action_title: Option<String>,
        /// The fields.
        fields: Vec<FieldRequest>,
        /// Fields without a value (the run cannot go on without them).
        missing: Vec<String>,
    },
    /// A redirect to follow (`followRedirects` false): answer [`InputAnswer::Proceed`].
    Redirect {
        /// Where it leads.
        href: String,
    },
    /// The other device has not answered yet: wait about `interval_ms`, then answer
    /// [`InputAnswer::Proceed`] to poll again, or [`InputAnswer::Cancel`].
    Poll {
        /// Polls so far.
        polls: u32,
        /// How long to wait before the next poll.
        interval_ms: u64,
    },
}

/// A question the flow asks ([`super::Next::Input`]).
#[derive(Clone, Debug, PartialEq)]
pub struct InputRequest {
    /// What is needed.
    pub kind: InputKind,
    /// The representation it comes from (as received).
    pub representation: Value,
    /// The problem the last answer caused (a wrong password), when there was one; its error is in
    /// the trace.
    pub problem: Option<Value>,
    /// True when the run was started by a person ([`super::FlowOptions::interactive`]).
    pub interactive: bool,
}

impl InputRequest {
    /// The request as JSON, for the page: `{kind, …, representation, problem}`.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.kind {
            InputKind::Choose { options, configured } => json!({
                "kind": "choose",
                "options": options.iter().map(|o| json!({ "title": o.title, "href": o.href, "authenticatorType": o.authenticator_type })).collect::<Vec<_>>(),
                "configured": configured,
            }),
            InputKind::Form { title, action_title, fields, missing } => json!({
                "kind": "form",
                "title": title,
                "actionTitle": action_title,
                // A value is shown only for fields a person does not type (hidden ones): typed
                // values (a password from the configuration) stay out of what the page keeps.
                "fields": fields.iter().map(|f| json!({ "name": f.name, "type": f.kind, "label": f.label, "hasValue": f.value.is_some(),
                    "value": if matches!(f.kind.as_str(), "hidden" | "context") { f.value.clone() } else { None } })).collect::<Vec<_>>(),
                "missing": missing,
            }),
            InputKind::Redirect { href } => json!({ "kind": "redirect", "href": href }),
            InputKind::Poll { polls, interval_ms } => json!({ "kind": "poll", "polls": polls, "intervalMs": interval_ms }),
        };
        v["representation"] = self.representation.clone();
        crate::proto::redact::redact_value(&mut v["representation"]);
        v["problem"] = self.problem.clone().unwrap_or(Value::Null);
        v["interactive"] = self.interactive.into();
        v
    }
}

/// The answer to an [`InputRequest`].
#[derive(Clone, PartialEq)]
pub enum InputAnswer {
    /// Form values by field name (fields left out keep the value the request showed).
    Values(BTreeMap<String, String>),
    /// The index of the chosen option.
    Choose(usize),
    /// Go on (follow the redirect, poll again).
    Proceed,
    /// Cancel (the polling authenticator's cancel action).
    Cancel,
    /// Nobody can answer: the run ends with the error the question stands for.
    GiveUp,
}

impl std::fmt::Debug for InputAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputAnswer::Values(v) => write!(f, "Values({:?} [values redacted])", v.keys().collect::<Vec<_>>()),
            InputAnswer::Choose(i) => write!(f, "Choose({i})"),
            InputAnswer::Proceed => f.write_str("Proceed"),
            InputAnswer::Cancel => f.write_str("Cancel"),
            InputAnswer::GiveUp => f.write_str("GiveUp"),
        }
    }
}

/// What the flow asked about, kept to act on the answer.
#[derive(Clone, Debug)]
pub(super) enum Asked {
    Choice(Vec<Action>),
    Form { form: Form, values: BTreeMap<String, String> },
    Redirect(Form),
    Poll { poll: Form, cancel: Option<Form> },
}

/// The next HAAPI call.
#[derive(Clone, Debug)]
pub(super) struct HaapiCall {
    pub method: String,
    pub url: String,
    pub body: Option<(String, String)>,
}

/// The tokens the code bought.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// The DPoP-bound access token.
    pub access_token: Secret,
    /// The ID token, if the scope had `openid`.
    pub id_token: Option<Secret>,
    /// The refresh token, if one came.
    pub refresh_token: Option<Secret>,
    /// `expires_in`.
    pub expires_in: Option<u64>,
    /// The granted scope.
    pub scope: Option<String>,
}

/// The HAAPI walk's state.
#[derive(Clone, Debug, Default)]
pub(super) struct Walk {
    pub session_id: Option<Secret>,
    pub next: Option<HaapiCall>,
    /// The last form a person or the configuration filled (to ask again after a problem).
    pub last_form: Option<(Form, Value)>,
    pub requests: u32,
    pub polls: u32,
    pub code: Option<Secret>,
    pub tokens: Option<Tokens>,
    pub last_representation: Option<Value>,
    pub subject: Option<String>,
    /// A polling authenticator was cancelled: the next selector is asked, not chosen again.
    pub cancelled: bool,
    /// The last form was sent with values a person gave (an answer), not by the configuration.
    pub person_filled: bool,
    /// Notes made between steps, for the next one.
    pub carried_notes: Vec<String>,
}

fn haapi_error(step: Step, failure: HaapiFailure, message: String, resp: Option<&HttpResponse>) -> Error {
    Error::Haapi { step, failure, message, status: resp.map(|r| r.status), body: resp.map(|r| r.body.clone()).unwrap_or_default() }
}

impl Flow {
    /// The server's base URL, against which `href`s resolve (docs/protocol.md §5: relative hrefs
    /// resolve against the server's base URL): the authorization endpoint's origin.
    fn base(&self) -> Result<Url, Error> {
        let authorize = &self.endpoints.as_ref().ok_or_else(|| Error::State("no endpoints".into()))?.authorization;
        let u = Url::parse(authorize).map_err(|e| Error::State(e.to_string()))?;
        Url::parse(&u.origin()).map_err(|e| Error::State(e.to_string()))
    }

    /// A HAAPI call for a form action and its values. A target on another origin is refused: the
    /// HAAPI token and the session never leave the server they belong to (Curity's SDKs refuse
    /// off-origin targets too, docs/protocol.md §11).
    fn call_for(&self, form: &Form, values: &BTreeMap<String, String>, step: Step) -> Result<HaapiCall, Error> {
        let base = self.base()?;
        let url = base
            .join(&form.href)
            .map_err(|e| haapi_error(step, HaapiFailure::BadTarget, format!("the representation's href {:?} cannot be followed: {e}", form.href), None))?;
        if url.origin() != base.origin() {
            return Err(haapi_error(
                step,
                HaapiFailure::OffOriginTarget,
                format!(
                    "the representation points to {}, another origin than the server's {}: the HAAPI token and session are not sent there",
                    url,
                    base.origin()
                ),
                None,
            ));
        }
        let pairs: Vec<(&str, &str)> = form.fields.iter().filter_map(|f| values.get(&f.name).map(|v| (f.name.as_str(), v.as_str()))).collect();
        let method = form.method.to_ascii_uppercase();
        if method == "GET" {
            let mut target = url.to_string();
            if !pairs.is_empty() {
                target.push(if url.query().is_some() { '&' } else { '?' });
                target.push_str(&crate::proto::http::encode_form(pairs.iter().copied()));
            }
            return Ok(HaapiCall { method, url: target, body: None });
        }
        let body = match form.media_type.as_deref() {
            Some(JSON) => (JSON.to_owned(), json::object_of(pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))).to_string()),
            _ => (FORM.to_owned(), crate::proto::http::encode_form(pairs.iter().copied())),
        };
        Ok(HaapiCall { method, url: url.to_string(), body: Some(body) })
    }

    /// The request of the next HAAPI call (method, URL, body, headers but the proof).
    pub(super) fn prepare_haapi(&self, call: &HaapiCall, token: &Secret) -> HttpRequest {
        let mut r = HttpRequest::new(&call.method, call.url.clone());
        r.headers.set("accept", format!("{MEDIA_TYPE}, {PROBLEM_MEDIA_TYPE}"));
        r.headers.set("authorization", format!("DPoP {}", token.expose()));
        if let Some(id) = &self.walk.session_id {
            r.headers.set("session-id", id.expose());
        }
        if let Some((media_type, body)) = &call.body {
            r.headers.set("content-type", media_type);
            r.body = Some(body.clone());
        }
        r
    }

    /// Judges a response to `authorize` or an `authenticate` call.
    pub(super) fn process_haapi(&mut self, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let step = self.current_step();
        if let Some(id) = resp.header("set-session-id") {
            self.trace.keep_secret(Some(id));
            self.walk.session_id = Some(Secret::new(id));
        }
        let media = resp.media_type();
        if media.as_deref() == Some(PROBLEM_MEDIA_TYPE) || (resp.status >= 400 && media.as_deref() == Some(MEDIA_TYPE)) {
            return self.on_problem(resp, now);
        }
        let representation = steps::process_representation(step, resp)?;
        let rep = Representation::from_json(&representation)
            .map_err(|e| haapi_error(step, HaapiFailure::Malformed, format!("the representation cannot be read: {e}"), Some(resp)))?;
        self.walk.last_representation = Some(representation.clone());
        self.representation = Some(representation);
        self.note(describe(&rep, self.walk.session_id.is_some() && resp.header("set-session-id").is_some()));
        self.on_representation(rep, resp, now)
    }

    fn on_representation(&mut self, rep: Representation, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let step = self.current_step();
        // Polls have their own cap (MAX_POLLS); every other representation counts here.
        if rep.kind != Kind::PollingStep {
            self.walk.requests += 1;
        }
        if self.walk.requests > MAX_HAAPI_REQUESTS {
            return Err(haapi_error(
                step,
                HaapiFailure::TooManySteps,
                format!("{MAX_HAAPI_REQUESTS} HAAPI requests without an authorization response: the representations loop"),
                Some(resp),
            ));
        }
        let interactive = self.options.interactive;
        match &rep.kind {
            Kind::AuthorizationResponse => return self.on_authorization_response(&rep, resp, now),
            Kind::RedirectionStep => {
                let form = rep
                    .actions
                    .first()
                    .and_then(Action::form)
                    .cloned()
                    .ok_or_else(|| haapi_error(step, HaapiFailure::Malformed, "a redirection-step without a form action to follow".into(), Some(resp)))?;
                if self.config.authentication.follow_redirects {
                    self.walk.next = Some(self.call_for(&form, &hidden_values(&form), step)?);
                    self.complete_into(Stage::Authenticate, now);
                } else {
                    let href = form.href.clone();
                    self.complete_into(Stage::Authenticate, now);
                    self.ask(InputKind::Redirect { href }, rep.raw, None, super::haapi::Asked::Redirect(form));
                }
            }
            Kind::PollingStep => match rep.property("status") {
                Some("done") => {
                    let form =
                        rep.action("redirect").and_then(Action::form).or_else(|| rep.actions.first().and_then(Action::form)).cloned().ok_or_else(|| {
                            haapi_error(step, HaapiFailure::Malformed, "a polling-step that is done without a redirect action".into(), Some(resp))
                        })?;
                    self.note(format!("The other device approved after {} poll{}.", self.walk.polls, if self.walk.polls == 1 { "" } else { "s" }));
                    self.walk.next = Some(self.call_for(&form, &hidden_values(&form), step)?);
                    self.complete_into(Stage::Authenticate, now);
                }
                Some("failed") => {
                    return Err(haapi_error(
                        step,
                        HaapiFailure::PollingFailed,
                        format!("the polling step failed: {}", or_default(rep.summary(), "the other device did not approve")),
                        Some(resp),
                    ))
                }
                _ => {
                    let poll = rep
                        .action("poll")
                        .and_then(Action::form)
                        .cloned()
                        .ok_or_else(|| haapi_error(step, HaapiFailure::Malformed, "a pending polling-step without a poll action".into(), Some(resp)))?;
                    let cancel = rep.action("cancel").and_then(Action::form).cloned();
                    if self.walk.polls >= MAX_POLLS {
                        return Err(haapi_error(
                            step,
                            HaapiFailure::PollingTimedOut,
                            format!("no answer from the other device after {MAX_POLLS} polls"),
                            Some(resp),
                        ));
                    }
                    self.complete_into(Stage::Authenticate, now);
                    let polls = self.walk.polls;
                    self.ask(
                        InputKind::Poll { polls, interval_ms: u64::from(self.config.authentication.poll_interval_ms) },
                        rep.raw,
                        None,
                        Asked::Poll { poll, cancel },
                    );
                }
            },
            Kind::Problem(_) => return self.on_problem(resp, now),
            Kind::Other(t) => {
                return Err(haapi_error(step, HaapiFailure::Unsupported, format!("representation type {t:?} is not one this lab follows"), Some(resp)))
            }
            _ => {
                if let Some(selector) = rep.actions.iter().find(|a| a.template == "selector") {
                    let Model::Selector(options) = &selector.model else { unreachable!("a selector's model is a selector") };
                    let choices: Vec<super::haapi::ChoiceOption> = options
                        .iter()
                        .map(|o| ChoiceOption {
                            title: o.title.clone().unwrap_or_default(),
                            href: o.form().map(|f| f.href.clone()).unwrap_or_default(),
                            authenticator_type: o.properties.get("authenticatorType").and_then(Value::as_str).map(str::to_owned),
                        })
                        .collect();
                    let configured = match &self.config.authentication.authenticator {
                        None => (!choices.is_empty()).then_some(0),
                        Some(want) => {
                            Some(choices.iter().position(|c| c.title == *want || c.href == *want || c.authenticator_type.as_deref() == Some(want)).ok_or_else(
                                || {
                                    haapi_error(
                                        step,
                                        HaapiFailure::AuthenticatorNotFound,
                                        format!(
                                            "authentication.authenticator {want:?} is not an option here; the options are {}",
                                            choices.iter().map(|c| format!("{:?}", c.title)).collect::<Vec<_>>().join(", ")
                                        ),
                                        Some(resp),
                                    )
                                },
                            )?)
                        }
                    };
                    let ask = interactive || std::mem::take(&mut self.walk.cancelled);
                    let Some(index) = configured.filter(|_| !ask) else {
                        self.complete_into(Stage::Authenticate, now);
                        self.ask(InputKind::Choose { options: choices, configured }, rep.raw, None, Asked::Choice(options.clone()));
                        return Ok(());
                    };
                    self.note(format!("Chose the authenticator {:?}.", choices[index].title));
                    let form = options[index]
                        .form()
                        .cloned()
                        .ok_or_else(|| haapi_error(step, HaapiFailure::Unsupported, "a selector option that is not a form".into(), Some(resp)))?;
                    self.walk.next = Some(self.call_for(&form, &hidden_values(&form), step)?);
                    self.complete_into(Stage::Authenticate, now);
                } else if let Some(form) = rep.actions.iter().find_map(Action::form).cloned() {
                    self.walk.last_form = Some((form.clone(), rep.raw.clone()));
                    self.fill(form, rep.raw, None, now)?;
                } else if let Some(Action { model: Model::ClientOperation { name, .. }, .. }) = rep.actions.first() {
                    return Err(haapi_error(
                        step,
                        HaapiFailure::Unsupported,
                        format!("the step asks for the client operation {name:?}, which only an app can perform"),
                        Some(resp),
                    ));
                } else {
                    return Err(haapi_error(step, HaapiFailure::Unsupported, format!("a {} with no action this lab can follow", rep.type_name), Some(resp)));
                }
            }
        }
        Ok(())
    }

    /// Fills a form from `authentication.inputs` (and the server's values); asks when a value is
    /// missing, when a person runs the flow, or after a problem.
    fn fill(&mut self, form: Form, representation: Value, problem: Option<Value>, now: Timestamp) -> Result<(), Error> {
        let step = self.current_step();
        let mut values = hidden_values(&form);
        for f in form.fields.iter().filter(|f| !f.is_hidden()) {
            if let Some(v) = self.config.authentication.inputs.get(&f.name).cloned().or_else(|| f.value.clone()) {
                values.insert(f.name.clone(), v);
            }
        }
        let missing: Vec<String> = form.fields.iter().filter(|f| !f.is_hidden() && !values.contains_key(&f.name)).map(|f| f.name.clone()).collect();
        if missing.is_empty() && problem.is_none() && !self.options.interactive {
            self.walk.person_filled = false;
            self.note(format!(
                "Filled the form's fields ({}) from authentication.inputs.",
                form.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
            self.keep_typed_secrets(&form, &values);
            self.walk.next = Some(self.call_for(&form, &values, step)?);
            self.complete_into(Stage::Authenticate, now);
            return Ok(());
        }
        let fields = form
            .fields
            .iter()
            .map(|f| FieldRequest { name: f.name.clone(), kind: f.kind.clone(), label: f.label.clone(), value: values.get(&f.name).cloned() })
            .collect();
        let title = None;
        let action_title = form.action_title.clone();
        if !missing.is_empty() {
            self.note(format!("The form needs {}: the run waits for a value (authentication.inputs has none).", missing.join(", ")));
        }
        self.complete_into(Stage::Authenticate, now);
        self.ask(InputKind::Form { title, action_title, fields, missing }, representation, problem, Asked::Form { form, values });
        Ok(())
    }

    /// The values of a form's password fields (and of fields named like secrets) are redacted
    /// wherever the trace shows them, whatever the field is called.
    fn keep_typed_secrets(&mut self, form: &Form, values: &BTreeMap<String, String>) {
        for f in form.fields.iter().filter(|f| f.kind == "password" || super::secret_input(&f.name)) {
            self.trace.keep_secret(values.get(&f.name).map(String::as_str));
        }
    }

    fn ask(&mut self, kind: InputKind, representation: Value, problem: Option<Value>, asked: Asked) {
        let request = InputRequest { kind, representation, problem, interactive: self.options.interactive };
        self.pending = Pending::Asking(Box::new((request, asked)));
    }

    /// Hands the flow the answer to its [`super::Next::Input`].
    pub fn on_input(&mut self, answer: InputAnswer, now: Timestamp) -> Result<(), Error> {
        let Pending::Asking(asked) = std::mem::replace(&mut self.pending, Pending::Nothing) else {
            return Err(Error::State("no question was asked".into()));
        };
        let (request, asked) = *asked;
        let step = Step::Authenticate;
        let result = match (answer, asked) {
            (InputAnswer::GiveUp, _) => Err(match (&request.kind, &request.problem) {
                (_, Some(problem)) => problem_error(step, problem, None),
                (InputKind::Form { missing, .. }, None) => haapi_error(
                    step,
                    HaapiFailure::InputRequired,
                    format!("the form needs {} and nobody gave a value: add them to authentication.inputs", missing.join(", ")),
                    None,
                ),
                (InputKind::Choose { .. }, None) => {
                    haapi_error(step, HaapiFailure::InputRequired, "an authenticator must be chosen and nobody chose one".into(), None)
                }
                (InputKind::Redirect { .. }, None) => haapi_error(step, HaapiFailure::InputRequired, "a redirect waits to be followed".into(), None),
                (InputKind::Poll { .. }, None) => haapi_error(step, HaapiFailure::PollingTimedOut, "nobody waited for the other device".into(), None),
            }),
            (InputAnswer::Choose(i), Asked::Choice(options)) => match options.get(i).and_then(Action::form) {
                Some(form) => {
                    self.note(format!("Chose the authenticator {:?}.", options[i].title.as_deref().unwrap_or(&form.href)));
                    self.walk.next = Some(self.call_for(form, &hidden_values(form), step)?);
                    Ok(())
                }
                None => Err(Error::State(format!("option {i} does not exist"))),
            },
            (answer @ (InputAnswer::Values(_) | InputAnswer::Proceed), Asked::Form { form, mut values }) => {
                if let InputAnswer::Values(given) = answer {
                    for f in form.fields.iter().filter(|f| !f.is_hidden()) {
                        if let Some(v) = given.get(&f.name) {
                            values.insert(f.name.clone(), v.clone());
                        }
                    }
                }
                let missing: Vec<String> = form.fields.iter().filter(|f| !f.is_hidden() && !values.contains_key(&f.name)).map(|f| f.name.clone()).collect();
                if !missing.is_empty() {
                    self.pending = Pending::Asking(Box::new((request, Asked::Form { form, values })));
                    return Err(Error::State(format!("the form still needs {}", missing.join(", "))));
                }
                self.walk.person_filled = true;
                self.keep_typed_secrets(&form, &values);
                self.note(format!("Sent the form with the values given ({}).", form.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")));
                self.walk.next = Some(self.call_for(&form, &values, step)?);
                Ok(())
            }
            (InputAnswer::Proceed, Asked::Redirect(form)) => {
                self.note("Followed the redirection-step (followRedirects is false, so the run waited).".into());
                self.walk.next = Some(self.call_for(&form, &hidden_values(&form), step)?);
                Ok(())
            }
            (InputAnswer::Proceed, Asked::Poll { poll, .. }) => {
                self.walk.polls += 1;
                self.walk.next = Some(self.call_for(&poll, &hidden_values(&poll), step)?);
                Ok(())
            }
            (InputAnswer::Cancel, Asked::Poll { cancel: Some(cancel), .. }) => {
                self.walk.cancelled = true;
                self.note("Cancelled the polling authenticator (its cancel action).".into());
                self.walk.next = Some(self.call_for(&cancel, &hidden_values(&cancel), step)?);
                Ok(())
            }
            (answer, asked) => {
                let text = format!("the answer {answer:?} does not fit the question ({})", request.to_json()["kind"]);
                self.pending = Pending::Asking(Box::new((request, asked)));
                return Err(Error::State(text));
            }
        };
        match result {
            Ok(()) => {
                self.stage = Stage::Authenticate;
                Ok(())
            }
            Err(e) => Err(self.fail(e, now)),
        }
    }

    /// A problem (`application/problem+json`): a wrong password or a missing field asks a person
    /// for the form again (when a person runs the flow or filled the form); anything else, and
    /// a form the configuration filled, ends the run. Either way the problem is a typed error in
    /// the trace, with the representation.
    fn on_problem(&mut self, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let step = self.current_step();
        let body: Value = crate::proto::json::parse(&resp.body).unwrap_or(Value::Null);
        let rep = Representation::from_json(&body).ok();
        let recoverable = matches!(rep.as_ref().map(|r| &r.kind), Some(Kind::Problem(p)) if p == "incorrect-credentials" || p == "invalid-input")
            && (self.options.interactive || self.walk.person_filled);
        let error = problem_error(step, &body, Some(resp));
        let last_form = self.walk.last_form.clone();
        match (recoverable, last_form) {
            (true, Some((form, representation))) => {
                if let Some(mut r) = self.record.take() {
                    r.status = Status::Failed;
                    r.error = Some(error.to_json());
                    r.notes.push(super::text::problem_advice(&error));
                    r.duration_ms = r.started_at.map(|s| now.millis().saturating_sub(s));
                    self.trace.steps.push(r);
                }
                self.stage = Stage::Authenticate;
                let mut values = hidden_values(&form);
                // Ask again: the values that caused the problem are not offered again.
                for f in form.fields.iter().filter(|f| !f.is_hidden() && f.kind != "password") {
                    if let Some(v) = self.config.authentication.inputs.get(&f.name) {
                        values.insert(f.name.clone(), v.clone());
                    }
                }
                let fields = form
                    .fields
                    .iter()
                    .map(|f| FieldRequest { name: f.name.clone(), kind: f.kind.clone(), label: f.label.clone(), value: values.get(&f.name).cloned() })
                    .collect();
                let missing = form.fields.iter().filter(|f| !f.is_hidden() && !values.contains_key(&f.name)).map(|f| f.name.clone()).collect();
                self.ask(
                    InputKind::Form { title: None, action_title: form.action_title.clone(), fields, missing },
                    representation,
                    Some(body),
                    Asked::Form { form, values },
                );
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// The end of the walk: the code (RFC 6749 §4.1.2), with `state` and `iss` checked (RFC 9207).
    fn on_authorization_response(&mut self, rep: &Representation, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let step = self.current_step();
        if let Some(error) = rep.property("error") {
            return Err(haapi_error(
                step,
                HaapiFailure::AuthorizationError,
                format!("the authorization response is an error: {error}: {}", rep.property("error_description").unwrap_or("")),
                Some(resp),
            ));
        }
        let code = rep
            .property("code")
            .ok_or_else(|| haapi_error(step, HaapiFailure::Malformed, "the authorization response has no properties.code".into(), Some(resp)))?;
        if rep.property("state") != Some(self.state.as_str()) {
            return Err(haapi_error(
                step,
                HaapiFailure::StateMismatch,
                format!("the authorization response's state {:?} is not the one sent (RFC 6749 §10.12)", rep.property("state")),
                Some(resp),
            ));
        }
        let issuer = &self.config.server.issuer;
        if let Some(iss) = rep.property("iss").filter(|i| i != issuer) {
            return Err(haapi_error(
                step,
                HaapiFailure::IssuerMismatch,
                format!("the authorization response's iss {iss:?} is not the configured issuer {issuer:?} (RFC 9207 §2.4: a mix-up)"),
                Some(resp),
            ));
        }
        self.walk.code = Some(Secret::new(code));
        self.note("The authorization response carries the code; state and iss match what was sent.".into());
        let next = if self.config.authentication.code_exchange { Stage::CodeExchange } else { Stage::Done };
        self.complete_into(next, now);
        Ok(())
    }

    /// The code exchange request (RFC 6749 §4.1.3, RFC 7636 §4.5): the dynamic client, the code,
    /// the redirect URI, the PKCE verifier; the DPoP proof is added by the caller.
    pub(super) fn prepare_code_exchange(&self) -> Result<HttpRequest, Error> {
        let client = self.client.as_ref().ok_or_else(|| Error::State("code exchange without a client".into()))?;
        let code = self.walk.code.as_ref().ok_or_else(|| Error::State("code exchange without a code".into()))?;
        let token = &self.endpoints.as_ref().ok_or_else(|| Error::State("no endpoints".into()))?.token;
        let mut r = HttpRequest::form(
            token.clone(),
            &[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", &self.config.client.redirect_uri),
                ("code_verifier", self.code_verifier.expose()),
            ],
        );
        r.headers.set("accept", JSON);
        if client.token_endpoint_auth_method == "client_secret_post" {
            r.set_form_param("client_id", &client.client_id);
            r.set_form_param("client_secret", client.client_secret.expose());
        } else {
            r.headers.set("authorization", basic_authorization(&client.client_id, client.client_secret.expose()));
        }
        Ok(r)
    }

    /// Judges the tokens (RFC 6749 §5.1): a DPoP-bound access token; an ID token whose `iss`,
    /// `aud` and `exp` fit (OpenID Connect Core §3.1.3.7; its signature is not checked: it came
    /// straight from the token endpoint over TLS, which §3.1.3.7 point 6 allows).
    pub(super) fn process_code_exchange(&mut self, resp: &HttpResponse, now: Timestamp) -> Result<(), Error> {
        let step = Step::CodeExchange;
        let token = steps::process_token(step, resp, "DPoP", "")?;
        let obj = resp.json_object().unwrap_or_default();
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let id_token = text("id_token");
        if let Some(id) = &id_token {
            let decoded = crate::proto::jose::decode_unverified(id).map_err(|e| {
                steps::exchange(
                    step,
                    crate::client::error::Fault::NotAJwt,
                    resp,
                    format!("the id_token is not a JWT ({e}); an ID token is always a signed JWT (OpenID Connect Core §2)"),
                )
            })?;
            let c = &decoded.claims;
            let client_id = self.client.as_ref().map(|c| c.client_id.clone()).unwrap_or_default();
            if c.get("iss").and_then(Value::as_str) != Some(self.config.server.issuer.as_str()) {
                return Err(haapi_error(
                    step,
                    HaapiFailure::IssuerMismatch,
                    format!("the id_token's iss {:?} is not the configured issuer", c.get("iss")),
                    Some(resp),
                ));
            }
            let aud_ok = match c.get("aud") {
                Some(Value::String(a)) => *a == client_id,
                Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client_id.as_str())),
                _ => false,
            };
            if !aud_ok {
                return Err(haapi_error(
                    step,
                    HaapiFailure::Malformed,
                    format!("the id_token's aud does not contain the client {client_id:?} (OpenID Connect Core §3.1.3.7)"),
                    Some(resp),
                ));
            }
            if c.get("exp").and_then(Value::as_u64).is_none_or(|exp| exp <= now.secs()) {
                return Err(haapi_error(step, HaapiFailure::Malformed, "the id_token has expired (or has no exp)".into(), Some(resp)));
            }
            self.walk.subject = c.get("sub").and_then(Value::as_str).map(str::to_owned);
        }
        self.note(format!(
            "Got a DPoP-bound access token{}{}{}.",
            token.expires_in.map(|s| format!(" (valid {s} s)")).unwrap_or_default(),
            if id_token.is_some() { ", an ID token" } else { "" },
            if obj.contains_key("refresh_token") { " and a refresh token" } else { "" }
        ));
        self.walk.tokens = Some(Tokens {
            access_token: token.access_token,
            id_token: id_token.map(Secret::new),
            refresh_token: text("refresh_token").map(Secret::new),
            expires_in: token.expires_in,
            scope: text("scope"),
        });
        self.complete_into(Stage::Done, now);
        Ok(())
    }

    /// Completes the step in progress and goes to `next` (unless `stopAfter` ends the run here).
    pub(super) fn complete_into(&mut self, next: Stage, now: Timestamp) {
        if let Some(mut r) = self.record.take() {
            if r.duration_ms.is_none() {
                r.duration_ms = r.started_at.map(|s| now.millis().saturating_sub(s));
            }
            self.trace.steps.push(r);
        }
        let finished = self.trace.steps.last().map(|s| s.name);
        let next_step = super::step_of(next);
        self.stage = if finished.is_some() && finished == self.config.stop_after && next_step != finished { Stage::Done } else { next };
    }
}

/// The values a form sends without asking: its hidden fields'.
fn hidden_values(form: &Form) -> BTreeMap<String, String> {
    json::map_of(form.fields.iter().filter(|f| f.is_hidden()).filter_map(|f| f.value.clone().map(|v| (f.name.clone(), v))))
}

fn or_default(s: String, default: &str) -> String {
    if s.is_empty() {
        default.to_owned()
    } else {
        s
    }
}

/// A problem as a typed error (`HAAPI_PROBLEM`), keeping the representation.
fn problem_error(step: Step, body: &Value, resp: Option<&HttpResponse>) -> Error {
    let rep = Representation::from_json(body).ok();
    let kind = match rep.as_ref().map(|r| r.kind.clone()) {
        Some(Kind::Problem(p)) => p,
        _ => "unknown".into(),
    };
    let summary = rep.as_ref().map(Representation::summary).unwrap_or_default();
    Error::Problem {
        step,
        status: resp.map(|r| r.status).unwrap_or(0),
        problem: kind,
        title: rep.as_ref().and_then(|r| r.title.clone()).unwrap_or_default(),
        detail: summary,
        body: resp.map(|r| r.body.clone()).unwrap_or_else(|| body.to_string()),
    }
}

/// One sentence on what a representation is.
fn describe(rep: &Representation, new_session: bool) -> String {
    let session = if new_session { " The server opened a HAAPI session (Set-Session-Id): every later request sends it back as Session-Id." } else { "" };
    let what = match &rep.kind {
        Kind::RedirectionStep => "a redirection-step: its one action says where to go next".to_owned(),
        Kind::PollingStep => format!("a polling-step, status {}", rep.property("status").unwrap_or("?")),
        Kind::AuthorizationResponse => "the oauth-authorization-response, with the authorization code".to_owned(),
        Kind::AuthenticationStep if rep.actions.iter().any(|a| a.template == "selector") => "an authentication-step with an authenticator selector".to_owned(),
        Kind::AuthenticationStep => {
            format!("an authentication-step{}", rep.actions.first().map(|a| format!(" ({} {})", a.template, a.kind)).unwrap_or_default())
        }
        _ => format!("a {} representation", rep.type_name),
    };
    format!("The server answered with {what}.{session}")
}
