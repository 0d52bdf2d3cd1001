//! PKCS#12 files made by `x509::pkcs12_export`, read back by other tools at test time: the
//! `openssl pkcs12` command line (the certificates and the key come out as they went in, the
//! algorithms are OpenSSL 3's defaults, a wrong password is refused) and Node.js's
//! `tls.createSecureContext({ pfx, passphrase })`, what a Node HTTPS client does with a `.p12`.
//!
//! Needs `openssl` and `node` (scripts/setup.sh checks both); without them these tests fail and
//! say what is missing.
#![cfg(all(not(target_arch = "wasm32"), feature = "tools"))]

use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::{pem, x509};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOW: u64 = 1_790_000_000;
const YEAR: u64 = 365 * 86_400;

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("haapi-lab-p12-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program} ({e}): install it (bash scripts/setup.sh)"))
}

/// `openssl pkcs12 -in FILE -passin pass:PASSWORD -nodes`: everything in the file as PEM.
fn openssl_read(file: &Path, password: &str) -> Output {
    run("openssl", &["pkcs12", "-in", file.to_str().unwrap(), "-passin", &format!("pass:{password}"), "-nodes"])
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The DER of every PEM block labelled `label` in `text`, in order.
fn blocks(text: &str, label: &str) -> Vec<Vec<u8>> {
    pem::parse_all(text).unwrap().into_iter().filter(|b| b.label == label).map(|b| b.der).collect()
}

/// Exports `chain` and `key`, reads the file back with openssl and checks that the same
/// certificates (in path order, leaf first) and the same key come out, with the bag attributes.
fn round_trip_through_openssl(name: &str, chain_pem: &str, key_pem: &str, password: &str) -> Vec<u8> {
    let dir = temp_dir(name);
    let p12 = x509::pkcs12_export(chain_pem, key_pem, password, "haapi-android-client", &mut SeededEntropy::new(5)).unwrap();
    let file = dir.join("client.p12");
    std::fs::write(&file, &p12).unwrap();

    let out = openssl_read(&file, password);
    let said = text(&out);
    assert!(out.status.success(), "openssl could not read the PKCS#12 file: {said}");
    let expected: Vec<Vec<u8>> = x509::pem_chain_in_path_order(chain_pem).unwrap().iter().map(|p| pem::parse_one(p).unwrap().der).collect();
    assert_eq!(blocks(&said, "CERTIFICATE"), expected, "the certificates, leaf first: {said}");
    let keys = blocks(&said, "PRIVATE KEY");
    assert_eq!(keys.len(), 1, "{said}");
    let read = PrivateKey::parse(&pem::encode("PRIVATE KEY", &keys[0])).unwrap();
    let original = PrivateKey::parse(key_pem).unwrap();
    assert_eq!(read.to_pkcs8_der(), original.to_pkcs8_der(), "the same private key");
    assert!(said.contains("friendlyName: haapi-android-client"), "{said}");
    let key_ids: Vec<&str> = said.lines().filter(|l| l.trim_start().starts_with("localKeyID:")).collect();
    assert_eq!(key_ids.len(), 2, "the leaf and the key carry a localKeyID: {said}");
    assert_eq!(key_ids[0].trim(), key_ids[1].trim(), "the same localKeyID on the leaf and the key: {said}");

    // The algorithms OpenSSL 3's `openssl pkcs12 -export` uses by default.
    let info = run("openssl", &["pkcs12", "-in", file.to_str().unwrap(), "-passin", &format!("pass:{password}"), "-info", "-noout"]);
    let said = text(&info);
    assert!(info.status.success(), "{said}");
    assert!(said.contains("MAC: sha256, Iteration 2048"), "{said}");
    assert_eq!(said.matches("PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256").count(), 2, "certificates and key: {said}");

    // A wrong password: the MAC does not verify.
    let wrong = openssl_read(&file, "not-the-password");
    assert!(!wrong.status.success(), "openssl read the file with a wrong password: {}", text(&wrong));
    assert!(text(&wrong).to_lowercase().contains("mac verify"), "{}", text(&wrong));
    let _ = std::fs::remove_dir_all(&dir);
    p12
}

#[test]
fn a_ca_issued_p256_client_certificate_reads_back_with_openssl() {
    let mut rng = SeededEntropy::new(1);
    let (leaf, ca) = x509::client_certificates(true, "haapi-android-client", NOW, YEAR, &mut rng).unwrap();
    let ca = ca.unwrap();
    // The chain pasted root first: it goes into the file leaf first.
    let chain = format!("{}{}", ca.certificate_pem, leaf.certificate_pem);
    round_trip_through_openssl("ca", &chain, &leaf.private_key_pem, "correct horse battery staple");
}

#[test]
fn a_self_signed_certificate_with_a_non_ascii_password_reads_back_with_openssl() {
    let leaf = x509::self_signed_client_certificate("haapi-android-client", NOW, YEAR, &mut SeededEntropy::new(2)).unwrap();
    round_trip_through_openssl("self", &leaf.certificate_pem, &leaf.private_key_pem, "pässwörd-€");
}

#[test]
fn an_rsa_key_and_certificate_made_by_openssl_export_and_read_back() {
    let dir = temp_dir("rsa");
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-subj",
            "/CN=rsa-client",
            "-days",
            "2",
        ],
    );
    assert!(made.status.success(), "{}", text(&made));
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    round_trip_through_openssl("rsa-rt", &cert_pem, &key_pem, "pw");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn node_accepts_the_file_as_a_tls_client_identity_and_refuses_a_wrong_passphrase() {
    let mut rng = SeededEntropy::new(3);
    let (leaf, ca) = x509::client_certificates(true, "haapi-android-client", NOW - 3600, YEAR, &mut rng).unwrap();
    let chain = format!("{}{}", leaf.certificate_pem, ca.unwrap().certificate_pem);
    let p12 = x509::pkcs12_export(&chain, &leaf.private_key_pem, "Node-pass", "haapi-android-client", &mut rng).unwrap();
    let dir = temp_dir("node");
    let file = dir.join("client.p12");
    std::fs::write(&file, &p12).unwrap();
    let script = "const tls = require('node:tls'); const fs = require('node:fs');
        const [file, passphrase] = process.argv.slice(1);
        try { tls.createSecureContext({ pfx: fs.readFileSync(file), passphrase }); console.log('accepted'); }
        catch (e) { console.log('refused: ' + e.message); }";
    let ok = run("node", &["-e", script, file.to_str().unwrap(), "Node-pass"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "accepted", "{}", text(&ok));
    let wrong = run("node", &["-e", script, file.to_str().unwrap(), "wrong"]);
    let said = String::from_utf8_lossy(&wrong.stdout).trim().to_owned();
    assert!(said.starts_with("refused:") && said.to_lowercase().contains("mac verify"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
