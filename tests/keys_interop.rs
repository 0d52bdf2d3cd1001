//! Keys and certificates made by other tools, made at test time: the `openssl` command line and
//! npm `jose` (in Node.js). Each private key must import with the right family, and signatures
//! made here with it must verify with the other tool (and the other tool's with this crate);
//! the `kid` of client assertions must follow "configured > the JWK's own > RFC 7638 thumbprint"
//! through a whole run against the simulator; certificate chains work in any order; and every
//! refusal must say what to do.
//!
//! Needs `openssl` and `node` (scripts/setup.sh checks both; `npm ci` installs jose). Without
//! them the tests say so loudly and pass without checking anything.
#![cfg(all(not(target_arch = "wasm32"), feature = "client", feature = "sim", feature = "tools"))]

use haapi_lab::client::config::Config;
use haapi_lab::client::flow::Step;
use haapi_lab::lab::{LabRun, SimLab};
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::der;
use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::keytext::{read_private_key, KeyError};
use haapi_lab::proto::jose::p256::P256Key;
use haapi_lab::proto::jose::verify::{verify_jws, VerifyKey};
use haapi_lab::proto::jose::{self, Alg, KeyFamily};
use haapi_lab::proto::x509;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Everything the other tools made, once per test run.
struct Made {
    dir: PathBuf,
    /// File name → text, for every file openssl wrote.
    files: BTreeMap<String, String>,
    /// npm jose's keys by name: `{jwk, pkcs8, spki, thumbprint, publicJwk}`.
    jose: Value,
}

impl Made {
    fn text(&self, name: &str) -> &str {
        self.files.get(name).unwrap_or_else(|| panic!("no file {name} was made"))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn jose(&self, name: &str) -> &Value {
        let v = &self.jose[name];
        assert!(v.is_object(), "jose made no key {name}");
        v
    }
    /// A jose private JWK as text, with `edit` applied.
    fn jose_jwk(&self, name: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut jwk = self.jose(name)["jwk"].clone();
        edit(&mut jwk);
        jwk.to_string()
    }
}

fn have(program: &str) -> bool {
    Command::new(program).arg(if program == "node" { "--version" } else { "version" }).output().is_ok_and(|o| o.status.success())
}

/// The keys and certificates, or `None` (after a loud message) when openssl or node is missing.
fn made() -> Option<&'static Made> {
    static MADE: OnceLock<Option<Made>> = OnceLock::new();
    let made = MADE.get_or_init(|| {
        let missing: Vec<&str> = ["openssl", "node"].into_iter().filter(|p| !have(p)).collect();
        if !missing.is_empty() {
            eprintln!(
                "\n!!!!!!!! keys_interop: SKIPPED, {} not found: install them (bash scripts/setup.sh) to test interoperability !!!!!!!!\n",
                missing.join(" and ")
            );
            return None;
        }
        Some(make_everything())
    });
    made.as_ref()
}

fn run_tool(dir: &Path, program: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child.stdin.take().expect("stdin").write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{program} {}: {}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn openssl(dir: &Path, args: &[&str]) {
    run_tool(dir, "openssl", args, None);
}

/// Runs an ES module in Node.js from the crate's directory (where node_modules/jose is), with
/// `input` on standard input; returns standard output.
fn node(script: &str, input: &Value) -> Value {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        crate_dir.join("node_modules/jose/package.json").exists(),
        "npm jose is not installed in {}: run `npm ci` (bash scripts/setup.sh does)",
        crate_dir.display()
    );
    let prelude = "import * as jose from 'jose'; const chunks = []; for await (const c of process.stdin) chunks.push(c); \
                   const input = JSON.parse(Buffer.concat(chunks).toString() || 'null');\n";
    let out = run_tool(crate_dir, "node", &["--input-type=module", "-e", &format!("{prelude}{script}")], Some(&input.to_string()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("node printed no JSON ({e}): {out}"))
}

const JOSE_KEYS: &str = r#"
const out = {};
for (const [name, alg, options] of [["es256", "ES256"], ["es384", "ES384"], ["rs256", "RS256", { modulusLength: 2048 }],
                                    ["ps384", "PS384", { modulusLength: 3072 }], ["es512", "ES512"], ["ed25519", "EdDSA", { crv: "Ed25519" }]]) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await jose.exportJWK(privateKey);
  const publicJwk = await jose.exportJWK(publicKey);
  out[name] = { alg, jwk, publicJwk, pkcs8: await jose.exportPKCS8(privateKey), spki: await jose.exportSPKI(publicKey),
                thumbprint: await jose.calculateJwkThumbprint(publicJwk),
                // A token jose signed, for this crate to verify.
                token: alg === "EdDSA" ? null : await new jose.SignJWT({ sub: "signed-by-jose" }).setProtectedHeader({ alg }).sign(privateKey) };
}
console.log(JSON.stringify(out));
"#;

