//! The local server over real sockets on 127.0.0.1: the binary, started on a free port for each
//! test, answers each bad input as it should while another connection keeps getting answers from
//! the simulator. Needs the test-only panic route:
//! `cargo test --features server,test-hooks --test server_http` (scripts/test.sh runs it).

#[path = "support/sim.rs"]
mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{basic, DpopKey, HAAPI, MAIN};

const DISCOVERY: &str = "/oauth/v2/oauth-anonymous/.well-known/openid-configuration";

struct Server {
    child: Child,
    addr: String,
    /// What the server printed after its first line.
    output: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_logging(false, extra)
    }

    fn start_logging(log: bool, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_haapi-lab-server"))
            .args(["--host", "127.0.0.1", "--port", "0", "--log", if log { "lines" } else { "off" }, "--root", env!("CARGO_MANIFEST_DIR")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server binary");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the server prints where it listens").unwrap();
        let addr = first.strip_prefix("haapi-lab: listening on http://").expect("an address").to_owned();
        // Keep reading its output so that it never blocks on a full pipe.
        let (tx, output) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server { child, addr, output }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Sends raw bytes (a whole HTTP/1.1 request with `Connection: close`) and reads the answer.
fn exchange(addr: &str, raw: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(raw).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read");
    parse_answer(&bytes)
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status line");
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    Answer { status, headers, body: body.to_owned() }
}

fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    raw.into_bytes()
}

fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    exchange(addr, &raw_request(method, path, headers, body))
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn dcr_token(addr: &str) -> Answer {
    let auth = basic(MAIN, "Password1");
    send(addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], "grant_type=client_credentials&scope=dcr")
}

/// Registers a dynamic client over HTTP: `(client_id, secret)`.
fn register(addr: &str) -> (String, String) {
    let token = dcr_token(addr);
    assert_eq!(token.status, 200, "{token:?}");
    let bearer = format!("Bearer {}", token.json()["access_token"].as_str().unwrap());
    let r = send(
        addr,
        "POST",
        "/token-service/oauth-registration",
        &[("Content-Type", "application/json"), ("Authorization", &bearer)],
        r#"{"software_id":"haapi-template-client"}"#,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let b = r.json();
    (b["client_id"].as_str().unwrap().to_owned(), b["client_secret"].as_str().unwrap().to_owned())
}

/// Another connection asking the simulator for its discovery document, over and over, until the
/// guard is dropped. Every answer must be a 200 with the document.
struct Background {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Background {
    fn start(addr: &str) -> Background {
        let (stop, ok, failures) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(std::sync::Mutex::new(Vec::new())));
        let (addr, s, o, f) = (addr.to_owned(), stop.clone(), ok.clone(), failures.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let a = send(&addr, "GET", DISCOVERY, &[], "");
                if a.status == 200 && a.json()["token_endpoint"].is_string() {
                    o.fetch_add(1, Ordering::SeqCst);
                } else {
                    f.lock().unwrap().push(format!("{a:?}"));
                }
            }
        });
        Background { stop, ok, failures, thread: Some(thread) }
    }

    /// Waits until the other connection has had `n` more answers than now (proof that the server
    /// went on serving it), then checks that none of its answers failed.
    fn served_more(&self, n: usize) {
        let target = self.ok.load(Ordering::SeqCst) + n;
        let give_up = Instant::now() + Duration::from_secs(120);
        while self.ok.load(Ordering::SeqCst) < target {
            assert!(Instant::now() < give_up, "the concurrent connection stopped getting answers");
            thread::sleep(Duration::from_millis(5));
        }
        let failures = self.failures.lock().unwrap();
        assert!(failures.is_empty(), "the concurrent connection got failures: {failures:?}");
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_form_with_thousands_of_parameters_is_refused_while_others_are_served() {
    let server = Server::start(&[]);
    let background = Background::start(&server.addr);
    // 64 KB of distinct names (base 36, no values): the duplicate check was quadratic in their
    // number.
    let mut body = String::from("grant_type=client_credentials&scope=dcr");
    let mut i = 0u32;
    while body.len() < 64 * 1024 - 16 {
        let (mut n, mut name) = (i, Vec::new());
        loop {
            name.push(char::from_digit(n % 36, 36).unwrap());
            n /= 36;
            if n == 0 {
                break;
            }
        }
        body.push('&');
        body.extend(name);
        i += 1;
    }
    assert!(i > 15_000, "{i} parameters");
    let auth = basic(MAIN, "Password1");
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body, auth) = (server.addr.clone(), body.clone(), auth.clone());
            thread::spawn(move || send(&addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], &body))
        })
        .collect();
    for s in senders {
        let a = s.join().unwrap();
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.json()["error"], "invalid_request");
        assert!(a.json()["error_description"].as_str().unwrap().contains("at most 64"), "{a:?}");
    }
    background.served_more(3);
    // The same request without the extra parameters is fine.
    assert_eq!(dcr_token(&server.addr).status, 200);
}

#[test]
fn repeated_dpop_headers_reach_the_simulator_as_repeated() {
    let server = Server::start(&[]);
    let background = Background::start(&server.addr);
    let (id, secret) = register(&server.addr);
    let auth = basic(&id, &secret);
    let htu = format!("{}/oauth/v2/oauth-token", server.origin());
    let key = DpopKey::new(7);
    let body = format!("grant_type=client_credentials&scope={}", HAAPI.replace(':', "%3A"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    // Nonce mode (the default): the first proof earns a nonce.
    let first = key.proof("POST", &htu, now, None);
    let a = send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth), ("DPoP", &first)], &body);
    assert_eq!((a.status, a.json()["error"].as_str()), (400, Some("use_dpop_nonce")), "{a:?}");
    let nonce = a.header("dpop-nonce").expect("a nonce").to_owned();
    let proof = |jti: &str| key.sign(&key.header(), &json!({ "jti": jti, "htm": "POST", "htu": htu, "iat": now, "nonce": nonce }));

    // The same valid proof twice, then two different valid proofs: refused, not folded into one.
    let p1 = proof("twice-1");
    let a = send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth), ("DPoP", &p1), ("DPoP", &p1)], &body);
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"], "invalid_dpop_proof");
    assert!(a.json()["error_description"].as_str().unwrap().contains("exactly one DPoP header"), "{a:?}");
    let p2 = proof("twice-2");
    let a = send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth), ("DPoP", &p2), ("dpop", &p1)], &body);
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.json()["error_description"].as_str().unwrap().contains("exactly one DPoP header"), "{a:?}");

    // One of those proofs alone is accepted (it was the repetition that was refused).
    let a = send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth), ("DPoP", &p1)], &body);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["token_type"], "DPoP");
    background.served_more(3);
}

