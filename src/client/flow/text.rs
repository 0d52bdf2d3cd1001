//! The flow's teaching text: why each step exists and what a person should change when one
//! fails. Kept apart from the state machine so that the words can be read (and improved)
//! without reading the machine.

use super::Step;
use crate::client::config::{Config, Method};
use crate::client::error::{Error, Fault};

/// Why a step exists, in one sentence.
pub fn purpose(step: Step) -> &'static str {
    match step {
        Step::Discovery => "Reads the server's metadata so the app learns its token, registration and authorization endpoints instead of hard-coding paths.",
        Step::Attestation => "A compliant device would prove it runs the genuine app with hardware attestation; this device cannot, so the app falls back to a secondary credential.",
        Step::DcrToken => "The main HAAPI client proves its identity with its secondary credential and gets a one-time token whose only power is to register one dynamic client (scope dcr).",
        Step::Registration => "The app registers a client of its own for this device from the template client (software_id), using the one-time token; the server answers with a new client id and secret.",
        Step::Store => "The dynamic client's id and secret are kept on the device, so later runs skip registration and authenticate as this client directly.",
        Step::HaapiToken => "The dynamic client asks for the HAAPI access token with a DPoP proof, so the token is bound to a key only this device holds.",
        Step::Authorize => "The first HAAPI request: the authorization request sent as an API call, carrying the DPoP-bound token and a fresh proof, answered with a JSON representation of the next login step.",
        Step::Authenticate => "One HAAPI representation followed (a redirect, the authenticator choice, a form, a poll), as an API call with the HAAPI token, the session id and a fresh DPoP proof.",
        Step::CodeExchange => "The dynamic client exchanges the authorization code (with its PKCE verifier and a DPoP proof) for a DPoP-bound access token, an ID token and a refresh token.",
    }
}

/// What to do about a problem the HAAPI server answered.
pub fn problem_advice(error: &Error) -> String {
    match error {
        Error::Problem { problem, .. } if problem == "incorrect-credentials" => {
            "The username or password is wrong: type them again (the simulator's demo account is demo / Password1; its settings list the users).".into()
        }
        Error::Problem { problem, .. } if problem == "invalid-input" => {
            "A field is missing or invalid: the problem's invalidFields say which; fill them and send the form again.".into()
        }
        Error::Problem { problem, .. } if problem == "too-many-attempts" => {
            "Too many wrong passwords locked this HAAPI session: run again to start a new one.".into()
        }
        Error::Problem { problem, .. } if problem == "mismatch-between-session-and-access-token" => {
            "The session belongs to another DPoP key or client: a HAAPI session answers only to the key that opened it. Run again from authorize.".into()
        }
        Error::Problem { problem, .. } if problem == "authentication-failed" => {
            "The authenticator refused the login (the other device denied it): run again and approve.".into()
        }
        _ => "See the problem's title and messages.".into(),
    }
}

/// What to do about a broken exchange ([`Error::Exchange`]), from its fault and evidence.
pub fn exchange_advice(error: &Error) -> Option<String> {
    let Error::Exchange { fault, evidence, .. } = error else { return None };
    Some(match fault {
        Fault::HtmlResponse => "The server answered with a web page, not the API: check the URL (server.issuer, server.endpoints, server.sendVia). A proxy's error page, a login page in front of the server or a web app's fallback page look like this; at discovery, the issuer's path is probably wrong (Curity's is …/oauth/v2/oauth-anonymous).".into(),
        Fault::WrongContentType => "The answer is labelled with the wrong media type: the server, or a proxy in front of it, must send Content-Type application/json (application/vnd.auth+json for HAAPI). If the body is the JSON you expect, fix the Content-Type there; otherwise the URL points at something else.".into(),
        Fault::TruncatedBody => "The body was cut off before its JSON ended: the connection dropped, or a proxy's Content-Length or buffering is wrong. Run again; if it repeats, look at what stands between this page and the server.".into(),
        Fault::MalformedJson => "The body claims to be JSON but is not (look at it in the response above): the server or a proxy sends something else under application/json.".into(),
        Fault::TooLarge => format!(
            "No answer of this protocol is larger than a few kilobytes, so reading stopped at {} KiB: the URL probably points at a file or a stream rather than the endpoint. Check server.issuer and server.endpoints.",
            crate::proto::http::MAX_RESPONSE_BYTES / 1024
        ),
        Fault::Redirect => match &evidence.location {
            Some(to) => format!("Endpoints of this protocol answer directly and a HAAPI client never follows a redirect. The server points to {to}: use that URL in server.issuer or server.endpoints (often http:// that should be https://, or a path that lost a segment)."),
            None => "Endpoints of this protocol answer directly and a HAAPI client never follows a redirect (the browser hides where it pointed: open the URL in a tab to see). Use the final URL in server.issuer or server.endpoints (often http:// that should be https://, or a path that lost a segment).".into(),
        },
        Fault::ServerUnavailable => match evidence.retry_after_secs {
            Some(secs) => format!("The server (or a gateway in front of it) is failing; this is not your configuration. It asks to be tried again in {secs} s (Retry-After): run again after that. If it persists, its logs say why."),
            None => "The server (or a gateway in front of it) is failing; this is not your configuration. Run again later; if it persists, its logs say why.".into(),
        },
        Fault::Cors => "The server is reachable but does not allow requests from this page's origin (CORS). Allow this page's origin on the server (Curity: the client's Allowed Origins, the zone's allowed-origins-for-cors; a token endpoint allows CORS only for public clients), or send through a same-origin proxy with server.sendVia.".into(),
        Fault::Timeout => {
            let limit = evidence.timeout_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "the time allowed".into());
            match evidence.status {
                Some(status) => format!("The server began to answer (HTTP {status}) but the body did not finish within {limit} (server.timeoutMs): a server or proxy that sends slowly or never ends its answer. Check the server; a slow but working one needs a larger server.timeoutMs."),
                None => format!("No answer within {limit} (server.timeoutMs): check that the server is up and reachable from this browser; a slow but working one needs a larger server.timeoutMs."),
            }
        }
        Fault::Aborted => "The run was stopped by its caller (its AbortSignal, or Reset in the page). Run again.".into(),
        Fault::IssuerMismatch => "The discovery document names another issuer than server.issuer (RFC 8414 §3.3): set server.issuer to exactly the issuer the server names (scheme, host, port and path, no trailing slash unless it has one), or check that this is the server you meant.".into(),
        Fault::NotAJwt => "An ID token is always a signed JWT (OpenID Connect Core §2): this server, or a proxy that rewrote the body, did not send one. Look at the token response above.".into(),
    })
}

