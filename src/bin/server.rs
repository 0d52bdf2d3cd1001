//! The lab's local server: serves the page (`www/`) and the module (`pkg/`), and hosts the
//! simulated Curity over real HTTP on the same origin, with CORS for the origins it is told to
//! trust. `haapi-lab-server --help` lists the options; README.md ("The local server") explains
//! them.
//!
//! This binary is the only place that reads the system clock and the OS's randomness for the
//! simulator; the simulator itself stays deterministic given both. Simulator requests that
//! verify or make signatures run on tokio's blocking threads ([`heavy`]), at most a few per core at
//! once, each on its own handle of the simulator ([`Simulator::worker`]: shared stores, each
//! behind its own short lock); static files, cheap requests and the HTTP stack stay on the async
//! workers.

/// mimalloc: the server allocates and frees many small values per request (README, benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "server/fast_crypto.rs"]
mod fast_crypto;
#[path = "server/tls.rs"]
mod tls;
#[path = "server/upstream.rs"]
mod upstream;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::http::{Headers, HttpRequest, HttpResponse};
use haapi_lab::sim::{ClientChange, SimSettings, Simulator};
use serde_json::{json, Value};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's Content-Security-Policy (no inline script or style; wasm compilation allowed).
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Largest request body the simulator reads.
const MAX_BODY: usize = 64 * 1024;
/// Largest request target (path and query) the simulator reads.
const MAX_TARGET: usize = 8 * 1024;
/// Most header fields in a simulator request (hyper refuses more than 100 before this).
const MAX_HEADERS: usize = 64;
/// Default lifetime of a dynamic client's registration when no settings file says otherwise.
const DEFAULT_CLIENT_TTL_SECS: u64 = 7 * 24 * 3600;

const USAGE: &str = "\
usage: haapi-lab-server [OPTIONS]

