//! The authentication service (`paths.authentication`, default `/authn/authenticate`): an
//! authenticator selector, a username/password form (`html-form`, docs/protocol.md §5) and an
//! "approve on another device" polling authenticator.
//!
//! | path (below the service) | method | answer |
//! |---|---|---|
//! | (none) | GET | `authentication-step` with the `authenticator-selector` |
//! | `/username-password` | GET | the login form (`kind: login`, fields `userName`, `password`) |
//! | `/username-password` | POST | `redirection-step` back to authorize, or a problem |
//! | `/username-password/forgot-password` | GET | a message: not simulated |
//! | `/device-approval` | GET | `polling-step`, `pending` |
//! | `/device-approval/poll` | GET | `polling-step`: `pending`, `done` (with its `redirect`) or `failed` |
//! | `/device-approval/cancel` | POST | the selector again |
//! | `/device-approval/done` | POST | `redirection-step` back to authorize |

use super::{redirection, PollState, Simulator};
use crate::proto::clock::Timestamp;
use crate::proto::http::{HttpRequest, HttpResponse};
use crate::proto::url::Url;
use crate::sim::request::Form;
use crate::sim::response::SimError;
use crate::sim::settings::{ExternalUrls, PollingOutcome};
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;

impl Simulator {
    /// Any request below the authentication service.
    pub(in crate::sim) fn authentication_endpoint(
        &mut self,
        request: &HttpRequest,
        url: &Url,
        now: Timestamp,
        endpoints: &ExternalUrls,
    ) -> Result<HttpResponse, SimError> {
        let base = self.settings.paths.authentication.trim_end_matches('/').to_owned();
        let sub = url.path().strip_prefix(base.as_str()).unwrap_or("").trim_end_matches('/').to_owned();
        let own_url = format!("{}{}", endpoints.authentication, sub);
        let guarded = self.haapi_guard(request, &own_url, now, endpoints)?;
        let id = self.session_of(request, &guarded, now)?;
        let method = request.method.as_str();
        let body = match (sub.as_str(), method) {
            ("", "GET") => selector(&base),
            ("/username-password", "GET") => login_form(&base),
            ("/username-password", "POST") => self.check_password(request, &id, now)?,
            ("/username-password/forgot-password", "GET") => json!({
                "type": "authentication-step",
                "metadata": { "viewName": "authenticator/html-form/forgot-password/get" },
                "actions": [],
                "links": [{ "href": base, "rel": "restart", "title": "Back to the login" }],
                "messages": [{ "text": "Password reset is not simulated. The demo accounts are in the simulator's settings (authentication.users).", "classList": ["info"] }]
            }),
            ("/device-approval", "GET") => {
                if let Some(s) = self.store.sessions.lock().get_mut(&id) {
                    s.poll = Some(PollState::Pending { polls: 0 });
                }
                polling(&base, "pending")
            }
            ("/device-approval/poll", "GET") => self.poll(&base, &id)?,
            ("/device-approval/cancel", "POST") => {
                if let Some(s) = self.store.sessions.lock().get_mut(&id) {
                    s.poll = None;
                }
                selector(&base)
            }
            ("/device-approval/done", "POST") => {
                let approved = self.store.sessions.lock().get(&id).is_some_and(|s| s.poll == Some(PollState::Approved));
                if !approved {
                    return Err(self.problem(
                        "authentication-failed",
                        "Not approved",
                        json!({ "messages": [{ "text": "The other device has not approved this login.", "classList": ["error"] }] }),
                    ));
                }
                let subject = self.settings.authentication.polling_subject.clone();
                self.log_in(&id, subject, "mfa", now)?
            }
            (
                ""
                | "/username-password"
                | "/username-password/forgot-password"
                | "/device-approval"
                | "/device-approval/poll"
                | "/device-approval/cancel"
                | "/device-approval/done",
                _,
            ) => return Err(SimError::new(405, "method_not_allowed", format!("{} does not accept {method}", url.path()))),
            _ => {
                return Err(self.problem(
                    "unexpected",
                    "No such step",
                    json!({ "messages": [{ "text": format!("There is no authentication step at {}.", url.path()), "classList": ["error"] }] }),
                ))
            }
        };
        Ok(self.answer(&body, None, now))
    }

    /// The username/password form's `POST`.
    fn check_password(&mut self, request: &HttpRequest, id: &str, now: Timestamp) -> Result<Value, SimError> {
        let max = self.settings.authentication.max_failed_attempts;
        let failures = self.store.sessions.lock().get(id).map_or(0, |s| s.failures);
        if failures >= max {
            return Err(self.too_many(max));
        }
        let form = Form::parse(request)?;
        let missing: Vec<Value> = [("userName", "Enter your username"), ("password", "You have to enter your password")]
            .into_iter()
            .filter(|(name, _)| form.get(name).is_none())
            .map(|(name, detail)| json!({ "name": name, "reason": "invalidValue", "detail": detail }))
            .collect();
        if !missing.is_empty() {
            return Err(self.problem("invalid-input", "Form Errors", json!({ "invalidFields": missing })));
        }
        let (name, password) = (form.get("userName").unwrap_or(""), form.get("password").unwrap_or(""));
        let user = self
            .settings
            .authentication
            .users
            .iter()
            .find(|u| u.user_name == name && bool::from(u.password.expose().as_bytes().ct_eq(password.as_bytes())))
            .cloned();
        let Some(user) = user else {
            let failures = failures + 1;
            if let Some(s) = self.store.sessions.lock().get_mut(id) {
                s.failures = failures;
            }
            if failures >= max {
                return Err(self.too_many(max));
            }
            let left = max - failures;
            return Err(self.problem(
                "incorrect-credentials",
                "Incorrect credentials",
                json!({ "messages": [{ "text": format!("The username or the password is wrong. {left} attempt{} left.", if left == 1 { "" } else { "s" }), "classList": ["error"] }] }),
            ));
        };
        self.log_in(id, user.subject, "pwd", now)
    }

