//! The local server's HTTPS and mutual-TLS listeners (rustls with ring): a local CA kept in the
//! data directory, a server certificate it issues at each start, and a client-certificate
//! verifier that accepts any chain at the TLS layer (after checking the handshake signature, so
//! the client holds the leaf's key) and hands it to the simulator, which decides
//! (`tls_client_auth`: chain to the client's trusted CAs and subject DN; `self_signed_tls_client_auth`:
//! pinned key; RFC 8705 §2).

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use haapi_lab::proto::x509::{self, IssuedCertificate};
use haapi_lab::sim::{ClientAuthentication, SimSettings};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long the local CA is valid (ten years): made once, kept in the data directory.
const CA_VALIDITY_SECS: u64 = 10 * 365 * 86_400;
/// How long a server certificate is valid; a new one is issued at each start.
const SERVER_CERT_VALIDITY_SECS: u64 = 30 * 86_400;
/// Handshakes in progress at once per listener before new connections wait.
const HANDSHAKE_QUEUE: usize = 64;

/// The local CA: `DIR/ca.pem` and `DIR/ca-key.pem` (the key readable by the owner only), made on
/// first use and read back after. Without a data directory it lives for this run only. Returns
/// the CA and whether it was just made.
pub fn local_ca(dir: Option<&Path>, now: u64) -> Result<(IssuedCertificate, bool), String> {
    let mut rng = rand_core::OsRng;
    let Some(dir) = dir else {
        let ca = x509::generate_ca("haapi-lab local CA", now.saturating_sub(3600), CA_VALIDITY_SECS, &mut rng).map_err(|e| e.to_string())?;
        return Ok((ca, true));
    };
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert_path.exists() || key_path.exists() {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        return Ok((IssuedCertificate { certificate_pem: read(&cert_path)?, private_key_pem: read(&key_path)? }, false));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca = x509::generate_ca("haapi-lab local CA", now.saturating_sub(3600), CA_VALIDITY_SECS, &mut rng).map_err(|e| e.to_string())?;
    write_private(&key_path, &ca.private_key_pem)?;
    std::fs::write(&cert_path, &ca.certificate_pem).map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    Ok((ca, true))
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The TLS settings of a listener: a server certificate issued by `ca` for `localhost`, the
/// loopback addresses and `host` (if an IP address); with `client_certificates`, the handshake asks
/// for a client certificate (optional) and accepts any chain whose leaf key signed the handshake.
pub fn server_config(ca: &IssuedCertificate, host: &str, now: u64, client_certificates: bool) -> Result<Arc<ServerConfig>, String> {
    let mut ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)];
    let mut dns = vec!["localhost"];
    match host.parse::<IpAddr>() {
        Ok(ip) if !ip.is_unspecified() && !ips.contains(&ip) => ips.push(ip),
        Ok(_) => {}
        Err(_) => dns.push(host),
    }
    let leaf =
        x509::issue_server_certificate(ca, "haapi-lab local server", &dns, &ips, now.saturating_sub(60), SERVER_CERT_VALIDITY_SECS, &mut rand_core::OsRng)
            .map_err(|e| format!("server certificate: {e}"))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(format!("{}{}", leaf.certificate_pem, ca.certificate_pem).as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server certificate PEM: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(leaf.private_key_pem.as_bytes()).map_err(|e| format!("server key PEM: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
    let builder = if client_certificates {
        builder.with_client_cert_verifier(Arc::new(AnyClientChain { algorithms: provider.signature_verification_algorithms }))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| format!("server certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Asks for a client certificate, optionally, and takes any chain: the TLS layer only checks that
/// the client holds the leaf's private key (the handshake signature); whether the chain is good
/// for a client is the simulator's question (RFC 8705 §2), answered per client with an OAuth error.
#[derive(Debug)]
struct AnyClientChain {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientChain {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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

/// What a request on a TLS listener knows of its connection: the peer, the listener's origin
/// (request URLs are built on it), and the client's certificate chain as PEM (leaf first), if
/// it presented one.
#[derive(Clone, Debug)]
pub struct TlsPeer {
    pub addr: SocketAddr,
    pub origin: Arc<str>,
    pub chain: Option<Arc<str>>,
}

/// A TCP listener whose connections are TLS: handshakes run in tasks of their own (a slow or
/// silent client holds up nobody), finished ones are handed to axum.
pub struct TlsListener {
    local: SocketAddr,
    origin: Arc<str>,
    ready: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, TlsPeer)>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>, origin: String) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let origin: Arc<str> = origin.into();
        let (tx, ready) = mpsc::channel(HANDSHAKE_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        let for_peers = Arc::clone(&origin);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(pair) => pair,
                    Err(e) => {
                        eprintln!("haapi-lab: accept on {local}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    break;
                }
                let (acceptor, tx, origin) = (acceptor.clone(), tx.clone(), Arc::clone(&for_peers));
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await;
                    let tls = match handshake {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => return eprintln!("haapi-lab: TLS handshake with {addr} failed: {e}"),
                        Err(_) => return eprintln!("haapi-lab: TLS handshake with {addr} took longer than 10 s"),
                    };
                    let chain = tls.get_ref().1.peer_certificates().filter(|c| !c.is_empty()).map(|certs| Arc::from(to_pem(certs)));
                    let _ = tx.send((tls, TlsPeer { addr, origin, chain })).await;
                });
            }
        });
        Ok(TlsListener { local, origin, ready })
    }
}

/// DER certificates as one PEM text (leaf first).
fn to_pem(certs: &[CertificateDer<'_>]) -> String {
    let mut pem = String::new();
    for cert in certs {
        let b64 = haapi_lab::proto::base64::encode_standard(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

impl Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = TlsPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accepting task ended (it does not, short of the runtime stopping): wait forever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(TlsPeer { addr: self.local, origin: Arc::clone(&self.origin), chain: None })
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// How long a client certificate the local CA issues (`POST /local-ca/client-certificate`) is
/// valid: a year.
const CLIENT_CERT_VALIDITY_SECS: u64 = 365 * 86_400;

/// `--mtls-main-client`: the main client authenticates with `tls_client_auth` (RFC 8705 §2.1)
/// by a certificate the local CA issued for its client id (subject `CN=<client id>`, the
/// registered `tls_client_auth_subject_dn`, §2.1.2), such as `POST /local-ca/client-certificate`
/// hands out.
pub fn main_client_trusts_local_ca(settings: &mut SimSettings, ca: &IssuedCertificate) {
    settings.main_client.authentication = ClientAuthentication::TlsClientAuth {
        trusted_ca_pem: vec![ca.certificate_pem.clone()],
        subject_dn: Some(format!("CN={}", settings.main_client.client_id)),
    };
}

/// The local CA's routes, for a person setting up a browser and for the page:
///
/// * `GET /local-ca.pem`: the CA's certificate (public), to trust it for HTTPS;
/// * `POST /local-ca/client-certificate` with `{"publicKeyPem": SPKI PEM of a P-256 key,
///   "commonName": …}` (JSON): a client certificate for that key (`tls_client_auth`), issued by
///   the CA; the private key never leaves the caller. Only from this machine (a loopback peer)
///   and, from a browser, only from an origin the server allows (CORS list): anything it issues
///   is a credential for `--mtls-main-client`.
pub fn local_ca_routes<S: Clone + Send + Sync + 'static>(ca: IssuedCertificate, allowed_origins: Vec<String>) -> Router<S> {
    let ca = Arc::new(LocalCa { ca, allowed_origins });
    Router::new()
        .route(
            "/local-ca.pem",
            get(|State(ca): State<Arc<LocalCa>>| async move { ([(header::CONTENT_TYPE, "application/x-pem-file")], ca.ca.certificate_pem.clone()) }),
        )
        .route("/local-ca/client-certificate", post(issue_client_certificate))
        .with_state(ca)
}

struct LocalCa {
    ca: IssuedCertificate,
    allowed_origins: Vec<String>,
}

async fn issue_client_certificate(State(local): State<Arc<LocalCa>>, request: axum::extract::Request) -> Response {
    let refuse = |status: StatusCode, error: &str, why: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], serde_json::json!({ "error": error, "error_description": why }).to_string()).into_response()
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<TlsPeer>>()
        .map(|c| c.0.addr.ip())
        .or_else(|| request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
    if !peer.is_some_and(|ip| ip.to_canonical().is_loopback()) {
        let from = peer.map_or_else(|| "an unknown peer".to_owned(), |p| p.to_string());
        return refuse(StatusCode::FORBIDDEN, "access_denied", format!("the local CA issues client certificates to this machine only, not to {from}"));
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !super::origin_allowed(&local.allowed_origins, origin) {
            return refuse(StatusCode::FORBIDDEN, "access_denied", format!("pages of {origin:?} may not ask the local CA for certificates (--allow-origin)"));
        }
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), 16 * 1024).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "the body is larger than 16 KB".into());
    };
    let asked: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", format!("the body is not JSON: {e}")),
    };
    let Some(public_key_pem) = asked["publicKeyPem"].as_str() else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "publicKeyPem (the SPKI PEM of a P-256 public key) is missing".into());
    };
    let common_name = asked["commonName"].as_str().unwrap_or("haapi-android-client");
    let key = match <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(public_key_pem) {
        Ok(k) => k,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", format!("publicKeyPem is not a P-256 public key (SPKI PEM): {e}")),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match x509::issue_client_certificate_for_key(&local.ca, common_name, &key, now.saturating_sub(60), CLIENT_CERT_VALIDITY_SECS, &mut rand_core::OsRng) {
        Ok(leaf) => {
            let body =
                serde_json::json!({ "certificatePem": leaf, "chainPem": format!("{leaf}{}", local.ca.certificate_pem), "caPem": local.ca.certificate_pem });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()),
    }
}
