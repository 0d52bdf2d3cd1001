//! The HAAPI representation model (`application/vnd.auth+json`, problems as
//! `application/problem+json`): what Curity's Hypermedia Authentication API answers, read into
//! types that a client can walk and a page can draw (docs/protocol.md §5).
//!
//! A representation has a `type` (a step, or a problem URI), `metadata`, `properties`,
//! `actions` (forms, selectors, client operations), `links` and `messages`. Reading is lenient
//! about what it does not need (unknown members are kept in [`Representation::raw`]) and strict
//! about what it does: an action without a model, a form without `href`, a field without a
//! `name` is an error that says where.

use serde_json::{Map, Value};

/// The HAAPI media type.
pub const MEDIA_TYPE: &str = "application/vnd.auth+json";
/// The media type of problems (RFC 7807).
pub const PROBLEM_MEDIA_TYPE: &str = "application/problem+json";
/// The prefix of Curity's problem type URIs.
pub const PROBLEM_PREFIX: &str = "https://curity.se/problems/";

/// What a representation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `authentication-step`: a form, a selector, …
    AuthenticationStep,
    /// `redirection-step`: follow its one action.
    RedirectionStep,
    /// `registration-step`.
    RegistrationStep,
    /// `polling-step`: poll until `properties.status` is `done` or `failed`.
    PollingStep,
    /// `continue-same-step`.
    ContinueSameStep,
    /// `consentor-step`.
    ConsentorStep,
    /// `user-consent-step`.
    UserConsentStep,
    /// `oauth-authorization-response`: the end, with the authorization code.
    AuthorizationResponse,
    /// A problem: its type URI's last segment (`incorrect-credentials`, …).
    Problem(String),
    /// A type this model does not know.
    Other(String),
}

impl Kind {
    /// From the `type` member.
    pub fn from_type(t: &str) -> Kind {
        match t {
            "authentication-step" => Kind::AuthenticationStep,
            "redirection-step" => Kind::RedirectionStep,
            "registration-step" => Kind::RegistrationStep,
            "polling-step" => Kind::PollingStep,
            "continue-same-step" => Kind::ContinueSameStep,
            "consentor-step" => Kind::ConsentorStep,
            "user-consent-step" => Kind::UserConsentStep,
            "oauth-authorization-response" => Kind::AuthorizationResponse,
            other => match other.strip_prefix(PROBLEM_PREFIX) {
                Some(problem) => Kind::Problem(problem.to_owned()),
                None => Kind::Other(other.to_owned()),
            },
        }
    }
}

/// A form field (`model.fields[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The name the value is sent under.
    pub name: String,
    /// `username`, `password`, `text`, `hidden`, `checkbox`, `select`, `context`, …
    pub kind: String,
    /// What a person sees beside it.
    pub label: Option<String>,
    /// A value the server gave (hidden fields carry theirs).
    pub value: Option<String>,
    /// A placeholder.
    pub placeholder: Option<String>,
}

impl Field {
    /// True when a person need not (or cannot) give a value: hidden and context fields.
    pub fn is_hidden(&self) -> bool {
        matches!(self.kind.as_str(), "hidden" | "context")
    }
}

/// A form action's model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// Where it goes (relative to the server's base URL, or absolute).
    pub href: String,
    /// `GET` or `POST`.
    pub method: String,
    /// `application/x-www-form-urlencoded` (the default) or `application/json`.
    pub media_type: Option<String>,
    /// The button's text.
    pub action_title: Option<String>,
    /// The fields to send.
    pub fields: Vec<Field>,
}

/// What an action holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// `template: form`.
    Form(Form),
    /// `template: selector`: each option is an action of its own.
    Selector(Vec<Action>),
    /// `template: client-operation`: something only an app can do (open a browser, BankID, …).
    ClientOperation {
        /// The operation's name.
        name: String,
        /// Its arguments.
        arguments: Value,
    },
    /// Another template.
    Other(Value),
}

