//! The lab's local server: serves the page (`www/`) and the module (`pkg/`), and hosts the
//! simulated Curity over real HTTP on the same origin, with CORS for pages on other origins.
//!
//! ```text
//! cargo run --release --features server -- [--host 127.0.0.1] [--port 8080] [--root .] [--sim-settings FILE]
//! ```
//! The simulator's issuer is `http://HOST:PORT/oauth/v2/oauth-anonymous` unless the settings file
//! says otherwise. This binary is the only place that reads the system clock and the OS's
//! randomness for the simulator; the simulator itself stays deterministic given both.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::http::{HttpRequest, HttpResponse};
use haapi_lab::sim::{SimSettings, Simulator};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's Content-Security-Policy (no inline script or style; wasm compilation allowed).
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Largest request body the simulator reads.
const MAX_BODY: usize = 64 * 1024;

struct Options {
    host: String,
    port: u16,
    root: PathBuf,
    sim_settings: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { host: "127.0.0.1".into(), port: 8080, root: PathBuf::from("."), sim_settings: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--host" => o.host = value("--host")?,
            "--port" => o.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--root" => o.root = PathBuf::from(value("--root")?),
            "--sim-settings" => o.sim_settings = Some(PathBuf::from(value("--sim-settings")?)),
            "-h" | "--help" => {
                println!("usage: haapi-lab-server [--host 127.0.0.1] [--port 8080] [--root .] [--sim-settings FILE]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(o)
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_millis(d.as_millis() as u64)
}

type Shared = Arc<Mutex<Simulator>>;

async fn simulate(State(sim): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let mut req = HttpRequest::new(parts.method.as_str(), format!("http://{host}{}", parts.uri));
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            req.headers.set(name.as_str(), v);
        }
    }
    if !body.is_empty() {
        req.body = Some(String::from_utf8_lossy(&body).into_owned());
    }
    let resp = match sim.lock() {
        Ok(mut s) => s.handle(&req, now()),
        Err(_) => HttpResponse::json(500, &serde_json::json!({ "error": "server_error", "error_description": "the simulator failed earlier" })),
    };
    to_axum(resp)
}

fn to_axum(resp: HttpResponse) -> Response {
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in resp.headers.iter() {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.headers_mut().insert(n, v);
        }
    }
    out
}

#[tokio::main]
async fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("haapi-lab-server: {e}");
            std::process::exit(2);
        }
    };
    let origin = format!("http://{}:{}", options.host, options.port);
    let mut settings = match &options.sim_settings {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
            serde_json::from_str::<SimSettings>(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
        }
        None => SimSettings::default(),
    };
    if options.sim_settings.is_none() {
        settings.issuer = format!("{origin}/oauth/v2/oauth-anonymous");
    }
    if let Err(e) = settings.validate() {
        fail(&format!("simulator settings: {e}"));
    }
    let issuer = settings.issuer.clone();
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap_or_else(|e| fail(&format!("no OS randomness: {e}")));
    let sim: Shared = Arc::new(Mutex::new(Simulator::new(settings, u64::from_le_bytes(seed))));

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods(AllowMethods::list([Method::GET, Method::POST, Method::OPTIONS]))
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([HeaderName::from_static("dpop-nonce"), HeaderName::from_static("set-session-id"), HeaderName::from_static("www-authenticate")])
        .max_age(std::time::Duration::from_secs(600));
    let static_files = Router::new()
        .nest_service("/www", ServeDir::new(options.root.join("www")))
        .nest_service("/pkg", ServeDir::new(options.root.join("pkg")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    let app = Router::new().route("/", get(|| async { Redirect::temporary("/www/") })).merge(static_files).fallback(simulate).with_state(sim).layer(cors);

    let addr: SocketAddr = format!("{}:{}", options.host, options.port).parse().unwrap_or_else(|e| fail(&format!("--host/--port: {e}")));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| fail(&format!("cannot listen on {addr}: {e}")));
    println!("haapi-lab: the page is at {origin}/www/");
    println!("haapi-lab: the simulated Curity is at {issuer} (discovery: {issuer}/.well-known/openid-configuration)");
    println!("haapi-lab: press Ctrl+C to stop");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        fail(&format!("server error: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("haapi-lab-server: {message}");
    std::process::exit(1)
}