fn make_everything() -> Made {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("keys_interop");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let o = |args: &[&str]| openssl(&dir, args);
    let ec = |curve: &str, out: &str| o(&["genpkey", "-algorithm", "EC", "-pkeyopt", &format!("ec_paramgen_curve:{curve}"), "-out", out]);
    // Private keys in every form.
    ec("P-256", "p256.pem");
    o(&["ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.pem"]); // EC PARAMETERS, then EC PRIVATE KEY
    o(&["ecparam", "-name", "prime256v1", "-genkey", "-param_enc", "explicit", "-noout", "-out", "sec1-explicit.pem"]);
    o(&["pkcs8", "-topk8", "-nocrypt", "-in", "sec1-explicit.pem", "-out", "pkcs8-explicit.pem"]);
    ec("P-384", "p384.pem");
    o(&["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384-sec1.pem"]);
    o(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    o(&["pkey", "-in", "rsa.pem", "-traditional", "-out", "rsa-pkcs1.pem"]);
    // Public halves, as openssl writes them.
    for name in ["p256", "sec1", "p384", "p384-sec1", "rsa"] {
        o(&["pkey", "-in", &format!("{name}.pem"), "-pubout", "-out", &format!("{name}.pub.pem")]);
    }
    o(&["rsa", "-in", "rsa.pem", "-RSAPublicKey_out", "-out", "rsa-pkcs1.pub.pem"]);
    // What must be refused.
    o(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:correct-horse", "-out", "encrypted.pem"]);
    o(&["ec", "-in", "sec1.pem", "-aes256", "-passout", "pass:correct-horse", "-out", "encrypted-legacy.pem"]);
    ec("P-521", "p521.pem");
    ec("secp256k1", "secp256k1.pem");
    o(&["genpkey", "-algorithm", "ed25519", "-out", "ed25519.pem"]);
    o(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa1024.pem"]);
    o(&["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa-pss.pem"]);
    // Certificates: root CA → issuing CA → client; a client issued by the root; a self-signed one.
    std::fs::write(dir.join("ca.ext"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n").unwrap();
    std::fs::write(dir.join("leaf.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n").unwrap();
    for key in ["root.key", "int.key", "leaf.key", "leaf2.key"] {
        ec("P-256", key);
    }
    o(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "root.key",
        "-subj",
        "/CN=QA Root CA",
        "-days",
        "30",
        "-sha256",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "root.pem",
    ]);
    let issue = |csr_key: &str, cn: &str, ca: &str, ca_key: &str, ext: &str, serial: &str, out: &str| {
        let csr = format!("{out}.csr");
        o(&["req", "-new", "-key", csr_key, "-subj", cn, "-out", &csr]);
        o(&["x509", "-req", "-in", &csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", serial, "-days", "30", "-sha256", "-extfile", ext, "-out", out]);
    };
    issue("int.key", "/CN=QA Issuing CA", "root.pem", "root.key", "ca.ext", "2", "int.pem");
    issue("leaf.key", "/CN=haapi-android-client", "int.pem", "int.key", "leaf.ext", "3", "leaf.pem");
    issue("leaf2.key", "/CN=haapi-android-client", "root.pem", "root.key", "leaf.ext", "4", "leaf2.pem");
    o(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "leaf.key",
        "-subj",
        "/CN=haapi-android-client",
        "-days",
        "30",
        "-sha256",
        "-addext",
        "extendedKeyUsage=clientAuth",
        "-out",
        "self.pem",
    ]);

    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pem" || e == "key") {
            files.insert(path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap());
        }
    }
    let jose = node(JOSE_KEYS, &Value::Null);
    for (name, key) in jose.as_object().expect("jose keys") {
        std::fs::write(dir.join(format!("jose-{name}.pub.pem")), key["spki"].as_str().unwrap()).unwrap();
    }
    Made { dir, files, jose }
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// The text as people paste it: CRLF line ends, blank lines and spaces around it.
fn pasted(text: &str) -> String {
    format!("\r\n \t\r\n{}  \r\n\r\n", crlf(text))
}

fn now() -> Timestamp {
    Timestamp::from_secs(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
}

// --- Importing ------------------------------------------------------------------------------------

#[test]
fn every_openssl_private_key_imports_with_its_family_and_its_public_key() {
    let Some(m) = made() else { return };
    for (file, family, form) in [
        ("p256.pem", KeyFamily::P256, "PKCS#8"),
        ("sec1.pem", KeyFamily::P256, "SEC1"),
        ("p384.pem", KeyFamily::P384, "PKCS#8"),
        ("p384-sec1.pem", KeyFamily::P384, "SEC1"),
        ("rsa.pem", KeyFamily::Rsa, "PKCS#8"),
        ("rsa-pkcs1.pem", KeyFamily::Rsa, "PKCS#1"),
    ] {
        let public = m.text(&file.replace(".pem", ".pub.pem").replace("rsa-pkcs1.pub", "rsa.pub")).to_owned();
        for text in [m.text(file).to_owned(), crlf(m.text(file)), pasted(m.text(file))] {
            let read = read_private_key(&text, None).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!((read.family, read.form(), read.kid.as_deref()), (family, form, None), "{file}");
            let key = PrivateKey::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(key.family(), family, "{file}");
            // The public key this crate derives is, byte for byte, the one openssl derives.
            assert_eq!(key.public_key_pem(), public, "{file}: not the key openssl wrote");
            if family == KeyFamily::P256 {
                assert_eq!(P256Key::parse(&text).unwrap().public_jwk(), &key.public_jwk(), "{file}");
            } else {
                let e = P256Key::parse(&text).unwrap_err().to_string();
                assert!(e.contains("not a P-256 key"), "{file}: {e}");
            }
        }
    }
}

#[test]
fn every_jose_key_imports_as_jwk_and_pkcs8_with_every_optional_member() {
    let Some(m) = made() else { return };
    let x5c = haapi_lab::proto::base64::encode_standard(&haapi_lab::proto::pem::parse_one(m.text("leaf.pem")).unwrap().der);
    for (name, family) in [("es256", KeyFamily::P256), ("es384", KeyFamily::P384), ("rs256", KeyFamily::Rsa), ("ps384", KeyFamily::Rsa)] {
        let k = m.jose(name);
        let alg = k["alg"].as_str().unwrap();
        let decorated = m.jose_jwk(name, |jwk| {
            for (member, value) in [
                ("kid", json!(format!("jose-{name}"))),
                ("alg", json!(alg)),
                ("use", json!("sig")),
                ("key_ops", json!(["sign", "verify"])),
                ("x5c", json!([x5c])),
                ("x5t#S256", json!("cxYqAkoNi8vF5I6K4D3Uo5zMcuw3cI3n5x5LDoP5S7Q")),
                ("ext", json!(true)),
                ("https://example.com/extension", json!({ "nested": [1, 2, { "deeper": null }] })),
            ] {
                jwk[member] = value;
            }
        });
        let plain = m.jose_jwk(name, |_| {});
        for (text, kid) in [(decorated.clone(), Some(format!("jose-{name}"))), (pasted(&decorated), Some(format!("jose-{name}"))), (plain, None)] {
            let read = read_private_key(&text, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((read.family, read.form(), read.kid), (family, "JWK", kid), "{name}");
            let key = PrivateKey::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key.family(), family);
            // Our public JWK has exactly jose's public members.
            let theirs = &k["publicJwk"];
            for member in ["kty", "crv", "x", "y", "n", "e"] {
                assert_eq!(key.public_jwk().get(member), theirs.get(member), "{name}: member {member}");
            }
            assert_eq!(jose::thumbprint(&key.public_jwk()).unwrap(), k["thumbprint"].as_str().unwrap(), "{name}: RFC 7638 thumbprint");
        }
        let pkcs8 = k["pkcs8"].as_str().unwrap();
        let key = PrivateKey::parse(&pasted(pkcs8)).unwrap_or_else(|e| panic!("{name} PKCS#8: {e}"));
        assert_eq!(key.public_key_pem().trim(), k["spki"].as_str().unwrap().trim(), "{name}: jose's SPKI");
        // Our PKCS#8 and private JWK of the key read back to the same key.
        assert_eq!(PrivateKey::parse(key.to_pkcs8_pem().expose()).unwrap().public_jwk(), key.public_jwk());
        assert_eq!(PrivateKey::parse(key.to_private_jwk().expose()).unwrap().public_jwk(), key.public_jwk());
    }
}

#[test]
fn jwk_sets_give_the_key_named_by_kid_or_the_only_private_key() {
    let Some(m) = made() else { return };
    let with_kid = |name: &str, kid: &str| -> Value { serde_json::from_str(&m.jose_jwk(name, |j| j["kid"] = kid.into())).unwrap() };
    let public = |name: &str, kid: &str| -> Value {
        let mut p = m.jose(name)["publicJwk"].clone();
        p["kid"] = kid.into();
        p
    };
    // Only one private key (the others public): it is the one, without a kid configured.
    let set = json!({ "keys": [public("es256", "pub-1"), with_kid("rs256", "the-rsa-key"), public("es384", "pub-2")] }).to_string();
    let read = read_private_key(&pasted(&set), None).unwrap();
    assert_eq!((read.family, read.kid.as_deref()), (KeyFamily::Rsa, Some("the-rsa-key")));
    // Two private keys: a kid picks one; without one the message says how to pick.
    let set = json!({ "keys": [with_kid("es256", "ec-key"), with_kid("es384", "p384-key"), public("rs256", "pub")] }).to_string();
    assert_eq!(read_private_key(&set, Some("p384-key")).unwrap().family, KeyFamily::P384);
    assert_eq!(read_private_key(&set, Some("ec-key")).unwrap().family, KeyFamily::P256);
    let e = read_private_key(&set, None).unwrap_err().to_string();
    assert!(e.contains("2 private keys") && e.contains("credential.kid") && e.contains("ec-key") && e.contains("p384-key"), "{e}");
    let e = read_private_key(&set, Some("nope")).unwrap_err().to_string();
    assert!(e.contains("no key with kid \"nope\"") && e.contains("ec-key"), "{e}");
    // A kid that names a public key: a private key is needed.
    let e = read_private_key(&set, Some("pub")).unwrap_err();
    assert!(matches!(e, KeyError::PublicOnly(_)), "{e}");
    // Only public keys.
    let e = read_private_key(&json!({ "keys": [public("es256", "a")] }).to_string(), None).unwrap_err();
    assert!(matches!(e, KeyError::PublicOnly(_)) && e.to_string().contains("private key is needed"), "{e}");
}

// --- Signatures both ways -------------------------------------------------------------------------

/// The keys every interop test signs with: (label, private key text, openssl public key file, algorithms).
fn signing_keys(m: &Made) -> Vec<(String, String, PathBuf, Vec<Alg>)> {
    let mut keys = vec![
        ("openssl P-256 PKCS#8".into(), m.text("p256.pem").to_owned(), m.path("p256.pub.pem"), vec![Alg::ES256]),
        ("openssl P-256 SEC1".into(), crlf(m.text("sec1.pem")), m.path("sec1.pub.pem"), vec![Alg::ES256]),
        ("openssl P-384 PKCS#8".into(), m.text("p384.pem").to_owned(), m.path("p384.pub.pem"), vec![Alg::ES384]),
        ("openssl P-384 SEC1".into(), m.text("p384-sec1.pem").to_owned(), m.path("p384-sec1.pub.pem"), vec![Alg::ES384]),
        (
            "openssl RSA PKCS#8".into(),
            m.text("rsa.pem").to_owned(),
            m.path("rsa.pub.pem"),
            Alg::ALL.into_iter().filter(|a| a.family() == KeyFamily::Rsa).collect(),
        ),
        ("openssl RSA PKCS#1".into(), pasted(m.text("rsa-pkcs1.pem")), m.path("rsa.pub.pem"), vec![Alg::RS256, Alg::PS512]),
    ];
    for (name, algs) in
        [("es256", vec![Alg::ES256]), ("es384", vec![Alg::ES384]), ("rs256", vec![Alg::RS256, Alg::PS256]), ("ps384", vec![Alg::PS384, Alg::RS512])]
    {
        let public = m.path(&format!("jose-{name}.pub.pem"));
        keys.push((format!("jose {name} JWK"), m.jose_jwk(name, |j| j["kid"] = "k".into()), public.clone(), algs.clone()));
        keys.push((format!("jose {name} PKCS#8"), m.jose(name)["pkcs8"].as_str().unwrap().to_owned(), public, algs));
    }
    keys
}

/// ECDSA `r || s` (JWS, RFC 7518 §3.4) as the DER `Ecdsa-Sig-Value` openssl reads.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |half: &[u8]| {
        let trimmed: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
        let body = if trimmed.first().is_none_or(|b| b & 0x80 != 0) { [&[0u8][..], &trimmed].concat() } else { trimmed };
        der::encode(der::INTEGER, &body)
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    der::encode(der::SEQUENCE, &[int(r), int(s)].concat())
}

fn openssl_verifies(dir: &Path, public: &Path, alg: Alg, input: &[u8], signature: &[u8]) -> bool {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!("sig-{}", COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let (input_file, sig_file) = (dir.join(format!("{name}.in")), dir.join(format!("{name}.sig")));
    std::fs::write(&input_file, input).unwrap();
    let sig = if matches!(alg, Alg::ES256 | Alg::ES384) { ecdsa_der(signature) } else { signature.to_vec() };
    std::fs::write(&sig_file, sig).unwrap();
    let digest = format!("-sha{}", &alg.name()[2..]);
    let mut args = vec!["dgst", &digest, "-verify", public.to_str().unwrap(), "-signature", sig_file.to_str().unwrap()];
    if alg.name().starts_with("PS") {
        args.extend(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]);
    }
    args.push(input_file.to_str().unwrap());
    let out = Command::new("openssl").args(&args).output().expect("openssl");
    let _ = (std::fs::remove_file(&input_file), std::fs::remove_file(&sig_file));
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

#[test]
fn signatures_made_here_verify_with_openssl() {
    let Some(m) = made() else { return };
    let dir = m.dir.join("openssl-verify");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = SeededEntropy::new(11);
    for (label, text, public, algs) in signing_keys(m) {
        let key = PrivateKey::parse(&text).unwrap_or_else(|e| panic!("{label}: {e}"));
        for alg in algs {
            let input = format!("eyJhbGciOiJ{}.eyJzdWIiOiJpbnRlcm9wIn0", alg.name());
            let sig = key.sign(alg, input.as_bytes(), &mut rng).unwrap();
            assert!(openssl_verifies(&dir, &public, alg, input.as_bytes(), &sig), "{label} {alg}: openssl does not verify our signature");
            assert!(!openssl_verifies(&dir, &public, alg, format!("{input}x").as_bytes(), &sig), "{label} {alg}: openssl verifies anything");
        }
    }
}

const JOSE_VERIFY: &str = r#"
const out = [];
for (const { token, spki, alg } of input) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(token, await jose.importSPKI(spki, alg), { algorithms: [alg] });
    out.push({ ok: true, sub: payload.sub, kid: protectedHeader.kid ?? null });
  } catch (e) {
    out.push({ ok: false, error: String(e.code ?? e) });
  }
}
console.log(JSON.stringify(out));
"#;

#[test]
fn tokens_signed_here_verify_with_jose() {
    let Some(m) = made() else { return };
    let mut rng = SeededEntropy::new(12);
    let now = now().secs();
    let mut jobs = Vec::new();
    let mut labels = Vec::new();
    for (label, text, public, algs) in signing_keys(m) {
        let key = PrivateKey::parse(&text).unwrap_or_else(|e| panic!("{label}: {e}"));
        let spki = std::fs::read_to_string(&public).unwrap();
        for alg in algs {
            let claims = json!({ "sub": label, "iat": now, "exp": now + 60 });
            let token = key.sign_jwt(alg, Some("k1"), Some("JWT"), &claims, &mut rng).unwrap();
            jobs.push(json!({ "token": token, "spki": spki, "alg": alg.name() }));
            labels.push((label.clone(), alg, true));
            // The same token with another subject (its signature no longer fits) must fail.
            let forged = format!(
                "{}.{}.{}",
                token.split('.').next().unwrap(),
                jose::b64url(json!({ "sub": "forged" }).to_string().as_bytes()),
                token.rsplit('.').next().unwrap()
            );
            jobs.push(json!({ "token": forged, "spki": spki, "alg": alg.name() }));
            labels.push((label.clone(), alg, false));
        }
    }
    let results = node(JOSE_VERIFY, &Value::Array(jobs));
    for ((label, alg, valid), result) in labels.iter().zip(results.as_array().unwrap()) {
        assert_eq!(result["ok"], *valid, "{label} {alg}: jose says {result}");
        if *valid {
            assert_eq!((result["sub"].as_str(), result["kid"].as_str()), (Some(label.as_str()), Some("k1")));
        }
    }
    assert_eq!(results.as_array().unwrap().len(), labels.len());
}

#[test]
fn tokens_signed_by_jose_verify_with_the_keys_read_here() {
    let Some(m) = made() else { return };
    for name in ["es256", "es384", "rs256", "ps384"] {
        let k = m.jose(name);
        let alg = Alg::parse(k["alg"].as_str().unwrap()).unwrap();
        let token = k["token"].as_str().unwrap();
        for text in [m.jose_jwk(name, |_| {}), k["pkcs8"].as_str().unwrap().to_owned()] {
            let ours = PrivateKey::parse(&text).unwrap().public_jwk();
            let decoded = verify_jws(token, &VerifyKey::from_jwk(&ours).unwrap(), &[alg]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.claims["sub"], "signed-by-jose");
        }
        // And a key that is not jose's does not verify it.
        let other = PrivateKey::generate_for(if alg.family() == KeyFamily::Rsa { Alg::ES256 } else { alg }, &mut SeededEntropy::new(1)).unwrap();
        assert!(verify_jws(token, &VerifyKey::from_jwk(&other.public_jwk()).unwrap(), &[alg]).is_err());
    }
}

// --- kid through the whole flow -------------------------------------------------------------------

fn private_key_jwt(alg: &str, key: &str, kid: Option<&str>) -> Config {
    let mut v = Config::default().to_json();
    v["credential"] = json!({ "method": "private_key_jwt", "alg": alg, "privateKey": key, "kid": kid });
    v["stopAfter"] = json!("haapi-token"); // the client's credential is done with by then
    Config::from_value(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(config: &Config) -> LabRun {
    let now = now();
    let mut lab = SimLab::new(config, 5, now).unwrap_or_else(|e| panic!("{e}"));
    let run = lab.run(config, now).unwrap_or_else(|f| panic!("{}: {:#}", f.error, f.trace.to_json(true)));
    assert!(run.outcome.haapi_token.is_some(), "the run did not reach the HAAPI token");
    run
}

/// The `kid` header of the client assertion the run sent (the simulator accepted it).
fn assertion_kid(run: &LabRun) -> String {
    let f1 = run.trace.last(Step::DcrToken).and_then(|s| s.request.as_ref()).expect("an F1 request");
    let jwt = jose::decode_unverified(&f1.form_param("client_assertion").expect("a client assertion")).unwrap();
    jwt.header["kid"].as_str().expect("a kid header").to_owned()
}

const JOSE_THUMBPRINTS: &str = r#"
const out = {};
for (const [name, pem, alg] of input) out[name] = await jose.calculateJwkThumbprint(await jose.exportJWK(await jose.importSPKI(pem, alg, { extractable: true })));
console.log(JSON.stringify(out));
"#;

#[test]
fn the_assertion_kid_is_the_configured_one_else_the_jwks_own_else_the_thumbprint() {
    let Some(m) = made() else { return };
    for (name, alg) in [("es256", "ES256"), ("es384", "ES384"), ("rs256", "RS256")] {
        let own = m.jose_jwk(name, |j| {
            j["kid"] = json!(format!("own-{name}"));
            j["use"] = "sig".into();
            j["key_ops"] = json!(["sign"]);
        });
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, &own, None))), format!("own-{name}"), "{name}: the JWK's own kid");
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, &own, Some("configured")))), "configured", "{name}: the configured kid wins");
        let bare = m.jose_jwk(name, |_| {});
        let thumbprint = m.jose(name)["thumbprint"].as_str().unwrap();
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, &bare, None))), thumbprint, "{name}: jose's RFC 7638 thumbprint");
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, &pasted(m.jose(name)["pkcs8"].as_str().unwrap()), None))), thumbprint, "{name} PKCS#8");
    }
    // PEM keys carry no kid: the thumbprint, as jose computes it from openssl's public key.
    let thumbprints = node(
        JOSE_THUMBPRINTS,
        &json!([["p256", m.text("p256.pub.pem"), "ES256"], ["sec1", m.text("sec1.pub.pem"), "ES256"], ["rsa", m.text("rsa.pub.pem"), "RS256"]]),
    );
    for (file, alg, which) in [("sec1.pem", "ES256", "sec1"), ("rsa-pkcs1.pem", "PS256", "rsa"), ("p256.pem", "ES256", "p256")] {
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, &pasted(m.text(file)), None))), thumbprints[which].as_str().unwrap(), "{file}");
        assert_eq!(assertion_kid(&run(&private_key_jwt(alg, m.text(file), Some("pem-kid")))), "pem-kid", "{file}");
    }
    // A JWK Set with two private keys: the configured kid picks the key (the simulator verifies
    // the assertion with the key registered under that kid, so the wrong key would fail).
    let set = json!({ "keys": [serde_json::from_str::<Value>(&m.jose_jwk("es256", |j| j["kid"] = "a".into())).unwrap(),
                               serde_json::from_str::<Value>(&m.jose_jwk("rs256", |j| j["kid"] = "b".into())).unwrap()] })
    .to_string();
    let r = run(&private_key_jwt("RS256", &set, Some("b")));
    assert_eq!(assertion_kid(&r), "b");
    assert_eq!(
        jose::decode_unverified(&r.trace.last(Step::DcrToken).unwrap().request.as_ref().unwrap().form_param("client_assertion").unwrap()).unwrap().header
            ["alg"],
        "RS256"
    );
    assert_eq!(assertion_kid(&run(&private_key_jwt("ES256", &set, Some("a")))), "a");
    // …and without one the configuration is refused before any request, saying how to pick.
    let mut v = Config::default().to_json();
    v["credential"] = json!({ "method": "private_key_jwt", "alg": "ES256", "privateKey": set });
    let problems = Config::from_value(&v).unwrap_err();
    assert!(problems.iter().any(|p| p.path == "credential.privateKey" && p.message.contains("credential.kid")), "{problems:?}");
}

