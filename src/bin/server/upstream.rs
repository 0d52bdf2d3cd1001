//! `--upstream URL`: the local server as a same-origin proxy to a real Curity. The page (served
//! locally) sends its requests to this server (`server.sendVia`), which passes every path that is
//! not the lab's own (`/`, `/www/…`, `/pkg/…`, `/healthz`) to the upstream, path and query
//! unchanged: discovery, token, registration, authorize, the authentication service's links,
//! whatever the upstream's discovery and HAAPI representations name. The client keeps the
//! upstream's URLs in DPoP `htu` and assertion `aud` (docs/design.md, "The send URL and the
//! server's own URL are two fields"), so the upstream checks them against its own origin.
//!
//! The hop to the upstream: hyper's pooled HTTP/1.1 client over rustls (ring), TLS verified
//! against the system's roots and `--upstream-ca` (or not at all with `--upstream-insecure`, said
//! loudly), an optional client certificate (`--upstream-client-cert`/`--upstream-client-key`).
//! Hop-by-hop headers are dropped both ways, as is the page's `Origin` (the upstream meets the
//! proxy as it meets an app), `Host` names the upstream, redirects come back
//! unchanged (never followed), the upstream's own CORS headers are replaced by this server's.
//! A failure of the hop is a 502 (504 for a timeout) with a JSON body saying what failed.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest answer taken from the upstream: what the client itself reads at most.
pub const MAX_UPSTREAM_BODY: usize = haapi_lab::proto::http::MAX_RESPONSE_BYTES;

/// What the command line says about the upstream.
#[derive(Debug, Default)]
pub struct UpstreamOptions {
    /// `--upstream`: the upstream's origin (`https://idsvr.example:8443`).
    pub url: Option<String>,
    /// `--upstream-ca`: extra trusted roots (PEM files), repeatable.
    pub ca_files: Vec<PathBuf>,
    /// `--upstream-insecure`: no verification of the upstream's certificate.
    pub insecure: bool,
    /// `--upstream-client-cert`: the certificate chain (PEM, leaf first) for the upstream hop.
    pub client_cert: Option<PathBuf>,
    /// `--upstream-client-key`: its private key (PEM).
    pub client_key: Option<PathBuf>,
    /// `--share-upstream-client-cert`: the client certificate may serve a `--host` other than
    /// loopback (whoever reaches this server then authenticates with it at the upstream).
    pub share_client_cert: bool,
    /// `--upstream-timeout`: from sending a request to the upstream's last byte.
    pub timeout_secs: u64,
}

/// Default of `--upstream-timeout`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The proxy's half of the server: where requests go and how.
pub struct Upstream {
    /// `scheme://host[:port]`, as given.
    pub origin: String,
    /// The `Host` header the upstream gets.
    authority: HeaderValue,
    client: HttpsClient,
    timeout: Duration,
    /// `--upstream-insecure` (each log line says so).
    pub insecure: bool,
    /// A header never passed on: the client-certificate header of Curity's mutual-tls-by-proxy,
    /// which the upstream might believe from this host.
    strip: HeaderName,
    /// What the startup lines say about TLS (roots, client certificate).
    pub tls_summary: Option<String>,
}

/// What the log line of a proxied request says (set on the response as an extension).
#[derive(Clone, Debug)]
pub struct Proxied {
    /// The upstream URL, without the query.
    pub url: String,
    /// The failure's code when the hop failed (`upstream_unreachable`, …).
    pub failure: Option<&'static str>,
    /// The upstream's certificate was not verified.
    pub insecure: bool,
}

