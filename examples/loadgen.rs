//! The local server's benchmark (`bash scripts/bench.sh --server`, which builds this and the
//! server with `--profile server` and passes the crypto ceiling): starts the server binary,
//! drives it over keep-alive HTTP/1.1 connections from one thread, and prints one table.
//!
//! Workloads, each at every connection count: `GET /healthz` (the HTTP stack's ceiling), the
//! token endpoint with `client_secret_basic` (the one-time `dcr` token), with `private_key_jwt`
//! ES256 (a fresh assertion, distinct `jti`, per request) and the DPoP-bound HAAPI token (a fresh
//! proof per request). Assertions and proofs are signed before each run, not during it, so the
//! generator's CPU goes to sending. Then registrations/s and the server's resident memory at 0,
//! 10,000 and 100,000 registered clients.
//!
//! ```text
//! loadgen --server target/server/haapi-lab-server [--seconds 10] [--warmup 2]
//!         [--connections 1,16,64] [--crypto-limit VERIFY_PER_SEC] [--pool 150000]
//!         [--clients 10000,100000]
//! ```
//! Figures, never pass/fail. DPoP runs with `dpopNonce: "off"`: a pool of proofs signed in
//! advance cannot carry nonces that the server rotates on every answer (the nonce check itself
//! is a map lookup).

use haapi_lab::proto::entropy::OsEntropy;
use haapi_lab::proto::jose::{self, p256::P256Key};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAIN: &str = "haapi-android-client";
const HAAPI: &str = "urn:se:curity:scopes:haapi";

struct Args {
    server: PathBuf,
    seconds: f64,
    warmup: f64,
    connections: Vec<usize>,
    crypto_limit: Option<f64>,
    pool: usize,
    clients: Vec<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        server: PathBuf::new(),
        seconds: 10.0,
        warmup: 2.0,
        connections: vec![1, 16, 64],
        crypto_limit: None,
        pool: 150_000,
        clients: vec![10_000, 100_000],
    };
    let mut it = std::env::args().skip(1);
    let list = |s: String| s.split(',').map(|n| n.trim().parse::<usize>().map_err(|e| format!("{s}: {e}"))).collect::<Result<Vec<_>, _>>();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => a.server = PathBuf::from(value()?),
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--warmup" => a.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--connections" => a.connections = list(value()?)?,
            "--crypto-limit" => a.crypto_limit = Some(value()?.parse().map_err(|e| format!("--crypto-limit: {e}"))?),
            "--pool" => a.pool = value()?.parse().map_err(|e| format!("--pool: {e}"))?,
            "--clients" => a.clients = list(value()?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.server.as_os_str().is_empty() {
        return Err("--server PATH (the haapi-lab-server binary) is required".into());
    }
    Ok(a)
}

/// A server process with a settings file, on a free port; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    origin: String,
    _settings: tempfile::TempPath,
}

mod tempfile {
    //! A file removed when dropped (no dependency for one file).
    pub struct TempPath(pub std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl Server {
    fn start(bin: &PathBuf, settings: impl Fn(&str) -> Value) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let origin = format!("http://127.0.0.1:{port}");
        let path = std::env::temp_dir().join(format!("haapi-lab-bench-{}-{port}.json", std::process::id()));
        std::fs::write(&path, settings(&origin).to_string()).expect("write the settings");
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--log", "off", "--sim-settings"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.starts_with("haapi-lab: listening on"), "the server did not start: {first:?}");
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child, addr: format!("127.0.0.1:{port}"), origin, _settings: tempfile::TempPath(path) }
    }

    /// Resident memory (VmRSS) in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn default_settings(origin: &str) -> Value {
    json!({ "issuer": format!("{origin}/oauth/v2/oauth-anonymous"), "dpopNonce": "off", "maxDynamicClients": 1_000_000, "dynamicClientTtlSecs": 604_800 })
}

