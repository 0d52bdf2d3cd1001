//! Each step as a prepare/process pair: `prepare_*` builds the request, `process_*` judges the
//! response. Pure functions; the state machine in the parent module strings them together.

use super::{DynamicClient, ServerEndpoints, Step};
use crate::client::config::EndpointOverrides;
use crate::client::error::{Error, Evidence, Fault, OAuthError};
use crate::proto::clock::Timestamp;
use crate::proto::http::{challenge_param, html_title, looks_like_html, retry_after_secs, HttpRequest, HttpResponse, JSON, MAX_RESPONSE_BYTES};
use crate::proto::secret::Secret;
use serde_json::{json, Map, Value};

/// The HAAPI media type (docs/protocol.md §5).
pub const HAAPI_MEDIA_TYPE: &str = "application/vnd.auth+json";
/// The scope of the one-time registration token (docs/protocol.md §2, F1).
pub const DCR_SCOPE: &str = "dcr";
/// The scope of the HAAPI access token (docs/protocol.md §2, F4).
pub const HAAPI_SCOPE: &str = "urn:se:curity:scopes:haapi";

/// The error of a failed response: the OAuth error body (RFC 6749 §5.2) or, failing that, the
/// `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1); otherwise the bare status.
pub fn response_error(step: Step, resp: &HttpResponse) -> Error {
    let body = resp.body.clone();
    if let Some(obj) = resp.json_object() {
        if let Some(Value::String(error)) = obj.get("error") {
            let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
            let error = OAuthError { error: error.clone(), error_description: text("error_description"), error_uri: text("error_uri") };
            return Error::Server { step, status: resp.status, error, body };
        }
    }
    if let Some(challenge) = resp.header("www-authenticate") {
        if let Some(error) = challenge_param(challenge, "error") {
            let error = OAuthError { error, error_description: challenge_param(challenge, "error_description"), error_uri: None };
            return Error::Server { step, status: resp.status, error, body };
        }
    }
    if is_html(resp) {
        return exchange(
            step,
            Fault::HtmlResponse,
            resp,
            format!("the server answered HTTP {} with an HTML page{} instead of JSON: this URL is a web page, not the endpoint", resp.status, titled(resp)),
        );
    }
    Error::UnexpectedStatus { step, status: resp.status, body }
}

/// An [`Error::Exchange`] that keeps the whole response as its evidence.
pub(crate) fn exchange(step: Step, fault: Fault, resp: &HttpResponse, message: impl Into<String>) -> Error {
    Error::Exchange { step, fault, message: message.into(), evidence: Box::new(Evidence::of(resp)) }
}

/// An HTML page: a body that starts like one, or a body labelled HTML that is not JSON (JSON
/// labelled HTML is a wrong content type, [`Fault::WrongContentType`]).
fn is_html(resp: &HttpResponse) -> bool {
    looks_like_html(&resp.body)
        || (matches!(resp.media_type().as_deref(), Some("text/html" | "application/xhtml+xml")) && crate::proto::json::parse(&resp.body).is_err())
}

/// ` ("Title")` of an HTML page, or nothing.
fn titled(resp: &HttpResponse) -> String {
    html_title(&resp.body).map(|t| format!(" ({t:?})")).unwrap_or_default()
}

/// What any response can show whatever the step asked, judged before the step looks at it: a
/// body over [`MAX_RESPONSE_BYTES`], an HTTP redirect (no step of this protocol is answered with
/// one, and a HAAPI client does not follow them), a 5xx (the server or a gateway failed; its
/// `Retry-After` is kept). `None`: the step judges the response.
pub fn response_fault(step: Step, resp: &HttpResponse, now: Timestamp) -> Option<Error> {
    if resp.body.len() > MAX_RESPONSE_BYTES {
        let mut e = exchange(step, Fault::TooLarge, resp, too_large_message(resp.body.len() as u64));
        if let Error::Exchange { evidence, .. } = &mut e {
            evidence.received_bytes = Some(resp.body.len() as u64);
            evidence.body = resp.body.chars().take(crate::client::error::EVIDENCE_BODY_CHARS).collect();
        }
        return Some(e);
    }
    if (300..400).contains(&resp.status) {
        let to = resp.header("location").map(|l| format!(" to {l}")).unwrap_or_default();
        return Some(exchange(
            step,
            Fault::Redirect,
            resp,
            format!(
                "the server answered with an HTTP {} redirect{to}; endpoints of this protocol answer directly, and a HAAPI client does not follow redirects",
                resp.status
            ),
        ));
    }
    if resp.status >= 500 {
        let retry = resp.header("retry-after").and_then(|v| retry_after_secs(v, now));
        let said = match resp.json_object().and_then(|o| o.get("error").and_then(Value::as_str).map(str::to_owned)) {
            Some(e) => format!(" ({e})"),
            None if is_html(resp) => format!(" with an HTML page{}", titled(resp)),
            None => String::new(),
        };
        let when = match retry {
            Some(secs) => format!("; it asks to retry after {secs} s (Retry-After)"),
            None => String::new(),
        };
        let mut e = exchange(step, Fault::ServerUnavailable, resp, format!("the server failed: HTTP {}{said}{when}", resp.status));
        if let Error::Exchange { evidence, .. } = &mut e {
            evidence.retry_after_secs = retry;
        }
        return Some(e);
    }
    None
}