Serves the lab's page (www/, pkg/) and the simulated Curity over HTTP.

  --host ADDR            address to listen on (default 127.0.0.1)
  --port N               port to listen on; 0 picks a free one (default 8080)
  --root DIR             repository root holding www/ and pkg/ (default .)
  --origin URL           the origin the page and the simulator are reached at (default
                         http://HOST:PORT); request URLs and the issuer derive from it, never
                         from the Host header
  --allow-origin ORIGIN  another origin whose pages may call the simulator (CORS); repeatable.
                         A port of * matches any port (http://127.0.0.1:*). The server's own
                         origin is always allowed; \"null\" (file:// pages, sandboxes) only if
                         given explicitly
  --sim-settings FILE    the simulator's settings (JSON, see README); the issuer defaults to
                         ORIGIN/oauth/v2/oauth-anonymous
  --client-ttl SECS      how long a registered dynamic client is kept; 0 = until restart
                         (default 604800, 7 days, unless the settings file sets it)
  --max-clients N        most dynamic clients kept at once; the oldest make room (default
                         100000, unless the settings file sets it)
  --data-dir DIR         keep registered dynamic clients in DIR/clients.sqlite3, so that a
                         restart remembers them (default: none, clients live in memory only);
                         delete the file while the server is stopped to reproduce a device
                         holding a client the server no longer knows
  --https-port N         also serve HTTPS on this port (0 picks one), with a certificate issued
                         by the local CA (DATA_DIR/ca.pem, made on first use; without --data-dir
                         a new CA each run)
  --mtls-port N          also serve HTTPS on this port asking for a client certificate (mutual
                         TLS): any chain whose key signs the handshake is handed to the
                         simulator, which checks tls_client_auth (trusted CA, subject DN) and
                         self_signed_tls_client_auth (pinned key) per client
  --mtls-main-client     the main client authenticates with tls_client_auth: a certificate the
                         local CA issued for CN=<client id> (POST /local-ca/client-certificate,
                         which the page calls); needs --mtls-port
  --trusted-proxy ADDR   a reverse proxy (IP address) that terminates mutual TLS in front of this
                         server and passes the client's certificate in the client-certificate
                         header (Curity's mutual-tls-by-proxy); repeatable. From any other peer
                         that header is ignored (and a line says so)
  --client-cert-header NAME
                         that header (default X-Client-Cert): the PEM chain, URL-encoded as
                         nginx's $ssl_client_escaped_cert sends it
  --log lines|off        one JSON line per request on stdout (default lines)

A same-origin proxy to a real Curity, instead of the simulator:
  --upstream URL         pass every request but the lab's own (/, /www/, /pkg/, /healthz) to the
                         upstream at URL (an origin: https://idsvr.example:8443), path and query
                         unchanged: discovery, token, registration, authorize, authentication.
                         Configure the page with the upstream's issuer and server.sendVia =
                         this server's origin: DPoP htu and assertion aud keep the upstream's
                         URLs. Hop-by-hop headers and Origin are dropped, Host names the
                         upstream, redirects come back unchanged; a failed hop is a 502 (504:
                         timeout) with a JSON body saying what failed. The simulator is not
                         hosted
  --upstream-ca FILE     also trust these roots (PEM) for the upstream's certificate, besides
                         the system's; repeatable (a development server's CA, e.g. another
                         haapi-lab-server's DATA_DIR/ca.pem)
  --upstream-insecure    DO NOT verify the upstream's certificate (a development server with a
                         self-signed certificate). Anyone on the path can then read and change
                         every request, secrets and tokens included: prefer --upstream-ca.
                         Warned about at start and in the log line of every proxied request
  --upstream-client-cert FILE, --upstream-client-key FILE
                         present this client certificate chain (PEM, leaf first) and key (PEM)
                         to the upstream: mutual TLS on the upstream hop. Every request proxied
                         carries it, whoever sent it: with a --host other than loopback the
                         server refuses to start unless --share-upstream-client-cert is given
  --share-upstream-client-cert
                         let anyone who reaches this server on its --host use that certificate
                         at the upstream (a shared lab machine, on purpose)
  --upstream-timeout SECS
                         most a request to the upstream may take, connecting to the last byte
                         of the answer (default 30)

  -h, --help             this text

Ctrl+C or SIGTERM stops the server after the requests in flight.";

#[derive(Debug)]
struct Options {
    host: String,
    port: u16,
    root: PathBuf,
    origin: Option<String>,
    allow_origins: Vec<String>,
    sim_settings: Option<PathBuf>,
    client_ttl: Option<u64>,
    max_clients: Option<usize>,
    data_dir: Option<PathBuf>,
    trusted_proxies: Vec<IpAddr>,
    client_cert_header: HeaderName,
    https_port: Option<u16>,
    mtls_port: Option<u16>,
    mtls_main_client: bool,
    log: bool,
    upstream: upstream::UpstreamOptions,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        host: "127.0.0.1".into(),
        port: 8080,
        root: PathBuf::from("."),
        origin: None,
        allow_origins: Vec::new(),
        sim_settings: None,
        client_ttl: None,
        max_clients: None,
        data_dir: None,
        trusted_proxies: Vec::new(),
        client_cert_header: HeaderName::from_static("x-client-cert"),
        https_port: None,
        mtls_port: None,
        mtls_main_client: false,
        log: true,
        upstream: upstream::UpstreamOptions { timeout_secs: upstream::DEFAULT_TIMEOUT_SECS, ..Default::default() },
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--host" => o.host = value("--host")?,
            "--port" => o.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--root" => o.root = PathBuf::from(value("--root")?),
            "--origin" => o.origin = Some(value("--origin")?.trim_end_matches('/').to_owned()),
            "--allow-origin" => o.allow_origins.push(value("--allow-origin")?.trim_end_matches('/').to_owned()),
            "--sim-settings" => o.sim_settings = Some(PathBuf::from(value("--sim-settings")?)),
            "--client-ttl" => o.client_ttl = Some(value("--client-ttl")?.parse().map_err(|e| format!("--client-ttl: {e}"))?),
            "--max-clients" => o.max_clients = Some(value("--max-clients")?.parse().map_err(|e| format!("--max-clients: {e}"))?),
            "--data-dir" => o.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--https-port" => o.https_port = Some(value("--https-port")?.parse().map_err(|e| format!("--https-port: {e}"))?),
            "--mtls-port" => o.mtls_port = Some(value("--mtls-port")?.parse().map_err(|e| format!("--mtls-port: {e}"))?),
            "--mtls-main-client" => o.mtls_main_client = true,
            "--trusted-proxy" => {
                let ip: IpAddr = value("--trusted-proxy")?.parse().map_err(|e| format!("--trusted-proxy: {e} (an IP address)"))?;
                o.trusted_proxies.push(ip.to_canonical())
            }
            "--client-cert-header" => {
                o.client_cert_header = HeaderName::try_from(value("--client-cert-header")?).map_err(|e| format!("--client-cert-header: {e}"))?
            }
            "--log" => {
                o.log = match value("--log")?.as_str() {
                    "lines" => true,
                    "off" => false,
                    other => return Err(format!("--log: {other:?} is not lines or off")),
                }
            }
            "--upstream" => o.upstream.url = Some(value("--upstream")?),
            "--upstream-ca" => o.upstream.ca_files.push(PathBuf::from(value("--upstream-ca")?)),
            "--upstream-insecure" => o.upstream.insecure = true,
            "--share-upstream-client-cert" => o.upstream.share_client_cert = true,
            "--upstream-client-cert" => o.upstream.client_cert = Some(PathBuf::from(value("--upstream-client-cert")?)),
            "--upstream-client-key" => o.upstream.client_key = Some(PathBuf::from(value("--upstream-client-key")?)),
            "--upstream-timeout" => o.upstream.timeout_secs = value("--upstream-timeout")?.parse().map_err(|e| format!("--upstream-timeout: {e}"))?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if o.upstream.url.is_some() {
        // What configures the simulator, or hands a client certificate to it, has no meaning
        // when the upstream answers instead.
        for (given, name) in [
            (o.sim_settings.is_some(), "--sim-settings"),
            (o.client_ttl.is_some(), "--client-ttl"),
            (o.max_clients.is_some(), "--max-clients"),
            (!o.trusted_proxies.is_empty(), "--trusted-proxy"),
        ] {
            if given {
                return Err(format!("{name} configures the simulator, which --upstream replaces"));
            }
        }
        if o.mtls_port.is_some() {
            return Err("--mtls-port with --upstream: a certificate presented to this server cannot be passed on to the upstream's TLS; --upstream-client-cert and --upstream-client-key give the upstream hop its own".into());
        }
        if o.upstream.client_cert.is_some() && !is_loopback_host(&o.host) && !o.upstream.share_client_cert {
            return Err(format!(
                "--upstream-client-cert with --host {}: anyone who reaches this server there would authenticate with that certificate at the upstream; listen on 127.0.0.1, or add --share-upstream-client-cert if that is the intent",
                o.host
            ));
        }
    } else {
        let upstream_only = [
            (!o.upstream.ca_files.is_empty(), "--upstream-ca"),
            (o.upstream.insecure, "--upstream-insecure"),
            (o.upstream.client_cert.is_some() || o.upstream.client_key.is_some(), "--upstream-client-cert/--upstream-client-key"),
            (o.upstream.share_client_cert, "--share-upstream-client-cert"),
            (o.upstream.timeout_secs != upstream::DEFAULT_TIMEOUT_SECS, "--upstream-timeout"),
        ];
        if let Some((_, name)) = upstream_only.iter().find(|(given, _)| *given) {
            return Err(format!("{name} needs --upstream URL"));
        }
    }
    Ok(o)
}

/// Whether `--host` is a loopback address (or `localhost`): only this machine reaches it.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_millis(d.as_millis() as u64)
}

/// The simulator's handles: a root that makes new ones, and the idle ones. A request takes an
/// idle handle (or makes one), runs on it, and gives it back.
struct Sims {
    root: Mutex<Simulator>,
    idle: Mutex<Vec<Simulator>>,
    /// Where registered clients are kept across restarts, if anywhere.
    db: Option<ClientDb>,
}

impl Sims {
    fn take(&self) -> Simulator {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        idle.unwrap_or_else(|| self.root.lock().unwrap_or_else(PoisonError::into_inner).worker())
    }

    fn give(&self, sim: Simulator) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(sim);
    }

    /// Answers one request on a handle of its own. A panic answers 500 for this request only:
    /// its handle is dropped, the stores' locks ignore poisoning, every other request goes on.
    fn handle(&self, request: &HttpRequest, now: Timestamp) -> HttpResponse {
        let mut sim = self.take();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            #[cfg(feature = "test-hooks")]
            if request.url.ends_with("/__test/panic") {
                sim.panic_holding_locks();
            }
            sim.handle(request, now)
        }));
        match outcome {
            Ok(response) => {
                if let Some(db) = &self.db {
                    if sim.has_client_changes() {
                        db.save(&sim, now);
                    }
                }
                self.give(sim);
                response
            }
            Err(_) => internal_error(),
        }
    }
}