impl Upstream {
    pub fn new(options: &UpstreamOptions, strip: HeaderName) -> Result<Upstream, String> {
        let url = options.url.as_deref().ok_or("no --upstream")?;
        let uri: Uri = url.parse().map_err(|e| format!("--upstream {url:?}: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("--upstream {url:?} must be an http:// or https:// URL"));
        }
        let Some(authority) = uri.authority().cloned() else { return Err(format!("--upstream {url:?} has no host")) };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "--upstream {url:?} must be an origin (scheme, host and port, no path): request paths are passed on unchanged, as server.sendVia sends them"
            ));
        }
        if authority.as_str().contains('@') {
            return Err(format!("--upstream {url:?}: no user information in the URL"));
        }
        let tls_options = !options.ca_files.is_empty() || options.insecure || options.client_cert.is_some() || options.client_key.is_some();
        if scheme == "http" && tls_options {
            return Err(format!(
                "--upstream {url:?} is plain HTTP: --upstream-ca, --upstream-insecure and --upstream-client-cert/-key need an https:// upstream"
            ));
        }
        if options.insecure && !options.ca_files.is_empty() {
            return Err(
                "--upstream-insecure and --upstream-ca contradict each other: with a CA the certificate can be verified, so drop --upstream-insecure".into()
            );
        }
        if options.timeout_secs == 0 {
            return Err("--upstream-timeout must be at least 1 second".into());
        }
        let (config, tls_summary) = client_config(options)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(options.timeout_secs)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(connector);
        Ok(Upstream {
            origin: format!("{scheme}://{authority}"),
            authority: HeaderValue::from_str(authority.as_str()).map_err(|e| format!("--upstream {url:?}: {e}"))?,
            client,
            timeout: Duration::from_secs(options.timeout_secs),
            insecure: options.insecure,
            strip,
            tls_summary: (scheme == "https").then_some(tls_summary),
        })
    }

    /// Passes one request on and brings the answer back (or a 502/504 that says what failed).
    /// The body was read (and capped) by the caller.
    pub async fn forward(&self, parts: &Parts, body: Bytes) -> Response<Body> {
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{target}", self.origin);
        let logged = Proxied { url: format!("{}{}", self.origin, parts.uri.path()), failure: None, insecure: self.insecure };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = match url.parse() {
            Ok(u) => u,
            Err(e) => return self.failed(logged, StatusCode::BAD_GATEWAY, "upstream_failed", format!("cannot make an upstream URL of {url:?}: {e}")),
        };
        let headers = request.headers_mut();
        // `Origin` stays here: the upstream meets the proxy as it meets the app's own HTTP stack,
        // which sends none, so its CORS rules (none for confidential clients at the token
        // endpoint, docs/protocol.md §9) do not apply to a hop that is not a browser's.
        copy_end_to_end(&parts.headers, headers, &[&header::HOST, &header::CONTENT_LENGTH, &header::ORIGIN, &self.strip]);
        headers.insert(header::HOST, self.authority.clone());
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| classify(&e))?;
            let (head, incoming) = response.into_parts();
            let bytes = match Limited::new(incoming, MAX_UPSTREAM_BODY).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Err(("upstream_response_too_large", format!("the upstream's answer is larger than {MAX_UPSTREAM_BODY} bytes")))
                }
                Err(e) => return Err(("upstream_failed", format!("the upstream's answer broke off: {}", chain(e.as_ref())))),
            };
            Ok((head, bytes))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => self.failed(
                logged,
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!("the upstream did not answer within {} s (--upstream-timeout)", self.timeout.as_secs()),
            ),
            Ok(Err((code, why))) => self.failed(logged, StatusCode::BAD_GATEWAY, code, why),
            Ok(Ok((head, bytes))) => {
                let mut out = Response::new(Body::from(bytes));
                *out.status_mut() = head.status;
                // The length is the body's (hyper sets it), but for HEAD, whose answer has none;
                // this server's CORS layer speaks for this origin, not the upstream's answer for another.
                let mut keep = HeaderMap::new();
                let skip: &[&HeaderName] = if parts.method == axum::http::Method::HEAD { &[] } else { &[&header::CONTENT_LENGTH] };
                copy_end_to_end(&head.headers, &mut keep, skip);
                for (name, value) in keep.iter() {
                    if !name.as_str().starts_with("access-control-") {
                        out.headers_mut().append(name.clone(), value.clone());
                    }
                }
                out.extensions_mut().insert(logged);
                out
            }
        }
    }

    fn failed(&self, mut logged: Proxied, status: StatusCode, code: &'static str, why: String) -> Response<Body> {
        let body = json!({ "error": code, "error_description": why, "upstream": logged.url });
        logged.failure = Some(code);
        let mut out = Response::new(Body::from(body.to_string()));
        *out.status_mut() = status;
        out.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        out.extensions_mut().insert(logged);
        out
    }
}

/// Hop-by-hop fields (RFC 9110 §7.6.1; RFC 9112 §9.6; and the non-standard `Keep-Alive` and
/// `Proxy-Connection`), which a proxy does not pass on.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Copies every field from `from` to `to` except hop-by-hop ones, those `Connection` names and
/// `skip`. `Trailer` is hop-by-hop too (trailers are not passed on).
fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap, skip: &[&HeaderName]) {
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for (name, value) in from {
        if HOP_BY_HOP.contains(name) || name == header::TRAILER || skip.contains(&name) || named.iter().any(|n| n == name.as_str()) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// What failed on the way to the upstream: a TLS refusal (whichever side), an unreachable host,
/// or something else; the description is the whole chain of causes.
fn classify(error: &hyper_util::client::legacy::Error) -> (&'static str, String) {
    let mut tls = false;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        tls |= e.is::<rustls::Error>();
        cause = next_cause(e);
    }
    let why = chain(error);
    if tls {
        ("upstream_tls_failed", format!("TLS with the upstream failed: {why}"))
    } else if error.is_connect() {
        ("upstream_unreachable", format!("cannot reach the upstream: {why}"))
    } else {
        ("upstream_failed", format!("the exchange with the upstream failed: {why}"))
    }
}

/// An error and its causes, `a: b: c`, each said once.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = next_cause(e);
    }
    parts.join(": ")
}