#[test]
fn undecodable_header_bytes_are_a_400_and_too_many_headers_a_431() {
    let server = Server::start(&[]);
    let background = Background::start(&server.addr);
    let auth = basic(MAIN, "Password1");
    let mut raw = raw_request("POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], "grant_type=client_credentials&scope=dcr");
    // A header with bytes that are not visible ASCII, inserted after the request line.
    let at = raw.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    raw.splice(at..at, b"X-Note: caf\xe9 \xff\r\n".iter().copied());
    let a = exchange(&server.addr, &raw);
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"], "invalid_request");
    assert!(a.json()["error_description"].as_str().unwrap().contains("x-note"), "{a:?}");

    let many: Vec<(String, String)> = (0..80).map(|i| (format!("X-Filler-{i}"), "1".to_owned())).collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let a = send(&server.addr, "GET", DISCOVERY, &headers, "");
    assert_eq!(a.status, 431, "{a:?}");
    background.served_more(3);
}

#[test]
fn a_panic_answers_500_for_that_request_only_and_the_stores_stay_usable() {
    let server = Server::start(&[]);
    let background = Background::start(&server.addr);
    let a = send(&server.addr, "POST", "/__test/panic", &[], "");
    assert_eq!(a.status, 500, "{a:?}");
    assert_eq!(a.json()["error"], "server_error");
    // The panic held the dcr-token and client stores' locks: both still work.
    let token = dcr_token(&server.addr);
    assert_eq!(token.status, 200, "{token:?}");
    let (id, secret) = register(&server.addr);
    assert!(id.starts_with("dyn-") && !secret.is_empty());
    // Again, several at once.
    let panics: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr.clone();
            thread::spawn(move || send(&addr, "POST", "/__test/panic", &[], "").status)
        })
        .collect();
    for p in panics {
        assert_eq!(p.join().unwrap(), 500);
    }
    background.served_more(3);
    assert_eq!(dcr_token(&server.addr).status, 200);
}

fn preflight(addr: &str, origin: &str) -> Answer {
    send(
        addr,
        "OPTIONS",
        "/oauth/v2/oauth-token",
        &[("Origin", origin), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "authorization,dpop")],
        "",
    )
}

#[test]
fn cors_allows_the_own_origin_and_the_configured_ones_never_null_or_others() {
    let server = Server::start(&["--allow-origin", "http://app.example:3000", "--allow-origin", "http://localhost:*"]);
    let background = Background::start(&server.addr);
    let own = server.origin();
    for allowed in [own.as_str(), "http://app.example:3000", "http://localhost:5173"] {
        let a = preflight(&server.addr, allowed);
        assert_eq!(a.header("access-control-allow-origin"), Some(allowed), "{allowed}: {a:?}");
    }
    for forbidden in ["null", "http://evil.example", "http://app.example:3001", "https://app.example:3000", "http://localhost"] {
        let a = preflight(&server.addr, forbidden);
        assert_eq!(a.header("access-control-allow-origin"), None, "{forbidden}: {a:?}");
        // The request itself gets no CORS permission either.
        let a = send(&server.addr, "GET", DISCOVERY, &[("Origin", forbidden)], "");
        assert_eq!(a.header("access-control-allow-origin"), None, "{forbidden}: {a:?}");
    }
    let a = send(&server.addr, "GET", DISCOVERY, &[("Origin", "http://app.example:3000")], "");
    assert_eq!(a.header("access-control-allow-origin"), Some("http://app.example:3000"));
    assert!(a.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("access-control-expose-headers") && v.contains("dpop-nonce")), "{a:?}");
    background.served_more(3);
}

#[test]
fn the_request_url_comes_from_the_configured_origin_not_the_host_header() {
    let server = Server::start(&["--origin", "http://lab.example:9443"]);
    let a = exchange(&server.addr, format!("GET {DISCOVERY} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n").as_bytes());
    // The page's origin is lab.example:9443, so the simulator is found under that issuer's path.
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["issuer"], "http://lab.example:9443/oauth/v2/oauth-anonymous");
    assert_eq!(a.json()["token_endpoint"], "http://lab.example:9443/oauth/v2/oauth-token");
    // Without a Host header at all (HTTP/1.0), the server still answers.
    let a = exchange(&server.addr, format!("GET {DISCOVERY} HTTP/1.0\r\n\r\n").as_bytes());
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn registered_clients_are_capped_and_the_oldest_goes_first() {
    let server = Server::start(&["--max-clients", "2"]);
    let first = register(&server.addr);
    let second = register(&server.addr);
    let third = register(&server.addr);
    let token = |(id, secret): &(String, String)| {
        let auth = basic(id, secret);
        send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], "grant_type=client_credentials&scope=dcr")
    };
    // A dynamic client may not ask for dcr: 400 invalid_scope for a known client, 401 for a
    // forgotten one.
    assert_eq!(token(&first).status, 401, "the oldest client should be gone");
    assert_eq!(token(&second).status, 400);
    assert_eq!(token(&third).status, 400);
}

#[test]
fn one_log_line_per_request_with_the_client_id_and_never_the_secret() {
    let server = Server::start_logging(true, &[]);
    let (id, secret) = register(&server.addr);
    let auth = basic(&id, &secret);
    let a = send(&server.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], "grant_type=client_credentials&scope=dcr");
    assert_eq!(a.status, 400);
    assert_eq!(send(&server.addr, "GET", "/healthz", &[], "").status, 200);
    let mut lines = Vec::new();
    // The two requests of register() (dcr token, registration) and these two.
    while lines.iter().filter(|l: &&Value| l.get("method").is_some()).count() < 4 {
        let line = server.output.recv().expect("the server's output");
        assert!(!line.contains(&secret) && !line.contains("Password1"), "a secret in the log: {line}");
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            lines.push(v);
        }
    }
    let requests: Vec<&Value> = lines.iter().filter(|l| l.get("method").is_some()).collect();
    assert_eq!(requests[0]["path"], "/oauth/v2/oauth-token");
    assert_eq!(requests[0]["client_id"], MAIN);
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[1]["path"], "/token-service/oauth-registration");
    assert_eq!(requests[1]["status"], 201);
    assert_eq!(requests[2]["client_id"], id.as_str());
    assert_eq!(requests[2]["status"], 400);
    assert_eq!(requests[3]["path"], "/healthz");
    assert!(requests.iter().all(|r| r["ms"].is_number() && r["time"].as_str().is_some_and(|t| t.ends_with('Z'))), "{requests:?}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start(&[]);
    assert_eq!(send(&server.addr, "GET", "/healthz", &[], "").status, 200);
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = server.child.wait().expect("the server exits");
    assert!(exit.success(), "exit status {exit:?}");
}

/// 400 `invalid_scope` for a client the server knows (a dynamic client may not ask for dcr),
/// 401 `invalid_client` for one it does not.
fn known_status(addr: &str, (id, secret): &(String, String)) -> u16 {
    let auth = basic(id, secret);
    send(addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth)], "grant_type=client_credentials&scope=dcr").status
}