/// The client database in SQLite (`DIR/clients.sqlite3`): one row per registered dynamic client
/// of an issuer, as [`Simulator::export_state`] lists it (the secret only as a hash), with the
/// second at which it is forgotten. Written after each request that changed the clients, read
/// once at start.
struct ClientDb {
    conn: Mutex<rusqlite::Connection>,
    path: PathBuf,
    issuer: String,
    /// Seconds a client is kept (0: until deleted).
    ttl: u64,
}

impl ClientDb {
    fn open(dir: &std::path::Path, issuer: &str, ttl: u64) -> Result<ClientDb, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("clients.sqlite3");
        let conn = rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS clients (
                 issuer TEXT NOT NULL,
                 client_id TEXT NOT NULL,
                 forget_at INTEGER NOT NULL,
                 client TEXT NOT NULL,
                 PRIMARY KEY (issuer, client_id)
             );
             CREATE INDEX IF NOT EXISTS clients_forget_at ON clients (forget_at);",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ClientDb { conn: Mutex::new(conn), path, issuer: issuer.to_owned(), ttl })
    }

    /// Drops what expired, then puts every client of this issuer into `sim`. Returns how many.
    fn restore(&self, sim: &mut Simulator, now: Timestamp) -> Result<usize, String> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let fail = |e: rusqlite::Error| format!("{}: {e}", self.path.display());
        conn.execute("DELETE FROM clients WHERE forget_at <= ?1", [now.secs() as i64]).map_err(fail)?;
        let mut select = conn.prepare("SELECT client FROM clients WHERE issuer = ?1 ORDER BY rowid").map_err(fail)?;
        let rows = select.query_map([&self.issuer], |row| row.get::<_, String>(0)).map_err(fail)?;
        let mut clients = Vec::new();
        for row in rows {
            let text = row.map_err(fail)?;
            clients.push(serde_json::from_str::<Value>(&text).map_err(|e| format!("{}: a stored client is not JSON: {e}", self.path.display()))?);
        }
        let n = clients.len();
        sim.import_state(&json!({ "version": 1, "issuer": self.issuer, "dynamicClients": clients }))?;
        Ok(n)
    }

    /// Writes the changes `sim` recorded. Taken under the database's lock, so changes from
    /// different threads are written in the order they were made. A failure is reported and
    /// the server goes on (in memory).
    fn save(&self, sim: &Simulator, now: Timestamp) {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let changes = sim.take_client_changes();
        if changes.is_empty() {
            return;
        }
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for change in changes {
                match change {
                    ClientChange::Added(client) => {
                        let id = client["clientId"].as_str().unwrap_or_default().to_owned();
                        let issued = client["issuedAt"].as_u64().unwrap_or_else(|| now.secs());
                        let forget_at = if self.ttl == 0 { i64::MAX } else { i64::try_from(issued.saturating_add(self.ttl)).unwrap_or(i64::MAX) };
                        tx.execute(
                            "INSERT OR REPLACE INTO clients (issuer, client_id, forget_at, client) VALUES (?1, ?2, ?3, ?4)",
                            rusqlite::params![self.issuer, id, forget_at, client.to_string()],
                        )?;
                    }
                    ClientChange::Removed(id) => {
                        tx.execute("DELETE FROM clients WHERE issuer = ?1 AND client_id = ?2", [&self.issuer, &id])?;
                    }
                    ClientChange::Cleared => {
                        tx.execute("DELETE FROM clients WHERE issuer = ?1", [&self.issuer])?;
                    }
                }
            }
            tx.commit()
        })();
        if let Err(e) = result {
            eprintln!("haapi-lab-server: could not save clients to {}: {e} (they stay in memory)", self.path.display());
        }
    }
}