    fn too_many(&self, max: u32) -> SimError {
        self.problem(
            "too-many-attempts",
            "Too many attempts",
            json!({ "messages": [{ "text": format!("{max} wrong passwords: this session is locked. Start again at the authorization endpoint."), "classList": ["error"] }] }),
        )
    }

    /// Someone logged in: back to authorize, which now answers with the code.
    fn log_in(&mut self, id: &str, subject: String, amr: &'static str, now: Timestamp) -> Result<Value, SimError> {
        let authorize = self.settings.paths.authorize.clone();
        let mut sessions = self.store.sessions.lock();
        let session = sessions.get_mut(id).ok_or_else(|| SimError::server_error("the session vanished"))?;
        session.subject = Some(subject);
        session.amr = amr;
        session.auth_time = now.secs();
        session.poll = None;
        let href = if session.request.query.is_empty() { authorize } else { format!("{authorize}?{}", session.request.query) };
        Ok(redirection(&href))
    }

    /// One poll: counts, and ends as the page's other device or the settings decide.
    fn poll(&mut self, base: &str, id: &str) -> Result<Value, SimError> {
        let (outcome, after) = (self.settings.authentication.polling_outcome, self.settings.authentication.polls_until_outcome);
        let mut sessions = self.store.sessions.lock();
        let session = sessions.get_mut(id).ok_or_else(|| SimError::server_error("the session vanished"))?;
        let state = match session.poll.clone() {
            None => {
                return Err(self.problem(
                    "unexpected",
                    "Not polling",
                    json!({ "messages": [{ "text": "This session has not started the polling authenticator.", "classList": ["error"] }] }),
                ))
            }
            Some(PollState::Pending { polls }) => {
                let polls = polls + 1;
                let decided = match outcome {
                    PollingOutcome::Approve if polls >= after => PollState::Approved,
                    PollingOutcome::Deny if polls >= after => PollState::Denied,
                    _ => PollState::Pending { polls },
                };
                session.poll = Some(decided.clone());
                decided
            }
            Some(decided) => decided,
        };
        Ok(match state {
            PollState::Pending { .. } => polling(base, "pending"),
            PollState::Approved => polling(base, "done"),
            PollState::Denied => polling(base, "failed"),
        })
    }
}

/// The authenticator selector.
fn selector(base: &str) -> Value {
    json!({
        "type": "authentication-step",
        "metadata": { "viewName": "views/select-authenticator/index" },
        "actions": [{
            "template": "selector",
            "kind": "authenticator-selector",
            "title": "Select an authentication method",
            "model": { "options": [
                { "template": "form", "kind": "select-authenticator", "title": "Username and password", "properties": { "authenticatorType": "html-form" },
                  "model": { "href": format!("{base}/username-password"), "method": "GET" } },
                { "template": "form", "kind": "select-authenticator", "title": "Approve on another device", "properties": { "authenticatorType": "device-approval" },
                  "model": { "href": format!("{base}/device-approval"), "method": "GET" } }
            ] }
        }],
        "links": [],
        "messages": []
    })
}

/// The username/password form.
fn login_form(base: &str) -> Value {
    json!({
        "type": "authentication-step",
        "metadata": { "viewName": "authenticator/html-form/authenticate/get", "templateArea": "html1" },
        "actions": [{
            "template": "form",
            "kind": "login",
            "title": "Login",
            "model": {
                "href": format!("{base}/username-password"),
                "method": "POST",
                "type": "application/x-www-form-urlencoded",
                "actionTitle": "Login",
                "fields": [
                    { "name": "userName", "type": "username", "label": "Username" },
                    { "name": "password", "type": "password", "label": "Password" }
                ]
            }
        }],
        "links": [{ "href": format!("{base}/username-password/forgot-password"), "rel": "forgot-password", "title": "Forgot your password?" }],
        "messages": []
    })
}

/// A `polling-step` in `status`: `pending` (poll, cancel), `done` (redirect), `failed`.
fn polling(base: &str, status: &str) -> Value {
    let (actions, messages) = match status {
        "done" => (
            json!([{ "template": "form", "kind": "redirect", "model": { "href": format!("{base}/device-approval/done"), "method": "POST",
                "type": "application/x-www-form-urlencoded", "fields": [{ "name": "moveOn", "type": "hidden", "value": "true" }] } }]),
            json!([{ "text": "The other device approved the login.", "classList": ["info"] }]),
        ),
        "failed" => (json!([]), json!([{ "text": "The other device denied the login.", "classList": ["error"] }])),
        _ => (
            json!([
                { "template": "form", "kind": "poll", "model": { "href": format!("{base}/device-approval/poll"), "method": "GET" } },
                { "template": "form", "kind": "cancel", "title": "Cancel", "model": { "href": format!("{base}/device-approval/cancel"), "method": "POST",
                  "type": "application/x-www-form-urlencoded", "actionTitle": "Cancel" } }
            ]),
            json!([{ "text": "Approve the login on your other device.", "classList": ["info"] }]),
        ),
    };
    json!({
        "type": "polling-step",
        "metadata": { "viewName": "authenticator/device-approval/wait/index" },
        "properties": { "status": status, "recipientOfCommunication": "user" },
        "actions": actions,
        "links": [],
        "messages": messages
    })
}