/// An action (`actions[]`, or a selector's option).
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// `form`, `selector`, `client-operation`.
    pub template: String,
    /// `login`, `redirect`, `poll`, `cancel`, `authenticator-selector`, `select-authenticator`, …
    pub kind: String,
    /// Its title.
    pub title: Option<String>,
    /// Its model.
    pub model: Model,
    /// `properties` (a selector option's `authenticatorType`, …).
    pub properties: Value,
}

impl Action {
    /// The form, when this action is one.
    pub fn form(&self) -> Option<&Form> {
        match &self.model {
            Model::Form(f) => Some(f),
            _ => None,
        }
    }
}

/// A link (`links[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Where it goes.
    pub href: String,
    /// What it is (`forgot-password`, `authorization-response`, `restart`, …).
    pub rel: String,
    /// Its title.
    pub title: Option<String>,
}

/// A message to show (`messages[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// CSS-like classes (`error`, `info`, …).
    pub classes: Vec<String>,
}

/// A field a problem says is wrong (`invalidFields[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's name.
    pub name: String,
    /// Why (`invalidValue`, `missing`, …).
    pub reason: Option<String>,
    /// In words.
    pub detail: Option<String>,
}

/// One representation, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Representation {
    /// The `type` member, as sent.
    pub type_name: String,
    /// What it is.
    pub kind: Kind,
    /// `metadata.viewName`.
    pub view_name: Option<String>,
    /// `properties` (an object, possibly empty).
    pub properties: Value,
    /// `actions`.
    pub actions: Vec<Action>,
    /// `links`.
    pub links: Vec<Link>,
    /// `messages`.
    pub messages: Vec<Message>,
    /// A problem's `title`.
    pub title: Option<String>,
    /// A problem's `code`.
    pub code: Option<String>,
    /// A problem's `invalidFields`.
    pub invalid_fields: Vec<InvalidField>,
    /// The whole JSON, as received.
    pub raw: Value,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn array<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{at}.{key} must be an array")),
    }
}