/// The error under `e`: what an `io::Error` wraps (its `source()` skips that and gives the
/// wrapped error's source: hyper-rustls wraps the rustls error in two of them), else `source()`.
fn next_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    }
}

/// The TLS settings of the upstream hop, and a line that says what they are.
fn client_config(options: &UpstreamOptions) -> Result<(ClientConfig, String), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
    let mut summary = Vec::new();
    let builder = if options.insecure {
        summary.push("the upstream's certificate is NOT verified (--upstream-insecure)".to_owned());
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification { algorithms: provider.signature_verification_algorithms }))
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        summary.push(format!("verified against {added} system root(s)"));
        if added == 0 && !native.errors.is_empty() {
            let errors: Vec<String> = native.errors.iter().map(ToString::to_string).collect();
            summary.push(format!("(the system's roots could not be read: {})", errors.join("; ")));
        }
        for file in &options.ca_files {
            let text = std::fs::read(file).map_err(|e| format!("--upstream-ca {}: {e}", file.display()))?;
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(&text).collect::<Result<_, _>>().map_err(|e| format!("--upstream-ca {}: {e}", file.display()))?;
            if certs.is_empty() {
                return Err(format!("--upstream-ca {}: no CERTIFICATE in the file (PEM expected)", file.display()));
            }
            let n = certs.len();
            for cert in certs {
                roots.add(cert).map_err(|e| format!("--upstream-ca {}: {e}", file.display()))?;
            }
            summary.push(format!("and {n} from {}", file.display()));
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&options.client_cert, &options.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| format!("--upstream-client-cert {}: {e}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!("--upstream-client-cert {}: no CERTIFICATE in the file (PEM expected)", cert.display()));
            }
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--upstream-client-key {}: {e}", key.display()))?;
            summary.push(format!("presenting the client certificate of {}", cert.display()));
            builder.with_client_auth_cert(chain, private).map_err(|e| format!("--upstream-client-cert/--upstream-client-key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--upstream-client-cert and --upstream-client-key go together".into()),
    };
    // ALPN stays empty: the connector sets it (http/1.1).
    Ok((config, summary.join(" ")))
}

/// `--upstream-insecure`: any certificate for any name, but the handshake signature is still
/// checked (the upstream holds the key of the certificate it shows, whatever that is).
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The warning `--upstream-insecure` prints at start (stdout and stderr).
pub const INSECURE_WARNING: &str = "haapi-lab: WARNING: --upstream-insecure: the upstream's TLS certificate is NOT verified. Anyone between this server and the upstream can read and change every request, client secrets, tokens and passwords included. Use it only for a development server with a self-signed certificate on a network you trust; --upstream-ca FILE (the server's CA or certificate, PEM) verifies it instead.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_not_passed_on() {
        let mut from = HeaderMap::new();
        for (n, v) in [
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic eA=="),
            ("host", "127.0.0.1:8080"),
            ("authorization", "Basic abc"),
            ("dpop", "proof"),
            ("x-client-cert", "pem"),
            ("set-cookie", "a=1"),
        ] {
            from.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        from.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        let mut to = HeaderMap::new();
        let strip = HeaderName::from_static("x-client-cert");
        copy_end_to_end(&from, &mut to, &[&header::HOST, &strip]);
        let names: Vec<&str> = to.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["authorization", "dpop", "set-cookie"]);
        assert_eq!(to.get_all(header::SET_COOKIE).iter().count(), 2, "repeated fields stay repeated");
    }

    #[test]
    fn the_upstream_must_be_an_origin_and_tls_options_need_https() {
        let strip = HeaderName::from_static("x-client-cert");
        let with = |url: &str| UpstreamOptions { url: Some(url.into()), timeout_secs: 5, ..Default::default() };
        let err = |o: UpstreamOptions| Upstream::new(&o, strip.clone()).err().unwrap_or_default();
        assert!(err(with("https://idsvr.example/oauth")).contains("must be an origin"));
        assert!(err(with("ftp://idsvr.example")).contains("http:// or https://"));
        assert!(err(with("https://user:pw@idsvr.example")).contains("no user information"));
        assert!(err(UpstreamOptions { insecure: true, ..with("http://127.0.0.1:1") }).contains("plain HTTP"));
        assert!(err(UpstreamOptions { client_cert: Some("c.pem".into()), ..with("https://127.0.0.1:1") }).contains("go together"));
        assert!(err(UpstreamOptions { insecure: true, ca_files: vec!["ca.pem".into()], ..with("https://127.0.0.1:1") }).contains("contradict"));
        let ok = Upstream::new(&with("https://idsvr.example:8443/"), strip.clone()).unwrap();
        assert_eq!(ok.origin, "https://idsvr.example:8443");
        assert_eq!(ok.authority, "idsvr.example:8443");
    }
}