fn internal_error() -> HttpResponse {
    HttpResponse::json(
        500,
        &json!({ "error": "server_error", "error_description": "the server failed while answering this request; other requests are not affected" }),
    )
}

struct App {
    sims: Sims,
    /// Limits how many simulator requests run at once (a few per core): the rest wait without
    /// holding a thread.
    running: Semaphore,
    /// The origin request URLs are built on.
    origin: String,
    /// Peers whose client-certificate header is believed (`--trusted-proxy`).
    trusted_proxies: Vec<IpAddr>,
    /// The header a trusted proxy passes the client's certificate chain in.
    client_cert_header: HeaderName,
}

/// The client certificate chain (PEM) a request presents through a trusted reverse proxy
/// (Curity's mutual-tls-by-proxy): the value of `header`, percent-decoded, believed only when the
/// TCP peer is one of `trusted`. From another peer the header is ignored (a line on stdout says
/// so) and the request goes on without a certificate. `Err` is a 400's reason: a trusted proxy
/// sent the header twice, or a value that does not decode.
fn certificate_from_proxy(parts: &Parts, peer: Option<IpAddr>, trusted: &[IpAddr], header: &HeaderName) -> Result<Option<String>, String> {
    let mut values = parts.headers.get_all(header).iter();
    let Some(value) = values.next() else { return Ok(None) };
    // An IPv4 peer on a dual-stack listener arrives as ::ffff:a.b.c.d: compared as IPv4.
    let peer = peer.map(|p| p.to_canonical());
    let Some(peer) = peer.filter(|p| trusted.contains(p)) else {
        let from = peer.map_or_else(|| "an unknown peer".to_owned(), |p| p.to_string());
        println!("haapi-lab: ignored the {header} header from {from}, which is not a --trusted-proxy");
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("more than one {header} header from the proxy at {peer}"));
    }
    let decoded = percent_decode(value.as_bytes()).ok_or_else(|| format!("the {header} header is not a URL-encoded PEM chain (bad %-escape)"))?;
    String::from_utf8(decoded).map(Some).map_err(|_| format!("the {header} header does not decode to text"))
}

/// `%XX` escapes decoded (RFC 3986 §2.1); every other byte, `+` included, stays as it is.
fn percent_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The `client_id` a request names (for the log only; unverified): the Basic user name, the
/// form's `client_id`, a client assertion's `sub`, or the query's `client_id`. Never a secret.
#[derive(Clone, Debug)]
struct ClientId(String);