#[test]
fn registered_clients_survive_a_restart_and_deleting_the_database_makes_them_stale() {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("haapi-lab-server-test-{}-{nanos}", std::process::id()));
    let dir_arg = dir.to_str().unwrap().to_owned();
    // A fixed origin: the issuer, which the stored clients belong to, stays the same.
    let args = ["--origin", "http://lab.test:8080", "--data-dir", dir_arg.as_str(), "--max-clients", "2"];

    let server = Server::start(&args);
    let first = register(&server.addr);
    let second = register(&server.addr);
    let third = register(&server.addr);
    assert_eq!(known_status(&server.addr, &first), 401, "the cap made room by forgetting the oldest");
    drop(server);

    let server = Server::start(&args);
    assert_eq!(server.output.recv().unwrap(), format!("haapi-lab: 2 dynamic client(s) restored from {}", dir.join("clients.sqlite3").display()));
    assert_eq!(known_status(&server.addr, &second), 400, "restored");
    assert_eq!(known_status(&server.addr, &third), 400, "restored");
    assert_eq!(known_status(&server.addr, &first), 401, "what the cap forgot stays forgotten");
    drop(server);

    // Deleting the database: the device still holds its client, the server no longer knows it.
    for name in ["clients.sqlite3", "clients.sqlite3-wal", "clients.sqlite3-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let server = Server::start(&args);
    assert_eq!(known_status(&server.addr, &third), 401, "stale after the database was deleted");
    let again = register(&server.addr);
    assert_eq!(known_status(&server.addr, &again), 400, "the device registers again");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Settings (a file for `--sim-settings`) with the main client on `tls_client_auth`: chains to
/// `ca_pem`, subject `CN=haapi-device`.
fn tls_client_auth_settings(dir: &std::path::Path, ca_pem: &str) -> String {
    let mut settings = support::raw();
    settings.main_client.authentication =
        haapi_lab::sim::ClientAuthentication::TlsClientAuth { trusted_ca_pem: vec![ca_pem.to_owned()], subject_dn: Some("CN=haapi-device".into()) };
    let path = dir.join("settings.json");
    std::fs::write(&path, serde_json::to_string(&settings).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `%XX` for every byte but unreserved ones (RFC 3986 §2.3), as nginx's
/// `$ssl_client_escaped_cert` (`+`, `/`, `=` and newlines escaped).
fn escape(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn a_client_certificate_from_a_trusted_proxy_is_believed_and_from_any_other_peer_ignored() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(now);
    let ca = haapi_lab::proto::x509::generate_ca("Proxy Test CA", now - 3600, 86400, &mut rng).unwrap();
    let leaf = haapi_lab::proto::x509::issue_client_certificate(&ca, "haapi-device", now - 60, 86400, &mut rng).unwrap();
    let dir = std::env::temp_dir().join(format!("haapi-lab-proxy-{}-{now}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = tls_client_auth_settings(&dir, &ca.certificate_pem);
    let f1 = |addr: &str, headers: &[(&str, &str)]| {
        let mut all = vec![FORM];
        all.extend_from_slice(headers);
        send(addr, "POST", "/oauth/v2/oauth-token", &all, &format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}"))
    };
    let chain = escape(&format!("{}{}", leaf.certificate_pem, ca.certificate_pem));

    // 127.0.0.1 is the trusted proxy: its header is the client's certificate.
    let proxied = Server::start(&["--sim-settings", &settings, "--trusted-proxy", "127.0.0.1"]);
    let ok = f1(&proxied.addr, &[("X-Client-Cert", &chain)]);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.json()["access_token"].is_string(), "{ok:?}");
    // Without the header there is no certificate; with a certificate of another CA, refused.
    let none = f1(&proxied.addr, &[]);
    assert_eq!((none.status, none.json()["error"].as_str()), (401, Some("invalid_client")), "{none:?}");
    assert!(none.json()["error_description"].as_str().unwrap().contains("no client certificate presented"), "{none:?}");
    let other_ca = haapi_lab::proto::x509::generate_ca("Other CA", now - 3600, 86400, &mut rng).unwrap();
    let foreign = haapi_lab::proto::x509::issue_client_certificate(&other_ca, "haapi-device", now - 60, 86400, &mut rng).unwrap();
    let untrusted = f1(&proxied.addr, &[("X-Client-Cert", &escape(&foreign.certificate_pem))]);
    assert_eq!((untrusted.status, untrusted.json()["error"].as_str()), (401, Some("invalid_client")), "{untrusted:?}");
    assert!(untrusted.json()["error_description"].as_str().unwrap().contains("not issued by a CA trusted"), "{untrusted:?}");
    // The same header twice from the proxy is ambiguous: 400.
    let twice = f1(&proxied.addr, &[("X-Client-Cert", &chain), ("X-Client-Cert", &chain)]);
    assert_eq!((twice.status, twice.json()["error"].as_str()), (400, Some("invalid_request")), "{twice:?}");

    // Another address is the trusted proxy: the same request from 127.0.0.1 has no certificate,
    // and the server says it ignored the header.
    let direct = Server::start(&["--sim-settings", &settings, "--trusted-proxy", "192.0.2.1", "--client-cert-header", "X-SSL-Cert"]);
    let refused = f1(&direct.addr, &[("X-SSL-Cert", &chain)]);
    assert_eq!((refused.status, refused.json()["error"].as_str()), (401, Some("invalid_client")), "{refused:?}");
    assert!(refused.json()["error_description"].as_str().unwrap().contains("no client certificate presented"), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
    // The line is printed before the answer is sent; the reader thread may still be passing it on.
    let said = loop {
        let line = direct.output.recv().expect("a line about the ignored header");
        if line.contains("ignored the") {
            break line;
        }
    };
    assert!(said.contains("ignored the x-ssl-cert header from 127.0.0.1, which is not a --trusted-proxy"), "{said}");
}

// ------------------------------------------------------------------ HTTPS and mutual TLS

/// The address a line of the server's output names after `prefix` (`haapi-lab: HTTPS on https://`).
fn announced(server: &Server, prefix: &str) -> String {
    loop {
        let line = server.output.recv().expect("the server announces its TLS listeners");
        if let Some(addr) = line.strip_prefix(prefix) {
            return addr.to_owned();
        }
    }
}

/// A TLS client trusting only `ca_pem`, presenting `client` (chain PEM, key PEM) if given.
fn tls_client(ca_pem: &str, client: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        Some((chain, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes()).map(Result::unwrap).collect();
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap()).unwrap()
        }
        None => builder.with_no_client_auth(),
    })
}

/// One request over TLS to `addr` (the server's certificate checked for 127.0.0.1 against the
/// client's roots), answer read until the server closes.
fn tls_send(addr: &str, config: &Arc<rustls::ClientConfig>, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<Answer, std::io::Error> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, TcpStream::connect(addr)?);
    stream.write_all(&raw_request(method, path, headers, body))?;
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        // A peer that closes without close_notify: the answer is complete with Connection: close.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !bytes.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(parse_answer(&bytes))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("haapi-lab-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[track_caller]
fn assert_invalid_client(a: &Answer, says: &str) {
    assert_eq!((a.status, a.json()["error"].as_str()), (401, Some("invalid_client")), "{a:?}");
    let description = a.json()["error_description"].as_str().unwrap_or_default().to_owned();
    assert!(description.contains(says), "{description:?} does not say {says:?}");
}

#[test]
fn https_with_the_local_ca_which_is_made_once_and_reused() {
    let dir = temp_dir("https");
    let data = dir.to_str().unwrap();
    let first = Server::start(&["--data-dir", data, "--https-port", "0"]);
    let addr = announced(&first, "haapi-lab: HTTPS on https://");
    let ca = std::fs::read_to_string(dir.join("ca.pem")).expect("the local CA in the data directory");
    let a = tls_send(&addr, &tls_client(&ca, None), "GET", DISCOVERY, &[], "").expect("HTTPS with the local CA trusted");
    assert_eq!(a.status, 200, "{a:?}");
    // A client that trusts another CA refuses the server's certificate.
    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(7);
    let stranger = haapi_lab::proto::x509::generate_ca("Stranger", 1_700_000_000, 10 * 365 * 86400, &mut rng).unwrap();
    assert!(tls_send(&addr, &tls_client(&stranger.certificate_pem, None), "GET", DISCOVERY, &[], "").is_err());
    drop(first);
    // A restart reuses the CA: the same file, and clients that trust it still connect.
    let second = Server::start(&["--data-dir", data, "--https-port", "0"]);
    let addr = announced(&second, "haapi-lab: HTTPS on https://");
    assert_eq!(std::fs::read_to_string(dir.join("ca.pem")).unwrap(), ca);
    assert_eq!(tls_send(&addr, &tls_client(&ca, None), "GET", "/healthz", &[], "").unwrap().status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mutual_tls_hands_the_presented_chain_to_the_simulator() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(now ^ 0x5eed);
    let x = haapi_lab::proto::x509::generate_ca;
    let issue = haapi_lab::proto::x509::issue_client_certificate;
    let device_ca = x("Device CA", now - 3600, 86400, &mut rng).unwrap();
    let good = issue(&device_ca, "haapi-device", now - 60, 86400, &mut rng).unwrap();
    let expired = issue(&device_ca, "haapi-device", now - 7200, 3600, &mut rng).unwrap();
    let wrong_subject = issue(&device_ca, "someone-else", now - 60, 86400, &mut rng).unwrap();
    let other_ca = x("Other CA", now - 3600, 86400, &mut rng).unwrap();
    let untrusted = issue(&other_ca, "haapi-device", now - 60, 86400, &mut rng).unwrap();

    let dir = temp_dir("mtls");
    let settings = tls_client_auth_settings(&dir, &device_ca.certificate_pem);
    let server = Server::start(&["--data-dir", dir.to_str().unwrap(), "--sim-settings", &settings, "--mtls-port", "0"]);
    let addr = announced(&server, "haapi-lab: mutual TLS (asks for a client certificate) on https://");
    let local_ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let f1 = |client: Option<(&str, &str)>| {
        let body = format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}");
        tls_send(&addr, &tls_client(&local_ca, client), "POST", "/oauth/v2/oauth-token", &[FORM], &body).expect("a TLS exchange")
    };
    let with = |leaf: &haapi_lab::proto::x509::IssuedCertificate, ca: &haapi_lab::proto::x509::IssuedCertificate| {
        (format!("{}{}", leaf.certificate_pem, ca.certificate_pem), leaf.private_key_pem.clone())
    };

    let (chain, key) = with(&good, &device_ca);
    let ok = f1(Some((&chain, &key)));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.json()["access_token"].is_string(), "{ok:?}");
    let (chain, key) = with(&untrusted, &other_ca);
    assert_invalid_client(&f1(Some((&chain, &key))), "is not issued by a CA trusted for client");
    let (chain, key) = with(&expired, &device_ca);
    assert_invalid_client(&f1(Some((&chain, &key))), "is not valid now");
    assert_invalid_client(&f1(None), "no client certificate presented");
    let (chain, key) = with(&wrong_subject, &device_ca);
    assert_invalid_client(&f1(Some((&chain, &key))), "is not the registered tls_client_auth_subject_dn");
    // The proxy header means nothing from a peer that is not a --trusted-proxy, on this port too.
    let header = escape(&format!("{}{}", good.certificate_pem, device_ca.certificate_pem));
    let body = format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}");
    let forged = tls_send(&addr, &tls_client(&local_ca, None), "POST", "/oauth/v2/oauth-token", &[FORM, ("X-Client-Cert", &header)], &body).unwrap();
    assert_invalid_client(&forged, "no client certificate presented");
    drop(server);

    // self_signed_tls_client_auth: the registered key's pin, and another key.
    let registered = haapi_lab::proto::x509::self_signed_client_certificate("device", now - 60, 86400, &mut rng).unwrap();
    let other = haapi_lab::proto::x509::self_signed_client_certificate("device", now - 60, 86400, &mut rng).unwrap();
    let mut pinned = support::raw();
    pinned.main_client.authentication = haapi_lab::sim::ClientAuthentication::SelfSignedTlsClientAuth {
        pinned_spki: vec![haapi_lab::proto::x509::spki_sha256_pin(&registered.certificate_pem).unwrap()],
    };
    let pinned_path = dir.join("pinned.json");
    std::fs::write(&pinned_path, serde_json::to_string(&pinned).unwrap()).unwrap();
    let server = Server::start(&["--data-dir", dir.to_str().unwrap(), "--sim-settings", pinned_path.to_str().unwrap(), "--mtls-port", "0"]);
    let addr = announced(&server, "haapi-lab: mutual TLS (asks for a client certificate) on https://");
    let f1 = |cert: &haapi_lab::proto::x509::IssuedCertificate| {
        let body = format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}");
        let config = tls_client(&local_ca, Some((&cert.certificate_pem, &cert.private_key_pem)));
        tls_send(&addr, &config, "POST", "/oauth/v2/oauth-token", &[FORM], &body).expect("a TLS exchange")
    };
    assert_eq!(f1(&registered).status, 200);
    assert_invalid_client(&f1(&other), "is not the one registered for client");
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ --upstream: the proxy