/// One HTTP/1.1 connection with keep-alive.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn { stream, buf: Vec::with_capacity(4096) }
    }

    async fn send(&mut self, request: &[u8]) -> Answer {
        self.stream.write_all(request).await.expect("send");
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        while self.buf.len() < head_end + length {
            self.fill().await;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Answer { status, body }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", haapi_lab::proto::base64::encode_standard(format!("{id}:{secret}").as_bytes()))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// What each request of a run is: the same bytes every time, or the next of a pool (each used
/// once).
enum Source {
    Same(Vec<u8>),
    Pool(RefCell<VecDeque<Vec<u8>>>),
}

impl Source {
    fn next(&self) -> Option<Vec<u8>> {
        match self {
            Source::Same(r) => Some(r.clone()),
            Source::Pool(p) => p.borrow_mut().pop_front(),
        }
    }
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    errors: usize,
    first_error: Option<String>,
    /// When the pool ran out, if it did.
    exhausted_at: Option<Instant>,
}

struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    note: String,
}

fn run(addr: &str, source: Source, connections: usize, warmup: f64, seconds: f64) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let source = Rc::new(source);
    let stats = Rc::new(RefCell::new(Stats::default()));
    let start = Instant::now();
    let (measure_from, measure_to) = (start + Duration::from_secs_f64(warmup), start + Duration::from_secs_f64(warmup + seconds));
    local.block_on(&rt, async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (source, stats, addr) = (source.clone(), stats.clone(), addr.to_owned());
            tasks.push(tokio::task::spawn_local(async move {
                let mut conn = Conn::open(&addr).await;
                loop {
                    let now = Instant::now();
                    if now >= measure_to {
                        break;
                    }
                    let Some(req) = source.next() else {
                        stats.borrow_mut().exhausted_at.get_or_insert(now);
                        break;
                    };
                    let sent = Instant::now();
                    let answer = conn.send(&req).await;
                    let done = Instant::now();
                    if sent >= measure_from && done <= measure_to {
                        let mut s = stats.borrow_mut();
                        if answer.status == 200 {
                            s.latencies_us.push((done - sent).as_micros().min(u128::from(u32::MAX)) as u32);
                        } else {
                            s.errors += 1;
                            if s.first_error.is_none() {
                                s.first_error = Some(format!("{} {}", answer.status, String::from_utf8_lossy(&answer.body)));
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("a connection task failed");
        }
    });
    let s = stats.borrow();
    let end = s.exhausted_at.map_or(measure_to, |t| t.min(measure_to));
    let window = end.saturating_duration_since(measure_from).as_secs_f64();
    let mut l = s.latencies_us.clone();
    l.sort_unstable();
    let pct = |p: f64| if l.is_empty() { 0.0 } else { f64::from(l[((l.len() - 1) as f64 * p).round() as usize]) / 1000.0 };
    let mut note = String::new();
    if s.exhausted_at.is_some_and(|t| t < measure_to) {
        note.push_str(&format!("pool ran out after {window:.1}s; "));
    }
    if let Some(e) = &s.first_error {
        note.push_str(&format!("first error: {}", e.chars().take(120).collect::<String>()));
    }
    Figures { rps: if window > 0.0 { l.len() as f64 / window } else { 0.0 }, p50_ms: pct(0.5), p99_ms: pct(0.99), errors: s.errors, note }
}

/// `n` requests, each with a fresh ES256 client assertion for the main client.
fn assertion_pool(key: &P256Key, kid: &str, token_endpoint: &str, n: usize) -> Source {
    let iat = now_secs();
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
    let pool = (0..n)
        .map(|i| {
            let claims = json!({ "iss": MAIN, "sub": MAIN, "aud": token_endpoint, "jti": format!("bench-{iat}-{i}"), "iat": iat, "exp": iat + 240 });
            let input = jose::signing_input(&header, &claims);
            let assertion = jose::compact(&input, &key.sign(input.as_bytes()));
            let body = format!(
                "grant_type=client_credentials&scope=dcr&client_id={MAIN}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
            );
            request("POST", "/oauth/v2/oauth-token", &[("Content-Type", "application/x-www-form-urlencoded")], &body)
        })
        .collect();
    Source::Pool(RefCell::new(pool))
}

/// `n` HAAPI token requests of a dynamic client, each with a fresh DPoP proof.
fn proof_pool(key: &P256Key, client: &(String, String), token_endpoint: &str, n: usize) -> Source {
    let iat = now_secs();
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk() });
    let auth = basic(&client.0, &client.1);
    let body = format!("grant_type=client_credentials&scope={}", HAAPI.replace(':', "%3A"));
    let pool = (0..n)
        .map(|i| {
            let claims = json!({ "jti": format!("proof-{iat}-{i}"), "htm": "POST", "htu": token_endpoint, "iat": iat });
            let input = jose::signing_input(&header, &claims);
            let proof = jose::compact(&input, &key.sign(input.as_bytes()));
            request(
                "POST",
                "/oauth/v2/oauth-token",
                &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &auth), ("DPoP", &proof)],
                &body,
            )
        })
        .collect();
    Source::Pool(RefCell::new(pool))
}

fn dcr_request() -> Vec<u8> {
    request(
        "POST",
        "/oauth/v2/oauth-token",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &basic(MAIN, "Password1"))],
        "grant_type=client_credentials&scope=dcr",
    )
}