/// The message of a body over the cap.
pub(crate) fn too_large_message(received: u64) -> String {
    format!(
        "the answer's body is larger than {} KiB (at least {received} bytes arrived); no answer of this protocol is that large, so it was not read further",
        MAX_RESPONSE_BYTES / 1024
    )
}

/// True when a JSON parse error sits at the very end of `text`: the JSON was cut off.
fn ends_early(text: &str, e: &crate::proto::json::JsonError) -> bool {
    let line = 1 + text.bytes().filter(|&b| b == b'\n').count();
    let last = text.rsplit('\n').next().unwrap_or("");
    e.line == line && e.column == 1 + last.chars().count()
}

/// The body as a JSON object, labelled `expected`: an HTML page, another media type, a cut-off
/// body and a body that is not JSON each become their own [`Fault`].
pub(crate) fn json_object_of(step: Step, resp: &HttpResponse, expected: &str, hint: &str) -> Result<Map<String, Value>, Error> {
    if is_html(resp) {
        return Err(exchange(
            step,
            Fault::HtmlResponse,
            resp,
            format!("expected {expected}, got an HTML page{} (HTTP {}): this URL is a web page, not the endpoint", titled(resp), resp.status),
        ));
    }
    let parsed = crate::proto::json::parse(&resp.body);
    match resp.media_type().as_deref() {
        Some(m) if m == expected => {}
        other => {
            let body = if parsed.is_ok() { "; the body is JSON, so the server (or a proxy) labels it wrongly" } else { "" };
            return Err(exchange(
                step,
                Fault::WrongContentType,
                resp,
                format!("expected Content-Type {expected}{hint}, got {}{body}", other.map(|o| format!("{o:?}")).unwrap_or_else(|| "none".into())),
            ));
        }
    }
    match parsed {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(step, resp, "the body is not a JSON object")),
        Err(_) if resp.body.trim().is_empty() => Err(exchange(step, Fault::MalformedJson, resp, format!("the body is empty, though labelled {expected}"))),
        Err(e) if ends_early(&resp.body, &e) => {
            let length = match resp.header("content-length").and_then(|l| l.trim().parse::<u64>().ok()) {
                Some(l) if l != resp.body.len() as u64 => format!(" (Content-Length said {l} bytes, {} arrived)", resp.body.len()),
                _ => format!(" ({} bytes arrived)", resp.body.len()),
            };
            Err(exchange(step, Fault::TruncatedBody, resp, format!("the JSON body ends in the middle: {e}{length}")))
        }
        Err(e) => Err(exchange(step, Fault::MalformedJson, resp, format!("the body is labelled {expected} but is not JSON: {e}"))),
    }
}

fn invalid(step: Step, resp: &HttpResponse, message: impl Into<String>) -> Error {
    Error::InvalidResponse { step, status: resp.status, message: message.into(), body: resp.body.clone() }
}

fn json_body(step: Step, resp: &HttpResponse) -> Result<Map<String, Value>, Error> {
    json_object_of(step, resp, JSON, "")
}

fn string_field(step: Step, resp: &HttpResponse, obj: &Map<String, Value>, name: &str) -> Result<String, Error> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(invalid(step, resp, format!("\"{name}\" must be a non-empty string"))),
        None => Err(invalid(step, resp, format!("\"{name}\" is missing"))),
    }
}