// --- Refusals -------------------------------------------------------------------------------------

#[test]
fn every_refusal_says_what_is_wrong_and_what_to_do() {
    let Some(m) = made() else { return };
    let jwk_with = |name: &str, member: &str, value: Value| m.jose_jwk(name, |j| j[member] = value);
    let two_private = json!({ "keys": [serde_json::from_str::<Value>(&m.jose_jwk("es256", |j| j["kid"] = "one".into())).unwrap(),
                                       serde_json::from_str::<Value>(&m.jose_jwk("es256", |j| j["kid"] = "two".into())).unwrap()] })
    .to_string();
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("openssl P-256 public key", m.text("p256.pub.pem").into(), &["only a public key", "private key is needed"]),
        ("openssl RSA PUBLIC KEY", m.text("rsa-pkcs1.pub.pem").into(), &["RSA PUBLIC KEY", "only a public key"]),
        ("a certificate", m.text("leaf.pem").into(), &["CERTIFICATE", "only a public key"]),
        ("jose public JWK", m.jose("es256")["publicJwk"].to_string(), &["no \"d\"", "only a public key"]),
        ("encrypted PKCS#8", pasted(m.text("encrypted.pem")), &["encrypted", "decrypt it first", "openssl"]),
        ("encrypted SEC1 (Proc-Type)", m.text("encrypted-legacy.pem").into(), &["encrypted", "decrypt it first"]),
        ("openssl P-521", m.text("p521.pem").into(), &["P-521", "not supported", "P-256"]),
        ("jose P-521", m.jose_jwk("es512", |_| {}), &["P-521", "not supported", "P-256"]),
        ("openssl Ed25519", m.text("ed25519.pem").into(), &["EdDSA", "not supported", "P-256"]),
        ("jose Ed25519", m.jose_jwk("ed25519", |_| {}), &["EdDSA", "not supported", "P-256"]),
        ("openssl secp256k1", m.text("secp256k1.pem").into(), &["1.3.132.0.10", "not supported", "P-256"]),
        ("SEC1, explicit curve parameters", m.text("sec1-explicit.pem").into(), &["named_curve", "openssl pkey"]),
        ("PKCS#8, explicit curve parameters", m.text("pkcs8-explicit.pem").into(), &["named_curve", "openssl pkey"]),
        ("openssl RSA-PSS", m.text("rsa-pss.pem").into(), &["RSA-PSS", "openssl genpkey -algorithm RSA"]),
        ("openssl RSA 1024", m.text("rsa1024.pem").into(), &["1024-bit", "2048"]),
        ("JWK use enc", jwk_with("es256", "use", json!("enc")), &["\"use\": \"enc\"", "sig"]),
        ("JWK key_ops without sign", jwk_with("rs256", "key_ops", json!(["verify", "decrypt"])), &["key_ops", "\"sign\""]),
        ("JWK Set, two private keys, no kid", two_private, &["2 private keys", "credential.kid", "one", "two"]),
        ("not a key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host".into(), &["PEM", "JWK"]),
    ];
    for (label, text, words) in cases {
        let e = PrivateKey::parse(&text).expect_err(label).to_string();
        for w in words {
            assert!(e.contains(w), "{label}: {e:?} does not say {w:?}");
        }
        // The configuration says the same, at credential.privateKey, before anything is sent
        // (except the RSA key size, which only the tools module can measure).
        if label != "openssl RSA 1024" {
            let mut v = Config::default().to_json();
            let alg = if label.contains("RSA") { "RS256" } else { "ES256" };
            v["credential"] = json!({ "method": "private_key_jwt", "alg": alg, "privateKey": text });
            let problems = Config::from_value(&v).expect_err(label);
            assert!(
                problems.iter().any(|p| p.path == "credential.privateKey" && p.message == e.trim_start_matches("key error: ")),
                "{label}: {problems:?} vs {e}"
            );
        } else {
            let mut v = Config::default().to_json();
            v["credential"] = json!({ "method": "private_key_jwt", "alg": "RS256", "privateKey": text });
            let config = Config::from_value(&v).unwrap();
            let e = SimLab::new(&config, 1, now()).expect_err(label).to_string();
            assert!(e.contains("1024-bit"), "{e}");
        }
    }
    // A key of one family for another family's algorithm: the configuration names the right one.
    let mut v = Config::default().to_json();
    v["credential"] = json!({ "method": "private_key_jwt", "alg": "ES256", "privateKey": m.text("p384.pem") });
    let problems = Config::from_value(&v).unwrap_err();
    assert!(problems.iter().any(|p| p.path == "credential.alg" && p.message.contains("ES384")), "{problems:?}");
}