fn client_id_of(req: &HttpRequest) -> Option<String> {
    if let Some((scheme, credentials)) = req.header("authorization").and_then(|v| v.trim().split_once(' ')) {
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = haapi_lab::proto::base64::decode_standard(credentials.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let id = text.split(':').next()?;
            return form_urlencoded::parse(id.as_bytes()).next().map(|(name, _)| name.into_owned());
        }
    }
    let form = req.header("content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if form {
        let params = req.form_params();
        let find = |name: &str| params.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.clone());
        if let Some(id) = find("client_id") {
            return Some(id);
        }
        if let Some(assertion) = find("client_assertion") {
            let decoded = haapi_lab::proto::jose::decode_unverified(&assertion).ok()?;
            return decoded.claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        }
    }
    let query = req.url.split_once('?').map(|(_, q)| q)?;
    form_urlencoded::parse(query.as_bytes()).find(|(n, _)| n == "client_id").map(|(_, v)| v.into_owned())
}

/// The simulator's request: method, the URL on the configured origin (never from `Host`), every
/// header field as sent (a repeated one stays repeated), the body. A header value that is not
/// visible ASCII is refused (the caller answers 400 with the reason). The header `skip` (the
/// proxy's client certificate) is left out.
fn to_sim_request(origin: &str, parts: &Parts, body: &[u8], skip: &HeaderName) -> Result<HttpRequest, String> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut fields = serde_json::Map::new();
    for (name, value) in &parts.headers {
        if name == skip {
            continue;
        }
        let Ok(text) = value.to_str() else {
            return Err(format!("the value of header {name} is not visible ASCII (RFC 9110 §5.5)"));
        };
        match fields.get_mut(name.as_str()) {
            None => {
                fields.insert(name.as_str().to_owned(), Value::String(text.to_owned()));
            }
            Some(Value::Array(values)) => values.push(Value::String(text.to_owned())),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(text.to_owned())]),
        }
    }
    let mut req = HttpRequest::new(parts.method.as_str(), format!("{origin}{target}"));
    req.headers = Headers::from_json(&Value::Object(fields))?;
    if !body.is_empty() {
        req.body = Some(String::from_utf8_lossy(body).into_owned());
    }
    Ok(req)
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The request's body, read within the bounds every simulator or proxied request keeps (request
/// target, header fields, body); `Err` is the refusal.
async fn bounded_body(parts: &Parts, body: Body) -> Result<axum::body::Bytes, Response> {
    if parts.uri.path_and_query().map_or(0, |p| p.as_str().len()) > MAX_TARGET {
        return Err(refuse(StatusCode::URI_TOO_LONG, "invalid_request", &format!("the request target is longer than {MAX_TARGET} bytes")));
    }
    if parts.headers.len() > MAX_HEADERS {
        return Err(refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request", &format!("more than {MAX_HEADERS} header fields")));
    }
    to_bytes(body, MAX_BODY).await.map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", &format!("the body is larger than {MAX_BODY} bytes")))
}

/// `--upstream`: a request that is not the lab's own goes to the upstream (bounded as the
/// simulator's are); its log line names the client as the simulator's does.
async fn proxy(State(up): State<Arc<upstream::Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match bounded_body(&parts, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let client = to_sim_request(&up.origin, &parts, &body, &header::HOST).ok().and_then(|r| client_id_of(&r));
    let mut response = up.forward(&parts, body).await;
    if let Some(id) = client {
        response.extensions_mut().insert(ClientId(id));
    }
    response
}

async fn simulate(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match bounded_body(&parts, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    // On a TLS listener: its own origin, and the chain the client presented in the handshake.
    let tls = parts.extensions.get::<ConnectInfo<tls::TlsPeer>>().map(|c| c.0.clone());
    let origin = tls.as_ref().map_or(app.origin.as_str(), |t| &t.origin);
    let mut req = match to_sim_request(origin, &parts, &body, &app.client_cert_header) {
        Ok(r) => r,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    let peer = tls.as_ref().map(|t| t.addr.ip()).or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
    req.client_certificate = match tls.and_then(|t| t.chain) {
        Some(chain) => Some(chain.to_string()),
        None => match certificate_from_proxy(&parts, peer, &app.trusted_proxies, &app.client_cert_header) {
            Ok(chain) => chain,
            Err(why) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", &why),
        },
    };
    let client = client_id_of(&req);
    let answer = if heavy(&req) {
        let Ok(permit) = app.running.acquire().await else { return to_axum(internal_error()) };
        let worker = Arc::clone(&app);
        let answer = tokio::task::spawn_blocking(move || worker.sims.handle(&req, now())).await;
        drop(permit);
        answer.unwrap_or_else(|_| internal_error())
    } else {
        app.sims.handle(&req, now())
    };
    let mut response = to_axum(answer);
    if let Some(id) = client {
        response.extensions_mut().insert(ClientId(id));
    }
    response
}

/// Whether a request may verify or make a signature, or write to the client database: then it
/// runs on a blocking thread. The rest (discovery, JWKS, client secrets, dcr tokens; input is
/// capped, so each is a few tens of microseconds) runs where it arrived, without the hand-over.
fn heavy(req: &HttpRequest) -> bool {
    let starts_with_ci = |v: &str, p: &str| v.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    req.header("dpop").is_some()
        || req.header("authorization").is_some_and(|a| starts_with_ci(a.trim_start(), "dpop"))
        || req.header("content-type").is_some_and(|t| !starts_with_ci(t.trim_start(), "application/x-www-form-urlencoded"))
        || req.body.as_deref().is_some_and(|b| b.contains("client_assertion"))
        || req.url.ends_with("/__test/panic")
}

fn to_axum(resp: HttpResponse) -> Response {
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in resp.headers.iter() {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

/// Whether pages of `origin` may call the simulator: the server's own origin, and each
/// `--allow-origin` (exactly, or any port for a pattern ending in `:*`).
fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix(":*") {
        Some(prefix) => {
            origin.strip_prefix(prefix).and_then(|rest| rest.strip_prefix(':')).is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        }
        None => a == origin,
    })
}

/// One JSON line per request on stdout: time, method, path (without the query), status,
/// latency, and the client id the request named (never a secret, never a header value); for a
/// proxied request also the upstream URL (without the query), the failure if the hop failed, and
/// `upstream_tls: "NOT VERIFIED"` under `--upstream-insecure`.
async fn log_requests(State(log): State<bool>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();
    // Its own task: a panic anywhere below answers 500 for this request only.
    let response = match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(_) => to_axum(internal_error()),
    };
    if log {
        let client: Option<String> = response.extensions().get::<ClientId>().map(|c| c.0.chars().take(128).collect());
        let mut line = json!({
            "time": rfc3339(now()),
            "method": method.as_str(),
            "path": path,
            "status": response.status().as_u16(),
            "ms": (started.elapsed().as_secs_f64() * 1e5).round() / 100.0,
            "client_id": client,
        });
        if let Some(p) = response.extensions().get::<upstream::Proxied>() {
            line["upstream"] = json!(p.url.chars().take(300).collect::<String>());
            if let Some(code) = p.failure {
                line["upstream_error"] = json!(code);
            }
            if p.insecure {
                line["upstream_tls"] = json!("NOT VERIFIED (--upstream-insecure)");
            }
        }
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
    response
}

/// `2026-12-04T13:45:01.123Z`.
fn rfc3339(t: Timestamp) -> String {
    let millis = t.millis();
    let (secs, ms) = (millis / 1000, millis % 1000);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("haapi-lab: stopping (waiting at most 5 s for requests in flight)");
    // Connections that stay open do not keep the process alive for long.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        std::process::exit(0);
    });
}

fn main() {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("haapi-lab-server: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|e| fail(&format!("cannot start the runtime: {e}")));
    runtime.block_on(serve(options));
}

async fn serve(options: Options) {
    let addr: SocketAddr = format!("{}:{}", options.host, options.port).parse().unwrap_or_else(|e| fail(&format!("--host/--port: {e}")));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| fail(&format!("cannot listen on {addr}: {e}")));
    let bound = listener.local_addr().unwrap_or(addr);
    let origin = options.origin.clone().unwrap_or_else(|| format!("http://{}:{}", options.host, bound.port()));
    if haapi_lab::proto::url::Url::parse(&origin).map_or(true, |u| u.path() != "/" && !u.path().is_empty()) {
        fail(&format!("--origin {origin:?} must be an origin (scheme, host and port, no path)"));
    }
    let mut settings = match &options.sim_settings {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
            let mut doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
            // A file that names no issuer gets the default one, on this server's origin.
            if let Some(fields) = doc.as_object_mut() {
                fields.entry("issuer").or_insert_with(|| Value::String(format!("{origin}/oauth/v2/oauth-anonymous")));
            }
            serde_json::from_value::<SimSettings>(doc).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
        }
        None => {
            SimSettings { issuer: format!("{origin}/oauth/v2/oauth-anonymous"), dynamic_client_ttl_secs: DEFAULT_CLIENT_TTL_SECS, ..SimSettings::default() }
        }
    };
    if let Some(ttl) = options.client_ttl {
        settings.dynamic_client_ttl_secs = ttl;
    }
    if let Some(max) = options.max_clients {
        settings.max_dynamic_clients = max;
    }
    // The local CA, made before the simulator: --mtls-main-client trusts it.
    let local_ca = local_ca(&options);
    // The HTTPS and mutual-TLS listeners, with certificates of the local CA.
    let mut tls_listeners = Vec::new();
    let mut ca_line = None;
    if let Some((ca, made)) = &local_ca {
        let secs = now().secs();
        ca_line = Some(match &options.data_dir {
            Some(dir) => format!("haapi-lab: local CA {} ({})", dir.join("ca.pem").display(), if *made { "made now" } else { "reused" }),
            None => "haapi-lab: local CA made for this run only (--data-dir keeps it)".to_owned(),
        });
        for (port, mutual) in [(options.https_port, false), (options.mtls_port, true)] {
            let Some(port) = port else { continue };
            let config = tls::server_config(ca, &options.host, secs, mutual).unwrap_or_else(|e| fail(&format!("TLS: {e}")));
            let at: SocketAddr = format!("{}:{port}", options.host).parse().unwrap_or_else(|e| fail(&format!("--host: {e}")));
            let tcp = tokio::net::TcpListener::bind(at).await.unwrap_or_else(|e| fail(&format!("cannot listen on {at}: {e}")));
            let bound = tcp.local_addr().unwrap_or(at);
            let tls_origin = format!("https://{}:{}", options.host, bound.port());
            let listener = tls::TlsListener::new(tcp, config, tls_origin.clone()).unwrap_or_else(|e| fail(&format!("{at}: {e}")));
            tls_listeners.push((listener, bound, tls_origin, mutual));
        }
    }
    // Discovery names the mutual-TLS listener's token endpoint as the alias a client with a
    // certificate must use (RFC 8705 §5), unless the settings file names one.
    if let Some((_, _, mtls_origin, _)) = tls_listeners.iter().find(|(_, _, _, mutual)| *mutual) {
        settings.mtls_origin.get_or_insert_with(|| mtls_origin.clone());
    }
    if options.mtls_main_client {
        let (Some((ca, _)), Some(_)) = (&local_ca, options.mtls_port) else {
            fail("--mtls-main-client needs --mtls-port (the port that asks for client certificates)")
        };
        tls::main_client_trusts_local_ca(&mut settings, ca);
    }
    if let Err(e) = settings.validate() {
        fail(&format!("simulator settings: {e}"));
    }
    let issuer = settings.issuer.clone();
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap_or_else(|e| fail(&format!("no OS randomness: {e}")));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ttl = settings.dynamic_client_ttl_secs;
    let mut sim = Simulator::new(settings, u64::from_le_bytes(seed));
    // ES256 through ring here (fast_crypto): the simulator's tokens, and jsonwebtoken's verifier.
    fast_crypto::install().unwrap_or_else(|e| fail(&format!("cryptography: {e}")));
    sim.set_token_signer(fast_crypto::token_signer(&sim.signing_key_pkcs8_der()).unwrap_or_else(|e| fail(&e)));
    // With --upstream the simulator answers nothing: no client database (--data-dir then only
    // keeps the local CA).
    let db = options.data_dir.as_ref().filter(|_| options.upstream.url.is_none()).map(|dir| {
        let db = ClientDb::open(dir, &issuer, ttl).unwrap_or_else(|e| fail(&format!("--data-dir: {e}")));
        let n = db.restore(&mut sim, now()).unwrap_or_else(|e| fail(&format!("--data-dir: {e}")));
        sim.record_client_changes();
        (db, n)
    });
    let restored = db.as_ref().map(|(db, n)| format!("haapi-lab: {n} dynamic client(s) restored from {}", db.path.display()));
    let db = db.map(|(db, _)| db);
    let app = Arc::new(App {
        sims: Sims { root: Mutex::new(sim), idle: Mutex::new(Vec::new()), db },
        running: Semaphore::new((2 * cores).max(4)),
        origin: origin.clone(),
        trusted_proxies: options.trusted_proxies.clone(),
        client_cert_header: options.client_cert_header.clone(),
    });

    let mut allowed = vec![origin.clone()];
    allowed.extend(tls_listeners.iter().map(|(_, _, o, _)| o.clone()));
    allowed.extend(options.allow_origins.iter().cloned());
    let allowed_for_cors = allowed.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |o: &HeaderValue, _| o.to_str().is_ok_and(|o| origin_allowed(&allowed_for_cors, o))))
        .allow_methods(AllowMethods::list([Method::GET, Method::POST, Method::OPTIONS]))
        .allow_headers(AllowHeaders::mirror_request())
        // A mutual-TLS request from a page goes with credentials (the client certificate).
        .allow_credentials(true)
        .expose_headers([HeaderName::from_static("dpop-nonce"), HeaderName::from_static("set-session-id"), HeaderName::from_static("www-authenticate")])
        .max_age(Duration::from_secs(600));
    let upstream = options.upstream.url.as_ref().map(|_| {
        let up = upstream::Upstream::new(&options.upstream, options.client_cert_header.clone()).unwrap_or_else(|e| fail(&e));
        Arc::new(up)
    });
    let ca = local_ca.map(|(ca, _)| ca);
    let routes = match &upstream {
        Some(up) => lab_routes(&options.root, ca, &allowed).fallback(proxy).with_state(Arc::clone(up)),
        None => lab_routes(&options.root, ca, &allowed).fallback(simulate).with_state(app),
    };
    let router = routes.layer(cors).layer(middleware::from_fn_with_state(options.log, log_requests));

    println!("haapi-lab: listening on http://{bound}");
    if let Some(line) = restored {
        println!("{line}");
    }
    println!("haapi-lab: the page is at {origin}/www/");
    match &upstream {
        Some(up) => {
            println!(
                "haapi-lab: every other path goes to the upstream {} (discovery, token, registration, authorize, authentication): give the page the upstream's issuer and server.sendVia {origin}",
                up.origin
            );
            if let Some(tls) = &up.tls_summary {
                println!("haapi-lab: upstream TLS: {tls}");
            }
            if up.insecure {
                println!("{}", upstream::INSECURE_WARNING);
                eprintln!("{}", upstream::INSECURE_WARNING);
            }
        }
        None => println!("haapi-lab: the simulated Curity is at {issuer} (discovery: {issuer}/.well-known/openid-configuration)"),
    }
    println!("haapi-lab: CORS allows {}", allowed.join(", "));
    if !options.trusted_proxies.is_empty() {
        let proxies: Vec<String> = options.trusted_proxies.iter().map(IpAddr::to_string).collect();
        println!("haapi-lab: client certificates in {} are believed from {} only", options.client_cert_header, proxies.join(", "));
    }
    if let Some(line) = ca_line {
        println!("{line}");
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    for (listener, bound, _, mutual) in tls_listeners {
        let what = if mutual { "mutual TLS (asks for a client certificate)" } else { "HTTPS" };
        println!("haapi-lab: {what} on https://{bound}");
        let mut stopping = stopping.clone();
        let service = router.clone().into_make_service_with_connect_info::<tls::TlsPeer>();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(stopped).await {
                eprintln!("haapi-lab: {what} listener: {e}");
            }
        });
    }
    println!("haapi-lab: press Ctrl+C to stop");
    let stopped = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    if let Err(e) = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(stopped).await {
        fail(&format!("server error: {e}"));
    }
}