/// Lines of `server`'s output until `n` of them are JSON log lines of requests (within 10 s).
fn log_lines(server: &Server, n: usize) -> Vec<Value> {
    let mut lines = Vec::new();
    while lines.len() < n {
        let line = server.output.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("only {} log lines ({e}): {lines:?}", lines.len()));
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if v.get("method").is_some() {
                lines.push(v);
            }
        }
    }
    lines
}

/// The host:port and path of an `http://` URL.
fn split_http_url(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]))
}

/// The crate's own HTTP request, over a real socket (`Connection: close`): the transport of a
/// native run against a server.
fn over_http(request: &haapi_lab::proto::http::HttpRequest) -> haapi_lab::proto::http::HttpResponse {
    let (addr, target) = split_http_url(&request.url);
    let headers: Vec<(&str, &str)> = request.headers.iter().collect();
    let a = send(addr, &request.method, target, &headers, request.body.as_deref().unwrap_or(""));
    let mut response = haapi_lab::proto::http::HttpResponse { status: a.status, headers: Default::default(), body: a.body };
    for (name, value) in a.headers {
        response.headers.set(&name.to_ascii_lowercase(), value);
    }
    response
}

/// The claims of a compact JWS (unverified: the upstream verified it).
fn claims_of(jwt: &str) -> Value {
    Value::Object(haapi_lab::proto::jose::decode_unverified(jwt).unwrap_or_else(|e| panic!("not a JWT ({e}): {jwt}")).claims)
}