/// Discovery request (OpenID Connect Discovery 1.0 §4).
pub fn prepare_discovery(issuer: &str) -> HttpRequest {
    let mut r = HttpRequest::new("GET", format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')));
    r.headers.set("accept", JSON);
    r
}

/// Reads the metadata; `issuer` must be the configured one (RFC 8414 §3.3). Configured overrides win.
pub fn process_discovery(resp: &HttpResponse, issuer: &str, overrides: &EndpointOverrides) -> Result<ServerEndpoints, Error> {
    let step = Step::Discovery;
    if resp.status != 200 {
        return Err(response_error(step, resp));
    }
    let obj = json_body(step, resp)?;
    let said = string_field(step, resp, &obj, "issuer")?;
    if said != issuer {
        return Err(exchange(
            step,
            Fault::IssuerMismatch,
            resp,
            format!("the metadata's issuer {said:?} differs from the configured {issuer:?} (RFC 8414 §3.3); fix server.issuer"),
        ));
    }
    let pick = |over: &Option<String>, key: &str| -> Result<String, Error> {
        match over {
            Some(v) => Ok(v.clone()),
            None => {
                string_field(step, resp, &obj, key).map_err(|_| invalid(step, resp, format!("the metadata has no \"{key}\"; set server.endpoints explicitly")))
            }
        }
    };
    let token = pick(&overrides.token, "token_endpoint")?;
    Ok(ServerEndpoints {
        cat: overrides
            .cat
            .clone()
            .or_else(|| obj.get("haapi_cat_endpoint").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("{token}/cat")),
        registration: pick(&overrides.registration, "registration_endpoint")?,
        authorization: pick(&overrides.authorization, "authorization_endpoint")?,
        // A configured token endpoint is used as it is; otherwise the metadata's mutual-TLS alias,
        // if it names one (RFC 8705 §5). Not a string: a broken document, said so.
        mtls_token: match (&overrides.token, obj.get("mtls_endpoint_aliases").map(|a| a.get("token_endpoint"))) {
            (Some(_), _) | (None, None) | (None, Some(None)) => None,
            (None, Some(Some(Value::String(alias)))) => Some(alias.clone()),
            (None, Some(Some(_))) => return Err(invalid(step, resp, "mtls_endpoint_aliases.token_endpoint is not a string (RFC 8705 §5)")),
        },
        token,
    })
}

/// The attestation challenge request (docs/protocol.md §3): `GET <cat>?client_id=…`.
pub fn prepare_attestation(cat: &str, client_id: &str) -> HttpRequest {
    let mut r = HttpRequest::new("GET", format!("{cat}?{}", crate::proto::http::encode_form([("client_id", client_id)])));
    r.headers.set("accept", JSON);
    r
}

/// A `client_credentials` token request (RFC 6749 §4.4.2), not yet authenticated.
pub fn prepare_client_credentials(token_endpoint: &str, scope: &str) -> HttpRequest {
    let mut r = HttpRequest::form(token_endpoint, &[("grant_type", "client_credentials"), ("scope", scope)]);
    r.headers.set("accept", JSON);
    r
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// `expires_in`, if sent.
    pub expires_in: Option<u64>,
}

/// Judges a token response: 200, JSON, an `access_token`, the expected `token_type`
/// (compared case-insensitively, RFC 6749 §7.1) and, if `scope` is returned and one is required
/// (not empty), that scope among the returned ones.
pub fn process_token(step: Step, resp: &HttpResponse, expected_type: &str, scope: &str) -> Result<TokenResponse, Error> {
    if resp.status != 200 {
        return Err(response_error(step, resp));
    }
    let obj = json_body(step, resp)?;
    let access_token = string_field(step, resp, &obj, "access_token")?;
    let token_type = string_field(step, resp, &obj, "token_type")?;
    if !token_type.eq_ignore_ascii_case(expected_type) {
        let why = match (expected_type, step) {
            ("DPoP", Step::CodeExchange) => "the user's access token must be DPoP-bound to the device key (RFC 9449 §5); the server ignored the DPoP proof",
            ("DPoP", _) => "the HAAPI token must be DPoP-bound (RFC 9449 §5); the server ignored the DPoP proof",
            _ => "this lab expects the one-time registration token to be a Bearer token",
        };
        return Err(invalid(step, resp, format!("token_type is {token_type:?}, expected {expected_type:?}: {why}")));
    }
    let returned_scope = obj.get("scope").and_then(Value::as_str).map(str::to_owned);
    if let Some(s) = returned_scope.as_ref().filter(|_| !scope.is_empty()) {
        if !s.split(' ').any(|x| x == scope) {
            return Err(invalid(step, resp, format!("the token was issued for scope {s:?}, not {scope:?}")));
        }
    }
    Ok(TokenResponse { access_token: Secret::new(access_token), expires_in: obj.get("expires_in").and_then(Value::as_u64) })
}

/// True when the response asks for a DPoP nonce (RFC 9449 §8 at the token endpoint, §9 at resources).
pub fn is_nonce_challenge(resp: &HttpResponse) -> bool {
    if !matches!(resp.status, 400 | 401) || resp.header("dpop-nonce").is_none() {
        return false;
    }
    let in_body = resp.json_object().and_then(|o| o.get("error").and_then(Value::as_str).map(|e| e == "use_dpop_nonce")).unwrap_or(false);
    let in_challenge = resp.header("www-authenticate").and_then(|h| challenge_param(h, "error")).is_some_and(|e| e == "use_dpop_nonce");
    in_body || in_challenge
}

/// The registration request (RFC 7591 §3.1) with the initial access token (RFC 7591 §3).
pub fn prepare_registration(endpoint: &str, initial_token: &str, software_id: &str) -> HttpRequest {
    let mut r = HttpRequest::new("POST", endpoint);
    r.headers.set("authorization", format!("Bearer {initial_token}"));
    r.headers.set("content-type", JSON);
    r.headers.set("accept", JSON);
    r.body = Some(json!({ "software_id": software_id }).to_string());
    r
}

/// Judges the registration response: `201 Created` (RFC 7591 §3.2.1) or `200 OK` (Curity's
/// status is not documented; docs/protocol.md §2) with `client_id` and `client_secret`.
pub fn process_registration(resp: &HttpResponse, software_id: &str, issuer: &str, now: Timestamp) -> Result<DynamicClient, Error> {
    let step = Step::Registration;
    if resp.status != 201 && resp.status != 200 {
        return Err(response_error(step, resp));
    }
    let obj = json_body(step, resp)?;
    let client_id = string_field(step, resp, &obj, "client_id")?;
    let client_secret = string_field(step, resp, &obj, "client_secret").map_err(|_| {
        invalid(step, resp, "no \"client_secret\": the template must register clients with a secret (dynamic-client-registration-template <secret/>)")
    })?;
    let auth_method = obj.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("client_secret_basic").to_owned();
    if !matches!(auth_method.as_str(), "client_secret_basic" | "client_secret_post") {
        return Err(invalid(step, resp, format!("the dynamic client must authenticate with its secret, but token_endpoint_auth_method is {auth_method:?}")));
    }
    Ok(DynamicClient {
        client_id,
        client_secret: Secret::new(client_secret),
        token_endpoint_auth_method: auth_method,
        client_id_issued_at: obj.get("client_id_issued_at").and_then(Value::as_u64),
        client_secret_expires_at: obj.get("client_secret_expires_at").and_then(Value::as_u64).unwrap_or(0),
        software_id: software_id.to_owned(),
        issuer: issuer.to_owned(),
        registered_at: now.millis(),
        destinations: Vec::new(),
    })
}

/// The first HAAPI request (docs/protocol.md §4–5): the authorization request with
/// `Accept: application/vnd.auth+json` and the DPoP-bound token (`Authorization: DPoP`).
pub fn prepare_authorize(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    code_challenge: &str,
    access_token: &str,
) -> HttpRequest {
    let query = crate::proto::http::encode_form([
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ]);
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let mut r = HttpRequest::new("GET", format!("{endpoint}{sep}{query}"));
    r.headers.set("accept", HAAPI_MEDIA_TYPE);
    r.headers.set("authorization", format!("DPoP {access_token}"));
    r
}

/// Judges a HAAPI response: 200, `application/vnd.auth+json`, a representation with a `type`.
pub fn process_representation(step: Step, resp: &HttpResponse) -> Result<Value, Error> {
    if resp.status != 200 {
        return Err(response_error(step, resp));
    }
    let obj = json_object_of(step, resp, HAAPI_MEDIA_TYPE, " (did the request carry the HAAPI Accept header?)")?;
    match obj.get("type") {
        Some(Value::String(_)) => Ok(Value::Object(obj)),
        _ => Err(invalid(step, resp, "a HAAPI representation needs a string \"type\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://as.example/oauth/v2/oauth-anonymous";

    fn json(status: u16, body: serde_json::Value) -> HttpResponse {
        HttpResponse::json(status, &body)
    }

    fn with_type(mut r: HttpResponse, content_type: &str) -> HttpResponse {
        r.headers.set("content-type", content_type);
        r
    }

    fn metadata() -> serde_json::Value {
        json!({ "issuer": ISSUER, "token_endpoint": "https://as.example/token", "registration_endpoint": "https://as.example/register", "authorization_endpoint": "https://as.example/authorize" })
    }

    #[test]
    fn discovery_reads_the_mutual_tls_alias_unless_the_token_endpoint_is_configured() {
        let mut doc = metadata();
        doc["mtls_endpoint_aliases"] = json!({ "token_endpoint": "https://mtls.as.example/token" });
        let none = EndpointOverrides::default();
        assert_eq!(process_discovery(&json(200, doc.clone()), ISSUER, &none).unwrap().mtls_token.as_deref(), Some("https://mtls.as.example/token"));
        let configured = EndpointOverrides { token: Some("https://as.example/mine".into()), ..EndpointOverrides::default() };
        assert_eq!(process_discovery(&json(200, doc.clone()), ISSUER, &configured).unwrap().mtls_token, None);
        assert_eq!(process_discovery(&json(200, metadata()), ISSUER, &none).unwrap().mtls_token, None);
        doc["mtls_endpoint_aliases"] = json!({ "token_endpoint": 42 });
        let e = process_discovery(&json(200, doc), ISSUER, &none).unwrap_err();
        assert!(e.to_string().contains("mtls_endpoint_aliases.token_endpoint"), "{e}");
    }

    #[test]
    fn discovery_checks_the_issuer_and_lets_overrides_win() {
        let overrides = EndpointOverrides::default();
        let ep = process_discovery(&json(200, metadata()), ISSUER, &overrides).unwrap();
        assert_eq!((ep.token.as_str(), ep.cat.as_str()), ("https://as.example/token", "https://as.example/token/cat"));
        let mut other = metadata();
        other["issuer"] = "https://evil.example".into();
        let e = process_discovery(&json(200, other), ISSUER, &overrides).unwrap_err();
        assert!(e.to_string().contains("RFC 8414") && e.to_string().contains("server.issuer"), "{e}");
        let mut missing = metadata();
        missing.as_object_mut().unwrap().remove("registration_endpoint");
        assert!(process_discovery(&json(200, missing.clone()), ISSUER, &overrides).unwrap_err().to_string().contains("registration_endpoint"));
        let overrides = EndpointOverrides { registration: Some("https://as.example/dcr".into()), ..EndpointOverrides::default() };
        assert_eq!(process_discovery(&json(200, missing), ISSUER, &overrides).unwrap().registration, "https://as.example/dcr");
        let labelled_html = with_type(json(200, metadata()), "text/html");
        assert_eq!(process_discovery(&labelled_html, ISSUER, &EndpointOverrides::default()).unwrap_err().code(), "WRONG_CONTENT_TYPE");
        let page = with_type(HttpResponse { status: 200, headers: Default::default(), body: "<!doctype html><title>Welcome</title>".into() }, "text/html");
        let e = process_discovery(&page, ISSUER, &EndpointOverrides::default()).unwrap_err();
        assert_eq!(e.code(), "HTML_RESPONSE");
        assert!(e.to_string().contains("\"Welcome\""), "{e}");
        assert_eq!(process_discovery(&json(404, json!({})), ISSUER, &EndpointOverrides::default()).unwrap_err().code(), "UNEXPECTED_STATUS");
    }

    #[test]
    fn token_responses_are_judged_field_by_field() {
        let ok =
            process_token(Step::HaapiToken, &json(200, json!({ "access_token": "t", "token_type": "dpop", "expires_in": 300 })), "DPoP", HAAPI_SCOPE).unwrap();
        assert_eq!((ok.access_token.expose(), ok.expires_in), ("t", Some(300)), "token_type compares case-insensitively (RFC 6749 §7.1)");
        let bearer = process_token(Step::HaapiToken, &json(200, json!({ "access_token": "t", "token_type": "Bearer" })), "DPoP", HAAPI_SCOPE).unwrap_err();
        assert!(bearer.to_string().contains("DPoP-bound"), "{bearer}");
        let no_token = process_token(Step::DcrToken, &json(200, json!({ "token_type": "Bearer" })), "Bearer", DCR_SCOPE).unwrap_err();
        assert!(no_token.to_string().contains("access_token"), "{no_token}");
        let scope = process_token(Step::DcrToken, &json(200, json!({ "access_token": "t", "token_type": "Bearer", "scope": "openid" })), "Bearer", DCR_SCOPE)
            .unwrap_err();
        assert!(scope.to_string().contains("\"dcr\""), "{scope}");
        let refused = process_token(Step::DcrToken, &json(401, json!({ "error": "invalid_client", "error_description": "bad secret" })), "Bearer", DCR_SCOPE)
            .unwrap_err();
        assert_eq!(
            (refused.code(), refused.status(), refused.oauth_error().map(|e| e.error.as_str())),
            ("OAUTH_SERVER_ERROR", Some(401), Some("invalid_client"))
        );
    }

    #[test]
    fn errors_come_from_the_body_or_the_challenge() {
        let mut challenge = HttpResponse { status: 401, headers: Default::default(), body: String::new() };
        challenge.headers.set("www-authenticate", r#"DPoP error="invalid_dpop_proof", error_description="stale""#);
        let e = response_error(Step::HaapiToken, &challenge);
        assert_eq!(e.oauth_error().map(|o| (o.error.as_str(), o.error_description.as_deref())), Some(("invalid_dpop_proof", Some("stale"))));
        let bare = response_error(Step::HaapiToken, &HttpResponse { status: 502, headers: Default::default(), body: "<html>Bad gateway</html>".into() });
        assert_eq!((bare.code(), bare.status()), ("HTML_RESPONSE", Some(502)));
        let plain = response_error(Step::HaapiToken, &HttpResponse { status: 418, headers: Default::default(), body: "teapot".into() });
        assert_eq!((plain.code(), plain.status()), ("UNEXPECTED_STATUS", Some(418)));
    }

    #[test]
    fn nonce_challenges_in_either_form() {
        let mut body = json(400, json!({ "error": "use_dpop_nonce" }));
        assert!(!is_nonce_challenge(&body), "no DPoP-Nonce header: nothing to retry with");
        body.headers.set("dpop-nonce", "n1");
        assert!(is_nonce_challenge(&body));
        let mut header = HttpResponse { status: 401, headers: Default::default(), body: String::new() };
        header.headers.set("dpop-nonce", "n2");
        header.headers.set("www-authenticate", r#"DPoP error="use_dpop_nonce""#);
        assert!(is_nonce_challenge(&header));
        header.status = 500;
        assert!(!is_nonce_challenge(&header));
    }

    #[test]
    fn registration_accepts_201_and_200_and_needs_a_secret() {
        let body = json!({ "client_id": "dyn-1", "client_secret": "s", "token_endpoint_auth_method": "client_secret_post" });
        let c = process_registration(&json(201, body.clone()), "template", ISSUER, Timestamp::from_secs(1)).unwrap();
        assert_eq!((c.client_id.as_str(), c.token_endpoint_auth_method.as_str(), c.software_id.as_str()), ("dyn-1", "client_secret_post", "template"));
        assert!(process_registration(&json(200, body), "template", ISSUER, Timestamp::from_secs(1)).is_ok());
        let no_secret = process_registration(&json(201, json!({ "client_id": "dyn-1" })), "t", ISSUER, Timestamp::from_secs(1)).unwrap_err();
        assert!(no_secret.to_string().contains("<secret/>"), "{no_secret}");
        let jwt = process_registration(
            &json(201, json!({ "client_id": "d", "client_secret": "s", "token_endpoint_auth_method": "private_key_jwt" })),
            "t",
            ISSUER,
            Timestamp::from_secs(1),
        );
        assert!(jwt.unwrap_err().to_string().contains("private_key_jwt"));
        assert_eq!(
            process_registration(&json(400, json!({ "error": "invalid_client_metadata" })), "t", ISSUER, Timestamp::from_secs(1)).unwrap_err().code(),
            "OAUTH_SERVER_ERROR"
        );
    }

    #[test]
    fn representations_need_the_haapi_media_type_and_a_type() {
        let rep = json!({ "type": "authentication-step", "actions": [] });
        assert!(process_representation(Step::Authorize, &with_type(json(200, rep.clone()), "application/vnd.auth+json; charset=utf-8")).is_ok());
        let plain = process_representation(Step::Authorize, &json(200, rep)).unwrap_err();
        assert!(plain.to_string().contains("vnd.auth+json"), "{plain}");
        let untyped = process_representation(Step::Authorize, &with_type(json(200, json!({ "actions": [] })), HAAPI_MEDIA_TYPE)).unwrap_err();
        assert!(untyped.to_string().contains("\"type\""), "{untyped}");
    }
}