// --- Certificate chains ---------------------------------------------------------------------------

fn tls_client_auth(method: &str, chain: &str, key: &str) -> Config {
    let mut v = Config::default().to_json();
    v["credential"] = json!({ "method": method, "certificate": chain, "privateKey": key });
    v["stopAfter"] = json!("haapi-token");
    Config::from_value(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn certificate_chains_work_in_any_order() {
    let Some(m) = made() else { return };
    let (root, int, leaf, leaf2) = (m.text("root.pem"), m.text("int.pem"), m.text("leaf.pem"), m.text("leaf2.pem"));
    let openssl_says = "subject=CN = haapi-android-client\nissuer=CN = QA Issuing CA\n";
    let chains: Vec<(String, &str)> = vec![
        (format!("{leaf2}{root}"), "leaf2.key"),
        (format!("{root}{leaf2}"), "leaf2.key"),
        (format!("{leaf}{int}{root}"), "leaf.key"),
        (format!("{root}{int}{leaf}"), "leaf.key"),
        (format!("{int}{leaf}{root}"), "leaf.key"),
        (format!("{root}{leaf}{int}"), "leaf.key"),
        (pasted(&format!("{openssl_says}{int}\n\n{root}\n{openssl_says}{leaf}")), "leaf.key"),
        (crlf(&format!("{root}{int}{leaf}")), "leaf.key"),
    ];
    for (i, (chain, key)) in chains.iter().enumerate() {
        // The simulator's TLS layer finds the leaf wherever it is, and path-validates it up to the root.
        let info = x509::verify_client_chain(chain, &[x509::TrustAnchor::Ca(root)], now().secs()).unwrap_or_else(|e| panic!("chain {i}: {e}"));
        assert_eq!((info.subject.as_str(), info.is_ca), ("CN=haapi-android-client", false), "chain {i}");
        let leaf_pem = if *key == "leaf.key" { leaf } else { leaf2 };
        assert_eq!(x509::describe(chain).unwrap(), x509::describe(leaf_pem).unwrap(), "chain {i}: describe() is of the leaf");
        assert_eq!(x509::spki_sha256_pin(chain).unwrap(), x509::spki_sha256_pin(leaf_pem).unwrap(), "chain {i}: the pin is the leaf's");
        // The lab makes the simulator trust the chain's CA, wherever it is, and the run succeeds.
        let r = run(&tls_client_auth("tls_client_auth", chain, &pasted(m.text(key))));
        assert!(r.trace.last(Step::DcrToken).unwrap().request.as_ref().unwrap().client_certificate.is_some());
    }
    // A chain without the CA that issued the leaf is refused, saying what is missing.
    let e = x509::verify_client_chain(&format!("{root}{leaf}"), &[x509::TrustAnchor::Ca(root)], now().secs()).unwrap_err().to_string();
    assert!(e.contains("QA Issuing CA"), "{e}");
    let now = now();
    for chain in [format!("{root}{leaf}"), leaf.to_owned()] {
        // The lab finds no CA for the simulator to trust: refused before any request, naming it.
        let e = SimLab::new(&tls_client_auth("tls_client_auth", &chain, m.text("leaf.key")), 1, now).unwrap_err().to_string();
        assert!(e.contains("needs the CA that issued it (CN=QA Issuing CA)") && e.contains("paste the CA certificate"), "{e}");
    }
    // Self-signed (openssl marks it a CA too): the pin is of the client certificate, even with
    // a root pasted before it.
    let own_pin = x509::spki_sha256_pin(m.text("self.pem")).unwrap();
    for chain in [pasted(m.text("self.pem")), format!("{root}{}", m.text("self.pem"))] {
        assert_eq!(x509::spki_sha256_pin(&chain).unwrap(), own_pin);
        run(&tls_client_auth("self_signed_tls_client_auth", &chain, m.text("leaf.key")));
    }
}