const SHARED_SECRET: &str = "a-shared-secret-of-32-bytes-or-more!";

/// Settings for an upstream instance: the defaults (DPoP nonces required, as Curity's new
/// clients) with the main client on `client_secret_jwt`, and no issuer, so that the server puts
/// it on its own origin.
fn client_secret_jwt_upstream_settings(dir: &std::path::Path) -> String {
    let mut settings = haapi_lab::sim::SimSettings::default();
    settings.main_client.authentication =
        haapi_lab::sim::ClientAuthentication::ClientSecretJwt { secret: haapi_lab::proto::secret::Secret::new(SHARED_SECRET) };
    let mut doc = serde_json::to_value(&settings).unwrap();
    doc.as_object_mut().unwrap().remove("issuer");
    let path = dir.join("upstream-settings.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A whole run of the crate's own client (the demo login) with the issuer on `issuer_origin` and
/// `server.sendVia` = `proxy`, over real sockets; `credential` is the configuration's. Returns
/// what it sent.
fn run_through(proxy: &Server, issuer_origin: &str, credential: Value) -> Vec<haapi_lab::proto::http::HttpRequest> {
    let mut doc = haapi_lab::client::config::Config::default().to_json();
    doc["server"]["mode"] = json!("http");
    doc["server"]["issuer"] = json!(format!("{issuer_origin}/oauth/v2/oauth-anonymous"));
    doc["server"]["sendVia"] = json!(proxy.origin());
    doc["credential"] = credential;
    doc["authentication"]["inputs"] = json!({ "userName": "demo", "password": "Password1" });
    let config = haapi_lab::client::config::Config::from_value(&doc).unwrap();
    let now = haapi_lab::proto::clock::Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64);
    let mut lab = haapi_lab::lab::SimLab::new(&config, 3, now).unwrap();
    let mut sent = Vec::new();
    let mut transport = |request: &haapi_lab::proto::http::HttpRequest, _: &mut haapi_lab::sim::Simulator| {
        sent.push(request.clone());
        Ok(over_http(request))
    };
    let run = lab.run_over(&config, now, Default::default(), &mut transport, None).unwrap_or_else(|f| panic!("{}: {:#}", f.error, f.trace.to_json(false)));
    assert_eq!(run.outcome.subject.as_deref(), Some("demo"), "{:?}", run.outcome);
    assert!(run.outcome.tokens.is_some(), "{:?}", run.outcome);
    assert!(sent.iter().all(|r| r.url.starts_with(&format!("{}/", proxy.origin()))), "{sent:?}");
    sent
}

#[test]
fn a_whole_run_through_the_proxy_keeps_the_upstreams_urls_in_htu_and_aud() {
    let dir = temp_dir("upstream-run");
    let upstream = Server::start_logging(true, &["--sim-settings", &client_secret_jwt_upstream_settings(&dir)]);
    let proxy = Server::start_logging(true, &["--upstream", &upstream.origin()]);
    let sent = run_through(&proxy, &upstream.origin(), json!({ "method": "client_secret_jwt", "secret": SHARED_SECRET, "alg": "HS256" }));

    // Every request went to the proxy; every proof and assertion named the upstream.
    let token_endpoint = format!("{}/oauth/v2/oauth-token", upstream.origin());
    let (mut proofs, mut assertions) = (0, 0);
    for r in &sent {
        assert!(r.url.starts_with(&format!("{}/", proxy.origin())), "sent elsewhere than the proxy: {}", r.url);
        let (_, path) = split_http_url(&r.url);
        let path = path.split('?').next().unwrap();
        if let Some(proof) = r.header("dpop") {
            assert_eq!(claims_of(proof)["htu"], format!("{}{path}", upstream.origin()), "{} {}", r.method, r.url);
            proofs += 1;
        }
        if let Some(assertion) = r.form_param("client_assertion") {
            assert_eq!(claims_of(&assertion)["aud"], token_endpoint, "{}", r.url);
            assertions += 1;
        }
    }
    assert!(proofs >= 4 && assertions >= 1, "{proofs} DPoP proofs, {assertions} client assertions");

    // Both servers saw each request: the proxy passed it on, the upstream answered it.
    let proxied = log_lines(&proxy, sent.len());
    let answered = log_lines(&upstream, sent.len());
    for ((r, p), u) in sent.iter().zip(&proxied).zip(&answered) {
        let (_, path) = split_http_url(&r.url);
        let path = path.split('?').next().unwrap();
        assert_eq!((p["path"].as_str(), u["path"].as_str()), (Some(path), Some(path)), "{p} {u}");
        assert_eq!(p["upstream"], format!("{}{path}", upstream.origin()), "{p}");
        assert_eq!(p["status"], u["status"], "{p} {u}");
        assert!(u.get("upstream").is_none(), "{u}");
        // Never a secret in the proxy's log: no header value, no body.
        let line = p.to_string();
        for secret in [r.header("authorization"), r.header("dpop"), r.form_param("client_assertion").as_deref(), Some(SHARED_SECRET)].into_iter().flatten() {
            assert!(!line.contains(secret), "a secret in the proxy's log: {line}");
        }
    }
    assert!(proxied.iter().any(|p| p["client_id"] == MAIN), "{proxied:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_upstream_refuses_an_htu_or_an_aud_that_names_the_proxy() {
    let dir = temp_dir("upstream-negative");
    let upstream = Server::start(&["--sim-settings", &client_secret_jwt_upstream_settings(&dir)]);
    let proxy = Server::start(&["--upstream", &upstream.origin()]);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();

    // The main client's assertion: aud must be the upstream's token endpoint, not the proxy's.
    let f1 = |aud: &str, jti: &str| {
        let claims = json!({ "iss": MAIN, "sub": MAIN, "aud": aud, "jti": jti, "iat": now, "exp": now + 60 });
        let assertion = haapi_lab::proto::jose::sign_jwt_hmac(haapi_lab::proto::jose::Alg::HS256, SHARED_SECRET.as_bytes(), &claims).unwrap();
        let body = haapi_lab::proto::http::encode_form([
            ("grant_type", "client_credentials"),
            ("scope", "dcr"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ]);
        send(&proxy.addr, "POST", "/oauth/v2/oauth-token", &[FORM], &body)
    };
    let wrong = f1(&format!("{}/oauth/v2/oauth-token", proxy.origin()), "aud-proxy");
    assert_invalid_client(&wrong, "aud");
    let right = f1(&format!("{}/oauth/v2/oauth-token", upstream.origin()), "aud-upstream");
    assert_eq!(right.status, 200, "{right:?}");
    let dcr = right.json()["access_token"].as_str().unwrap().to_owned();

    // A dynamic client through the proxy, then its HAAPI token: the proof's htu must name the
    // upstream's token endpoint.
    let r = send(
        &proxy.addr,
        "POST",
        "/token-service/oauth-registration",
        &[("Content-Type", "application/json"), ("Authorization", &format!("Bearer {dcr}"))],
        r#"{"software_id":"haapi-template-client"}"#,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let auth = basic(r.json()["client_id"].as_str().unwrap(), r.json()["client_secret"].as_str().unwrap());
    let key = DpopKey::new(11);
    let body = format!("grant_type=client_credentials&scope={}", HAAPI.replace(':', "%3A"));
    let haapi = |htu: &str, nonce: Option<&str>, jti: &str| {
        let mut claims = json!({ "jti": jti, "htm": "POST", "htu": htu, "iat": now });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let proof = key.sign(&key.header(), &claims);
        send(&proxy.addr, "POST", "/oauth/v2/oauth-token", &[FORM, ("Authorization", &auth), ("DPoP", &proof)], &body)
    };
    let upstream_htu = format!("{}/oauth/v2/oauth-token", upstream.origin());
    let first = haapi(&upstream_htu, None, "nonce-please");
    assert_eq!((first.status, first.json()["error"].as_str()), (400, Some("use_dpop_nonce")), "{first:?}");
    let nonce = first.header("dpop-nonce").expect("the upstream's nonce, passed back by the proxy").to_owned();
    let wrong = haapi(&format!("{}/oauth/v2/oauth-token", proxy.origin()), Some(&nonce), "htu-proxy");
    assert_eq!((wrong.status, wrong.json()["error"].as_str()), (400, Some("invalid_dpop_proof")), "{wrong:?}");
    assert!(wrong.json()["error_description"].as_str().unwrap().contains("htu"), "{wrong:?}");
    let right = haapi(&upstream_htu, Some(&nonce), "htu-upstream");
    assert_eq!(right.status, 200, "{right:?}");
    assert_eq!(right.json()["token_type"], "DPoP");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_upstream_that_is_down_is_a_502_and_one_that_never_answers_a_504() {
    // A port nobody listens on (bound, then let go).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = format!("http://{free}");
    let proxy = Server::start_logging(true, &["--upstream", &down]);
    let a = send(&proxy.addr, "GET", DISCOVERY, &[], "");
    assert_eq!((a.status, a.json()["error"].as_str()), (502, Some("upstream_unreachable")), "{a:?}");
    assert!(a.json()["error_description"].as_str().unwrap().contains("Connection refused"), "{a:?}");
    assert_eq!(a.json()["upstream"], format!("{down}{DISCOVERY}"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    let line = &log_lines(&proxy, 1)[0];
    assert_eq!((line["status"].as_u64(), line["upstream_error"].as_str()), (Some(502), Some("upstream_unreachable")), "{line}");
    // The lab's own routes are still served.
    assert_eq!(send(&proxy.addr, "GET", "/healthz", &[], "").status, 200);
    assert_eq!(send(&proxy.addr, "GET", "/www/index.html", &[], "").status, 200);
    drop(proxy);

    // An upstream that accepts connections and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    thread::spawn(move || {
        for stream in silent.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let proxy = Server::start(&["--upstream", &silent_url, "--upstream-timeout", "1"]);
    let started = Instant::now();
    let a = send(&proxy.addr, "GET", DISCOVERY, &[], "");
    assert_eq!((a.status, a.json()["error"].as_str()), (504, Some("upstream_timeout")), "{a:?}");
    assert!(a.json()["error_description"].as_str().unwrap().contains("within 1 s"), "{a:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!held.lock().unwrap().is_empty(), "the proxy never connected to the silent upstream");
}

/// A one-shot upstream: takes one request, keeps its head, answers `answer`.
fn recording_upstream(answer: &'static str) -> (String, thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let length: usize = text
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap()))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).unwrap();
        stream.write_all(answer.as_bytes()).unwrap();
        format!("{text}{}", String::from_utf8_lossy(&body))
    });
    (url, handle)
}

#[test]
fn the_proxy_drops_hop_by_hop_headers_names_the_upstream_as_host_and_passes_redirects_back() {
    let (url, upstream) = recording_upstream(
        "HTTP/1.1 303 See Other\r\nLocation: https://idsvr.example/authn/authenticate/next\r\nConnection: close, X-Upstream-Hop\r\nX-Upstream-Hop: 1\r\nAccess-Control-Allow-Origin: *\r\nSet-Session-Id: s-1\r\nContent-Length: 0\r\n\r\n",
    );
    let proxy = Server::start_logging(true, &["--upstream", &url]);
    let a = send(
        &proxy.addr,
        "POST",
        "/authn/authenticate/form?step=2",
        &[
            FORM,
            ("Authorization", "DPoP the-access-token"),
            ("DPoP", "the.dpop.proof"),
            ("Session-Id", "s-0"),
            ("Keep-Alive", "timeout=5"),
            ("X-Page-Hop", "1"),
            ("Connection", "X-Page-Hop"),
            ("X-Client-Cert", "-----BEGIN%20CERTIFICATE-----"),
            ("Origin", "http://127.0.0.1:8080"),
        ],
        "userName=demo&password=Password1",
    );
    let seen = upstream.join().unwrap();
    let (head, body) = seen.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("POST /authn/authenticate/form?step=2 HTTP/1.1"), "{seen}");
    let fields: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(field("host"), Some(url.strip_prefix("http://").unwrap()), "{seen}");
    assert_eq!(field("authorization"), Some("DPoP the-access-token"));
    assert_eq!(field("dpop"), Some("the.dpop.proof"));
    assert_eq!(field("session-id"), Some("s-0"));
    assert_eq!(field("content-type"), Some("application/x-www-form-urlencoded"));
    for dropped in ["keep-alive", "x-page-hop", "x-client-cert", "origin"] {
        assert_eq!(field(dropped), None, "{dropped} was passed on: {seen}");
    }
    assert_eq!(body, "userName=demo&password=Password1");

    // The redirect comes back as it was (not followed), without the upstream's hop-by-hop and
    // CORS fields.
    assert_eq!(a.status, 303, "{a:?}");
    assert_eq!(a.header("location"), Some("https://idsvr.example/authn/authenticate/next"));
    assert_eq!(a.header("set-session-id"), Some("s-1"));
    assert_eq!(a.header("x-upstream-hop"), None, "{a:?}");
    assert_eq!(a.header("access-control-allow-origin"), None, "{a:?}");
    let line = log_lines(&proxy, 1).remove(0);
    assert_eq!((line["path"].as_str(), line["status"].as_u64()), (Some("/authn/authenticate/form"), Some(303)), "{line}");
    let text = line.to_string();
    assert!(!text.contains("the-access-token") && !text.contains("the.dpop.proof") && !text.contains("Password1") && !text.contains("step=2"), "{text}");
}

#[test]
fn a_head_answer_keeps_the_upstreams_content_length() {
    let (url, upstream) = recording_upstream("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\nConnection: close\r\n\r\n");
    let proxy = Server::start(&["--upstream", &url]);
    let a = send(&proxy.addr, "HEAD", DISCOVERY, &[], "");
    assert!(upstream.join().unwrap().starts_with(&format!("HEAD {DISCOVERY} HTTP/1.1\r\n")));
    assert_eq!((a.status, a.header("content-length"), a.body.as_str()), (200, Some("42"), ""), "{a:?}");
}

#[test]
fn an_https_upstream_is_verified_with_upstream_ca_refused_without_it_and_trusted_blindly_only_when_told() {
    let dir = temp_dir("upstream-https");
    let upstream = Server::start(&["--data-dir", dir.to_str().unwrap(), "--https-port", "0"]);
    let https = format!("https://{}", announced(&upstream, "haapi-lab: HTTPS on https://"));
    let ca = dir.join("ca.pem");

    let verified = Server::start(&["--upstream", &https, "--upstream-ca", ca.to_str().unwrap()]);
    let a = send(&verified.addr, "GET", DISCOVERY, &[], "");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["issuer"], format!("{}/oauth/v2/oauth-anonymous", upstream.origin()));
    assert_eq!(dcr_token(&verified.addr).status, 200);
    // A whole run over the verified HTTPS hop (the issuer is on the upstream's HTTP origin: the
    // simulator names itself by its --origin whichever listener a request arrives on).
    let sent = run_through(&verified, &upstream.origin(), json!({ "method": "client_secret_basic", "secret": "Password1" }));
    assert!(sent.len() >= 10, "{} requests", sent.len());

    let unverified = Server::start(&["--upstream", &https]);
    let a = send(&unverified.addr, "GET", DISCOVERY, &[], "");
    assert_eq!((a.status, a.json()["error"].as_str()), (502, Some("upstream_tls_failed")), "{a:?}");
    assert!(a.json()["error_description"].as_str().unwrap().contains("UnknownIssuer"), "{a:?}");

    let insecure = Server::start_logging(true, &["--upstream", &https, "--upstream-insecure"]);
    let warned = loop {
        let line = insecure.output.recv_timeout(Duration::from_secs(10)).expect("the warning about --upstream-insecure");
        if line.contains("WARNING") {
            break line;
        }
    };
    assert!(warned.contains("--upstream-insecure") && warned.contains("NOT verified"), "{warned}");
    assert_eq!(send(&insecure.addr, "GET", DISCOVERY, &[], "").status, 200);
    let line = log_lines(&insecure, 1).remove(0);
    assert_eq!(line["upstream_tls"], "NOT VERIFIED (--upstream-insecure)", "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_upstream_hop_presents_its_client_certificate_for_mutual_tls() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(now ^ 0x0f0f);
    let device_ca = haapi_lab::proto::x509::generate_ca("Device CA", now - 3600, 86400, &mut rng).unwrap();
    let leaf = haapi_lab::proto::x509::issue_client_certificate(&device_ca, "haapi-device", now - 60, 86400, &mut rng).unwrap();
    let dir = temp_dir("upstream-mtls");
    let settings = tls_client_auth_settings(&dir, &device_ca.certificate_pem);
    let upstream = Server::start(&["--data-dir", dir.to_str().unwrap(), "--sim-settings", &settings, "--mtls-port", "0"]);
    let mtls = format!("https://{}", announced(&upstream, "haapi-lab: mutual TLS (asks for a client certificate) on https://"));
    let (chain, key) = (dir.join("client-chain.pem"), dir.join("client-key.pem"));
    std::fs::write(&chain, format!("{}{}", leaf.certificate_pem, device_ca.certificate_pem)).unwrap();
    std::fs::write(&key, &leaf.private_key_pem).unwrap();
    let ca = dir.join("ca.pem");
    let f1 = |proxy: &Server| send(&proxy.addr, "POST", "/oauth/v2/oauth-token", &[FORM], &format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}"));

    let with_cert = Server::start(&[
        "--upstream",
        &mtls,
        "--upstream-ca",
        ca.to_str().unwrap(),
        "--upstream-client-cert",
        chain.to_str().unwrap(),
        "--upstream-client-key",
        key.to_str().unwrap(),
    ]);
    let ok = f1(&with_cert);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.json()["access_token"].is_string(), "{ok:?}");
    let without = Server::start(&["--upstream", &mtls, "--upstream-ca", ca.to_str().unwrap()]);
    assert_invalid_client(&f1(&without), "no client certificate presented");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn upstream_options_that_cannot_work_are_refused_at_start() {
    let refused = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_haapi-lab-server")).args(["--port", "0"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(refused(&["--upstream-insecure"]).contains("--upstream-insecure needs --upstream URL"));
    assert!(refused(&["--upstream", "http://127.0.0.1:9", "--sim-settings", "x.json"])
        .contains("--sim-settings configures the simulator, which --upstream replaces"));
    assert!(refused(&["--upstream", "http://127.0.0.1:9", "--mtls-port", "0"]).contains("--upstream-client-cert"));
    // The upstream hop's client certificate serves whoever reaches the proxy: loopback only,
    // unless shared on purpose.
    let cert = ["--upstream", "https://127.0.0.1:9", "--upstream-client-cert", "c.pem", "--upstream-client-key", "k.pem"];
    for host in ["0.0.0.0", "192.0.2.1", "::"] {
        let err = refused(&[&cert[..], &["--host", host]].concat());
        assert!(err.contains("--share-upstream-client-cert") && err.contains(host), "{host}: {err}");
    }
    assert!(refused(&["--share-upstream-client-cert"]).contains("--share-upstream-client-cert needs --upstream URL"));
    let help = Command::new(env!("CARGO_BIN_EXE_haapi-lab-server")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--upstream URL",
        "--upstream-ca FILE",
        "--upstream-insecure",
        "--upstream-client-cert FILE",
        "--share-upstream-client-cert",
        "--upstream-timeout SECS",
    ] {
        assert!(help.contains(option), "--help does not mention {option}");
    }
}

#[test]
fn with_mtls_main_client_the_local_ca_issues_the_main_clients_certificate_to_this_machine() {
    use p256::pkcs8::{EncodePublicKey as _, LineEnding};
    let dir = temp_dir("local-ca");
    let server = Server::start(&["--data-dir", dir.to_str().unwrap(), "--mtls-port", "0", "--mtls-main-client", "--allow-origin", "http://app.example:3000"]);
    let addr = announced(&server, "haapi-lab: mutual TLS (asks for a client certificate) on https://");
    let local_ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    // Discovery names the mutual-TLS listener's token endpoint as the alias a client with a
    // certificate uses (RFC 8705 §5); a server without that listener names none.
    let discovery = send(&server.addr, "GET", "/oauth/v2/oauth-anonymous/.well-known/openid-configuration", &[], "").json();
    assert_eq!(discovery["mtls_endpoint_aliases"], json!({ "token_endpoint": format!("https://{addr}/oauth/v2/oauth-token") }));
    assert_eq!(discovery["token_endpoint"], format!("{}/oauth/v2/oauth-token", server.origin()));
    let plain = Server::start(&[]);
    let plain_discovery = send(&plain.addr, "GET", "/oauth/v2/oauth-anonymous/.well-known/openid-configuration", &[], "").json();
    assert!(plain_discovery.get("mtls_endpoint_aliases").is_none(), "{plain_discovery}");
    // The CA's certificate, to trust it.
    let a = send(&server.addr, "GET", "/local-ca.pem", &[], "");
    assert_eq!((a.status, a.body.as_str()), (200, local_ca.as_str()));

    let mut rng = haapi_lab::proto::entropy::SeededEntropy::new(11);
    let secret = p256::SecretKey::random(&mut rng);
    let key_pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&secret, LineEnding::LF).unwrap().to_string();
    let public_pem = secret.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    let json_body = |cn: &str| json!({ "publicKeyPem": public_pem, "commonName": cn }).to_string();
    let ask = |headers: &[(&str, &str)], body: &str| {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        send(&server.addr, "POST", "/local-ca/client-certificate", &all, body)
    };
    let f1 = |chain: Option<&str>| {
        let body = format!("grant_type=client_credentials&scope=dcr&client_id={MAIN}");
        let config = tls_client(&local_ca, chain.map(|c| (c, key_pem.as_str())));
        tls_send(&addr, &config, "POST", "/oauth/v2/oauth-token", &[FORM], &body).expect("a TLS exchange")
    };

    // Issued for the main client's id, from an allowed origin: the main client's credential.
    let issued = ask(&[("Origin", "http://app.example:3000")], &json_body(MAIN));
    assert_eq!(issued.status, 200, "{issued:?}");
    assert_eq!(issued.header("access-control-allow-origin"), Some("http://app.example:3000"));
    let chain = issued.json()["chainPem"].as_str().unwrap().to_owned();
    let leaf = haapi_lab::proto::x509::describe(&chain).unwrap();
    assert_eq!((leaf.subject.as_str(), leaf.issuer.as_str()), ("CN=haapi-android-client", "CN=haapi-lab local CA"));
    assert_eq!(issued.json()["caPem"].as_str(), Some(local_ca.as_str()));
    let ok = f1(Some(&chain));
    assert_eq!(ok.status, 200, "{ok:?}");
    // Another subject than the client id, no certificate, or a secret instead: 401 invalid_client.
    let other = ask(&[], &json_body("someone-else")).json()["chainPem"].as_str().unwrap().to_owned();
    assert_invalid_client(&f1(Some(&other)), "is not the registered tls_client_auth_subject_dn \"CN=haapi-android-client\"");
    assert_invalid_client(&f1(None), "no client certificate presented");
    assert_eq!(dcr_token(&server.addr).status, 401, "the main client's secret no longer works");

    // Pages of other origins get nothing; a body without a P-256 key is a 400 that says why.
    let refused = ask(&[("Origin", "http://evil.example")], &json_body(MAIN));
    assert_eq!((refused.status, refused.json()["error"].as_str()), (403, Some("access_denied")), "{refused:?}");
    assert!(!refused.body.contains("BEGIN CERTIFICATE"));
    let bad = ask(&[], &json!({ "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" }).to_string());
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.json()["error_description"].as_str().unwrap().contains("is not a P-256 public key"), "{bad:?}");
    assert_eq!(ask(&[], "{").status, 400);
    drop(server);

    // Without the port that asks for certificates the option makes no sense: the server says so.
    let out = Command::new(env!("CARGO_BIN_EXE_haapi-lab-server")).args(["--port", "0", "--mtls-main-client"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mtls-main-client needs --mtls-port"), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The local server signs its tokens with ring and verifies ES256 with ring
/// (src/bin/server/fast_crypto.rs): a whole run against it succeeds (its HAAPI token, sent back on
/// every HAAPI request, verified there each time), and the token verifies with the key its JWKS
/// publishes, checked here with RustCrypto's p256 (another implementation); a bent one does not.
#[test]
fn tokens_the_server_signs_verify_with_its_published_key() {
    use haapi_lab::proto::jose::b64url_decode;
    use p256::ecdsa::signature::Verifier as _;
    let server = Server::start(&[]);
    let sent = run_through(&server, &server.origin(), json!({ "method": "client_secret_basic", "secret": "Password1" }));
    let jwks = send(&server.addr, "GET", "/oauth/v2/oauth-anonymous/jwks", &[], "").json();
    let jwk = &jwks["keys"][0];
    let coord = |n: &str| b64url_decode(jwk[n].as_str().unwrap()).unwrap();
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], &coord("x"), &coord("y")].concat()).expect("a P-256 public key");
    let tokens: Vec<&str> = sent.iter().filter_map(|r| r.header("authorization")?.strip_prefix("DPoP ")).collect();
    assert!(tokens.len() >= 3, "the HAAPI token on the HAAPI requests: {sent:?}");
    let token = tokens[0];
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&b64url_decode(signature).unwrap()).expect("64 bytes");
    assert!(key.verify(input.as_bytes(), &signature).is_ok(), "the token's signature verifies: {token}");
    assert!(key.verify(format!("{input}x").as_bytes(), &signature).is_err());
    let header: Value = serde_json::from_slice(&b64url_decode(input.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("ES256"), jwk["kid"].as_str()));
}