fn field(v: &Value, at: &str) -> Result<Field, String> {
    Ok(Field {
        name: text(v, "name").ok_or_else(|| format!("{at} has no \"name\""))?,
        kind: text(v, "type").unwrap_or_else(|| "text".into()),
        label: text(v, "label"),
        value: match v.get("value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        placeholder: text(v, "placeholder"),
    })
}

fn action(v: &Value, at: &str) -> Result<Action, String> {
    if !v.is_object() {
        return Err(format!("{at} must be an object"));
    }
    let template = text(v, "template").ok_or_else(|| format!("{at} has no \"template\""))?;
    let model_value = v.get("model").ok_or_else(|| format!("{at} has no \"model\""))?;
    let model = match template.as_str() {
        "form" => {
            let href = text(model_value, "href").ok_or_else(|| format!("{at}.model has no \"href\""))?;
            let fields = array(model_value, "fields", &format!("{at}.model"))?
                .iter()
                .enumerate()
                .map(|(i, f)| field(f, &format!("{at}.model.fields[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Model::Form(Form {
                href,
                method: text(model_value, "method").unwrap_or_else(|| "GET".into()).to_ascii_uppercase(),
                media_type: text(model_value, "type"),
                action_title: text(model_value, "actionTitle"),
                fields,
            })
        }
        "selector" => Model::Selector(
            array(model_value, "options", &format!("{at}.model"))?
                .iter()
                .enumerate()
                .map(|(i, o)| action(o, &format!("{at}.model.options[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        "client-operation" => Model::ClientOperation {
            name: text(model_value, "name").ok_or_else(|| format!("{at}.model has no \"name\""))?,
            arguments: model_value.get("arguments").cloned().unwrap_or(Value::Null),
        },
        _ => Model::Other(model_value.clone()),
    };
    Ok(Action {
        template,
        kind: text(v, "kind").unwrap_or_default(),
        title: text(v, "title"),
        model,
        properties: v.get("properties").cloned().unwrap_or(Value::Object(Map::new())),
    })
}

impl Representation {
    /// Reads a representation (or a problem). The error says which member is missing or wrong.
    pub fn from_json(v: &Value) -> Result<Representation, String> {
        if !v.is_object() {
            return Err("a representation is a JSON object".into());
        }
        let type_name = text(v, "type").ok_or("a representation needs a string \"type\"")?;
        let actions = array(v, "actions", "")?.iter().enumerate().map(|(i, a)| action(a, &format!("actions[{i}]"))).collect::<Result<Vec<_>, _>>()?;
        let links = array(v, "links", "")?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(Link {
                    href: text(l, "href").ok_or_else(|| format!("links[{i}] has no \"href\""))?,
                    rel: text(l, "rel").unwrap_or_default(),
                    title: text(l, "title"),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let messages = array(v, "messages", "")?
            .iter()
            .map(|m| Message {
                text: text(m, "text").unwrap_or_default(),
                classes: m
                    .get("classList")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let invalid_fields = array(v, "invalidFields", "")?
            .iter()
            .map(|f| InvalidField { name: text(f, "name").unwrap_or_default(), reason: text(f, "reason"), detail: text(f, "detail") })
            .collect();
        Ok(Representation {
            kind: Kind::from_type(&type_name),
            type_name,
            view_name: v.get("metadata").and_then(|m| text(m, "viewName")),
            properties: v.get("properties").filter(|p| p.is_object()).cloned().unwrap_or(Value::Object(Map::new())),
            actions,
            links,
            messages,
            title: text(v, "title"),
            code: text(v, "code"),
            invalid_fields,
            raw: v.clone(),
        })
    }

    /// The first action whose `kind` is `kind`.
    pub fn action(&self, kind: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.kind == kind)
    }

    /// The first link whose `rel` is `rel`.
    pub fn link(&self, rel: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.rel == rel)
    }

    /// A string member of `properties`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }

    /// True for problems.
    pub fn is_problem(&self) -> bool {
        matches!(self.kind, Kind::Problem(_))
    }

    /// The texts of its messages (and a problem's title), for a person.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.title.iter().cloned().collect();
        parts.extend(self.messages.iter().map(|m| m.text.clone()));
        parts.extend(self.invalid_fields.iter().map(|f| format!("{}: {}", f.name, f.detail.as_deref().or(f.reason.as_deref()).unwrap_or("invalid"))));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_login_form_and_its_links() {
        let r = Representation::from_json(&json!({
            "type": "authentication-step",
            "metadata": { "viewName": "authenticator/html-form/authenticate/get" },
            "actions": [{ "template": "form", "kind": "login", "title": "Login", "model": {
                "href": "/authn/authenticate/htmlSql", "method": "post", "type": "application/x-www-form-urlencoded",
                "fields": [{ "name": "userName", "type": "username", "label": "Username" }, { "name": "password", "type": "password" }] } }],
            "links": [{ "href": "/forgot", "rel": "forgot-password", "title": "Forgot?" }]
        }))
        .unwrap();
        assert_eq!(r.kind, Kind::AuthenticationStep);
        let form = r.action("login").unwrap().form().unwrap();
        assert_eq!((form.method.as_str(), form.fields.len(), form.fields[1].kind.as_str()), ("POST", 2, "password"));
        assert_eq!(r.link("forgot-password").unwrap().href, "/forgot");
    }

    #[test]
    fn reads_problems_and_says_what_is_missing() {
        let p = Representation::from_json(&json!({ "type": "https://curity.se/problems/invalid-input", "title": "Form Errors",
            "invalidFields": [{ "name": "password", "reason": "invalidValue", "detail": "You have to enter your password" }] }))
        .unwrap();
        assert_eq!(p.kind, Kind::Problem("invalid-input".into()));
        assert!(p.summary().contains("password: You have to enter your password"));
        let e = Representation::from_json(&json!({ "type": "authentication-step", "actions": [{ "template": "form", "kind": "login", "model": {} }] }))
            .unwrap_err();
        assert!(e.contains("actions[0].model") && e.contains("href"), "{e}");
        assert!(Representation::from_json(&json!({ "actions": [] })).is_err());
    }
}