/// What a person should change, for the errors that have a usual cause.
pub fn advice(error: &Error, config: &Config) -> String {
    if let Error::DestinationChanged { client_id, requested, .. } = error {
        return format!(
            "Nothing was sent. Check that you trust {requested} (it came from this configuration, perhaps from a link): if you do, confirm sending client {client_id} there; otherwise restore server.endpoints and server.sendVia, or forget this device to register anew."
        );
    }
    if let Some(advice) = exchange_advice(error) {
        return advice;
    }
    let oauth = error.oauth_error().map(|e| e.error.as_str());
    let method = config.credential.method;
    match (error.step(), oauth) {
        (Some(Step::DcrToken), Some("invalid_client")) => match method {
            m if m.uses_secret() && m != Method::ClientSecretJwt => "The server did not accept the main client's secret: check credential.secret and that the client is configured with this method.".into(),
            Method::PrivateKeyJwt | Method::ClientSecretJwt => "The server did not accept the client assertion: check the key (or secret), the algorithm, the audience and the clock.".into(),
            _ => "The server did not accept the client certificate: check that it trusts the issuing CA (or the pinned key) and that the certificate is valid.".into(),
        },
        (Some(Step::DcrToken), Some("invalid_scope")) => "The main client may not request scope dcr: a template client must name it in authenticate-client-by.".into(),
        (Some(Step::Registration), Some(e)) if e.starts_with("invalid_client_metadata") || e == "invalid_software_statement" => {
            "The server refused the registration: check client.templateClientId (sent as software_id) names a template client.".into()
        }
        (Some(Step::Registration), Some("invalid_token")) => "The one-time registration token was refused (expired or already used): run again to get a new one.".into(),
        (Some(Step::HaapiToken), Some("invalid_dpop_proof")) => "The server rejected the DPoP proof: check the key, the clock and that htu is the server's external URL.".into(),
        (Some(Step::HaapiToken), Some("invalid_client")) => "The dynamic client was refused: forget this device's client and run again to register a new one.".into(),
        (_, _) if matches!(error, Error::Problem { .. }) => problem_advice(error),
        (Some(Step::CodeExchange), Some("invalid_dpop_proof")) => "The code is bound to the DPoP key of the HAAPI session (token-bound codes): redeem it with the same key.".into(),
        (Some(Step::CodeExchange), Some("invalid_grant")) => "The code was refused (used already, expired, or for another client or redirect URI): log in again for a new one.".into(),
        (_, _) if matches!(error, Error::Haapi { failure: crate::client::error::HaapiFailure::InputRequired, .. }) => {
            "Add the missing values to authentication.inputs (by the field names above), or run the page and type them.".into()
        }
        (_, _) if matches!(error, Error::Transport { .. }) => "The request did not reach the server: check the URL and that the server is running; from a browser, a server on another origin must allow CORS (or use server.sendVia with a same-origin proxy).".into(),
        _ => "See the error and the response for the server's explanation.".into(),
    }
}