/// The lab's own routes, served here whatever answers the rest: the page (`www/`), the modules
/// (`pkg/`), `/` (to the page), `/healthz` and, when a TLS listener made one, the local CA's.
fn lab_routes<S: Clone + Send + Sync + 'static>(
    root: &std::path::Path,
    ca: Option<haapi_lab::proto::x509::IssuedCertificate>,
    allowed: &[String],
) -> Router<S> {
    let static_files = Router::new()
        .nest_service("/www", ServeDir::new(root.join("www")))
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/www/") }))
        .route("/healthz", get(|| async { "ok" }))
        .merge(static_files)
        .merge(ca.map(|ca| tls::local_ca_routes(ca, allowed.to_vec())).unwrap_or_default())
}

/// The local CA when a TLS listener needs one (made on first use, kept in --data-dir), and
/// whether it was just made.
fn local_ca(options: &Options) -> Option<(haapi_lab::proto::x509::IssuedCertificate, bool)> {
    if options.https_port.is_none() && options.mtls_port.is_none() {
        return None;
    }
    Some(tls::local_ca(options.data_dir.as_deref(), now().secs()).unwrap_or_else(|e| fail(&format!("local CA: {e}"))))
}

fn fail(message: &str) -> ! {
    eprintln!("haapi-lab-server: {message}");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_this_machine_only() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.0.2.1", "lab.example", "localhost.example"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn origins_match_exactly_or_by_any_port() {
        let allowed = vec!["http://127.0.0.1:8080".to_owned(), "http://localhost:*".to_owned()];
        assert!(origin_allowed(&allowed, "http://127.0.0.1:8080"));
        assert!(!origin_allowed(&allowed, "http://127.0.0.1:8081"));
        assert!(origin_allowed(&allowed, "http://localhost:9999"));
        assert!(!origin_allowed(&allowed, "http://localhost"));
        assert!(!origin_allowed(&allowed, "http://localhost:99x"));
        assert!(!origin_allowed(&allowed, "http://localhost.evil.example:80"));
        assert!(!origin_allowed(&allowed, "null"));
        assert!(origin_allowed(&["null".to_owned()], "null"));
    }

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_bad_escapes() {
        assert_eq!(percent_decode(b"-----BEGIN%20X%0Aab+/%3D").as_deref(), Some(&b"-----BEGIN X\nab+/="[..]));
        assert_eq!(percent_decode(b"a%2"), None);
        assert_eq!(percent_decode(b"a%zz"), None);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(Timestamp::from_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(Timestamp::from_millis(1_709_210_096_007)), "2024-02-29T12:34:56.007Z");
    }

    #[test]
    fn the_client_id_comes_from_basic_form_assertion_or_query_and_never_the_secret() {
        let mut r = HttpRequest::new("POST", "http://x/t");
        r.headers.set("authorization", format!("Basic {}", haapi_lab::proto::base64::encode_standard(b"my%3Aclient:s3cret")));
        assert_eq!(client_id_of(&r).as_deref(), Some("my:client"));
        let r = HttpRequest::form("http://x/t", &[("client_id", "c1"), ("client_secret", "s")]);
        assert_eq!(client_id_of(&r).as_deref(), Some("c1"));
        let r = HttpRequest::new("GET", "http://x/a?response_type=code&client_id=c2");
        assert_eq!(client_id_of(&r).as_deref(), Some("c2"));
    }
}