async fn register_one(conn: &mut Conn, dcr: &[u8]) -> (String, String) {
    let token = conn.send(dcr).await;
    assert_eq!(token.status, 200, "dcr token: {}", String::from_utf8_lossy(&token.body));
    let token: Value = serde_json::from_slice(&token.body).expect("JSON");
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("a token"));
    let reg = request(
        "POST",
        "/token-service/oauth-registration",
        &[("Content-Type", "application/json"), ("Authorization", &bearer)],
        r#"{"software_id":"haapi-template-client"}"#,
    );
    let answer = conn.send(&reg).await;
    assert_eq!(answer.status, 201, "registration: {}", String::from_utf8_lossy(&answer.body));
    let b: Value = serde_json::from_slice(&answer.body).expect("JSON");
    (b["client_id"].as_str().unwrap().to_owned(), b["client_secret"].as_str().unwrap().to_owned())
}

/// Registers `n` clients over `connections` connections; returns registrations per second.
fn register_many(addr: &str, n: usize, connections: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let left = Rc::new(RefCell::new(n));
    let started = Instant::now();
    local.block_on(&rt, async {
        let dcr = Rc::new(dcr_request());
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (left, dcr, addr) = (left.clone(), dcr.clone(), addr.to_owned());
            tasks.push(tokio::task::spawn_local(async move {
                let mut conn = Conn::open(&addr).await;
                loop {
                    {
                        let mut l = left.borrow_mut();
                        if *l == 0 {
                            break;
                        }
                        *l -= 1;
                    }
                    register_one(&mut conn, &dcr).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("a registration task failed");
        }
    });
    n as f64 / started.elapsed().as_secs_f64()
}

fn one_client(addr: &str) -> (String, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut conn = Conn::open(addr).await;
        register_one(&mut conn, &dcr_request()).await
    })
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("loadgen: {e}");
        std::process::exit(2)
    });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut rows: Vec<(String, usize, Figures, String)> = Vec::new();
    let mut trivial_at: Vec<(usize, f64)> = Vec::new();
    let say = |what: &str| eprintln!("==> {what}");

    // Server A: default settings (nonces off, see above): the trivial endpoint,
    // client_secret_basic, DPoP.
    let a = Server::start(&args.server, default_settings);
    let token_endpoint = format!("{}/oauth/v2/oauth-token", a.origin);
    let dpop_key = P256Key::generate(&mut OsEntropy);
    let client = one_client(&a.addr);
    for &c in &args.connections {
        say(&format!("GET /healthz, {c} connection(s)"));
        let f = run(&a.addr, Source::Same(request("GET", "/healthz", &[], "")), c, args.warmup, args.seconds);
        trivial_at.push((c, f.rps));
        rows.push(("trivial endpoint (GET /healthz)".into(), c, f, "1.00x trivial".into()));
        say(&format!("client_secret_basic, {c} connection(s)"));
        let f = run(&a.addr, Source::Same(dcr_request()), c, args.warmup, args.seconds);
        let trivial = trivial_at.iter().find(|(n, _)| *n == c).map_or(0.0, |t| t.1);
        let ratio = if trivial > 0.0 { format!("{:.2}x trivial", f.rps / trivial) } else { "-".into() };
        rows.push(("client_secret_basic (dcr token)".into(), c, f, ratio));
        say(&format!("DPoP HAAPI token, {c} connection(s): signing {} proofs first", args.pool));
        let pool = proof_pool(&dpop_key, &client, &token_endpoint, args.pool);
        let f = run(&a.addr, pool, c, args.warmup, args.seconds);
        let ratio = args.crypto_limit.map_or("-".into(), |v| format!("{:.2}x crypto", f.rps / v));
        rows.push(("DPoP + Basic (HAAPI token)".into(), c, f, ratio));
    }
    drop(a);

    // Server B: the main client authenticates with private_key_jwt (ES256).
    let assertion_key = P256Key::generate(&mut OsEntropy);
    let kid = jose::thumbprint(assertion_key.public_jwk()).expect("a thumbprint");
    let mut jwk = assertion_key.public_jwk().clone();
    jwk["kid"] = Value::String(kid.clone());
    let b = Server::start(&args.server, |origin| {
        let mut s = default_settings(origin);
        s["mainClient"] = json!({ "clientId": MAIN, "authentication": { "method": "private_key_jwt", "jwks": [jwk] } });
        s
    });
    let token_endpoint = format!("{}/oauth/v2/oauth-token", b.origin);
    for &c in &args.connections {
        say(&format!("private_key_jwt ES256, {c} connection(s): signing {} assertions first", args.pool));
        let pool = assertion_pool(&assertion_key, &kid, &token_endpoint, args.pool);
        let f = run(&b.addr, pool, c, args.warmup, args.seconds);
        let ratio = args.crypto_limit.map_or("-".into(), |v| format!("{:.2}x crypto", f.rps / v));
        rows.push(("private_key_jwt ES256 (dcr token)".into(), c, f, ratio));
    }
    drop(b);

    // Server C: registrations and memory.
    let c = Server::start(&args.server, default_settings);
    {
        // One request, so the figure at 0 is of a server that has answered.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut conn = Conn::open(&c.addr).await;
            conn.send(&request("GET", "/oauth/v2/oauth-anonymous/.well-known/openid-configuration", &[], "")).await;
        });
    }
    let mut memory = vec![(0usize, c.rss_kib(), None::<f64>)];
    let mut registered = 0;
    for &target in &args.clients {
        say(&format!("registering clients {registered} -> {target} (16 connections)"));
        let rate = register_many(&c.addr, target - registered, 16);
        registered = target;
        memory.push((target, c.rss_kib(), Some(rate)));
    }
    drop(c);

    println!();
    println!(
        "haapi-lab local server benchmark, {} cores, {}s runs after {}s warm-up, one load-generator thread on the same machine",
        cores, args.seconds, args.warmup
    );
    if let Some(v) = args.crypto_limit {
        println!("crypto ceiling: openssl speed -seconds 3 -multi {cores} ecdsap256: {v:.0} verify/s");
    }
    println!();
    println!("{:<36} {:>5} {:>10} {:>8} {:>8} {:>7}  {:<16} notes", "workload", "conns", "req/s", "p50 ms", "p99 ms", "errors", "ratio");
    for (name, conns, f, ratio) in &rows {
        println!("{:<36} {:>5} {:>10.0} {:>8.2} {:>8.2} {:>7}  {:<16} {}", name, conns, f.rps, f.p50_ms, f.p99_ms, f.errors, ratio, f.note);
    }
    println!();
    println!("{:<24} {:>16} {:>14} {:>18}", "registered clients", "registrations/s", "RSS MiB", "RSS per client");
    let base = memory[0].1;
    for (n, rss, rate) in &memory {
        let per = if *n > 0 { format!("{:.0} B", (*rss as f64 - base as f64) * 1024.0 / *n as f64) } else { "-".into() };
        let rate = rate.map_or("-".into(), |r| format!("{r:.0}"));
        println!("{:<24} {:>16} {:>14.1} {:>18}", n, rate, *rss as f64 / 1024.0, per);
    }
}
