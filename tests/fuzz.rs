//! Property tests of everything that reads hostile input: the configuration document, keys (PEM,
//! DER, JWK, JWK Sets), certificates, base64, URLs, JWTs, and the simulated server's request
//! handling. Inputs are arbitrary, and also valid inputs mutated byte by byte and (for JSON)
//! member by member, so that the deeper layers are reached too.
//!
//! Properties: nothing panics; what comes out is bounded by what went in (no input makes memory
//! or output grow beyond a multiple of its size, and inputs are small, so every call returns);
//! what can round-trip does; and nothing mutated is accepted unless it means what the original
//! meant (a signature, a client assertion, a DPoP proof, a certificate chain).
//!
//! The number of cases is bounded for the test command (fast on CI); `PROPTEST_CASES` raises
//! it, and `PROPTEST_RNG_SEED` picks another seed (the default seed is fixed, so a run repeats).
//! The longer run (README, "Tests"):
//!
//! ```text
//! PROPTEST_CASES=20000 PROPTEST_RNG_SEED=$RANDOM cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! Not covered here: the HAAPI representation model (its own tests cover it).
#![cfg(all(not(target_arch = "wasm32"), feature = "client", feature = "sim", feature = "tools"))]

use haapi_lab::client::config::Config;
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::http::{HttpRequest, HttpResponse};
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::keytext::read_private_key;
use haapi_lab::proto::jose::p256::P256Key;
use haapi_lab::proto::jose::verify::{verify_jws, VerifyKey};
use haapi_lab::proto::jose::{self, Alg};
use haapi_lab::proto::url::Url;
use haapi_lab::proto::{base64, der, pem, x509};
use haapi_lab::sim::{ClientAuthentication, SimSettings, Simulator};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Instant;

// --- The runner -----------------------------------------------------------------------------------

/// The seed of the default run (`PROPTEST_RNG_SEED` overrides it).
const SEED: u64 = 0x4841_4150_4921;

/// Runs `test` on `default_cases` values of `strategy` (or `PROPTEST_CASES`), and says how many
/// and how long on standard error.
fn check<S: Strategy>(name: &str, default_cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut config = ProptestConfig::default(); // reads PROPTEST_CASES and PROPTEST_RNG_SEED
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None; // a finding becomes a named regression test instead
    let (cases, seed) = (config.cases, config.rng_seed);
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name} (seed {seed}): {e}");
    }
    eprintln!("fuzz {name}: {cases} cases in {:.2?} (seed {seed})", started.elapsed());
}

// --- Mutations ------------------------------------------------------------------------------------

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Set(Index, u8),
    FlipBit(Index, u8),
    Delete(Index, u8),
    Insert(Index, Vec<u8>),
    Duplicate(Index, u8, Index),
    Truncate(Index),
}

/// Bytes that matter to the formats under test.
const INTERESTING: &[u8] = b"\x00\x01\x02\x03\x04\x05\x06\x1f\x30\x31\x7f\x80\x81\x82\x83\x84\xa0\xa1\xff-=+/_.:;,{}[]\"\\ \t\r\n%?#@AZaz09";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![select(INTERESTING), any::<u8>()]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), byte()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        2 => (any::<Index>(), 1u8..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        2 => (any::<Index>(), prop::collection::vec(byte(), 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => (any::<Index>(), 1u8..64, any::<Index>()).prop_map(|(i, n, at)| Edit::Duplicate(i, n, at)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..5)
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        let len = data.len();
        match e {
            Edit::Set(i, b) if len > 0 => data[at(i, len)] = *b,
            Edit::FlipBit(i, bit) if len > 0 => data[at(i, len)] ^= 1 << bit,
            Edit::Delete(i, n) if len > 0 => {
                let start = at(i, len);
                data.drain(start..(start + usize::from(*n)).min(len));
            }
            Edit::Insert(i, bytes) => {
                let start = at(i, len + 1);
                data.splice(start..start, bytes.iter().copied());
            }
            Edit::Duplicate(i, n, to) if len > 0 => {
                let start = at(i, len);
                let piece = data[start..(start + usize::from(*n)).min(len)].to_vec();
                let to = at(to, len + 1);
                data.splice(to..to, piece);
            }
            Edit::Truncate(i) => data.truncate(at(i, len + 1)),
            _ => {}
        }
    }
    data
}

fn mutated_text(text: &str, e: &[Edit]) -> String {
    String::from_utf8_lossy(&apply(text.as_bytes().to_vec(), e)).into_owned()
}

/// Strings people and tools put in these formats, and some they should not.
const WORDS: &[&str] = &[
    "",
    "null",
    "0",
    "-1",
    "1e309",
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "PS256",
    "HS256",
    "none",
    "EC",
    "RSA",
    "oct",
    "OKP",
    "P-256",
    "P-384",
    "P-521",
    "sig",
    "enc",
    "sign",
    "AQAB",
    "AA",
    "A",
    "_-_-",
    "simulator",
    "http",
    "wasm",
    "webcrypto",
    "private_key_jwt",
    "client_secret_basic",
    "tls_client_auth",
    "self_signed_tls_client_auth",
    "none",
    "haapi-android-client",
    "https://localhost:8443/oauth/v2/oauth-anonymous",
    "https://localhost:8443/oauth/v2/oauth-token",
    "http://[::1]:99999/",
    "javascript:alert(1)",
    "//evil.example/",
    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----",
    "\u{0}",
    "\u{202e}",
    "é",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![4 => select(WORDS).prop_map(str::to_owned), 1 => "[ -~]{0,24}", 1 => any::<String>().prop_map(|s| s.chars().take(24).collect())]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One edit of a JSON document: at a node chosen by `Index`.
#[derive(Clone, Debug)]
enum JsonEdit {
    Replace(Index, Value),
    Remove(Index),
    AddMember(Index, String, Value),
    Stringify(Index),
}

fn json_edits() -> impl Strategy<Value = Vec<JsonEdit>> {
    let edit = prop_oneof![
        3 => (any::<Index>(), json_value()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        2 => any::<Index>().prop_map(JsonEdit::Remove),
        2 => (any::<Index>(), word(), json_value()).prop_map(|(i, k, v)| JsonEdit::AddMember(i, k, v)),
        1 => any::<Index>().prop_map(JsonEdit::Stringify),
    ];
    prop::collection::vec(edit, 1..4)
}

fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

fn apply_json(mut doc: Value, edits: &[JsonEdit]) -> Value {
    for e in edits {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let pick = |i: &Index| all[i.index(all.len())].clone();
        match e {
            JsonEdit::Replace(i, v) => {
                if let Some(slot) = doc.pointer_mut(&pick(i)) {
                    *slot = v.clone();
                }
            }
            JsonEdit::Remove(i) => {
                let p = pick(i);
                if let Some((parent, last)) = p.rsplit_once('/') {
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(m)) => {
                            m.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(n) = last.parse::<usize>() {
                                if n < a.len() {
                                    a.remove(n);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            JsonEdit::AddMember(i, k, v) => match doc.pointer_mut(&pick(i)) {
                Some(Value::Object(m)) => {
                    m.insert(k.clone(), v.clone());
                }
                Some(Value::Array(a)) => a.push(v.clone()),
                _ => {}
            },
            JsonEdit::Stringify(i) => {
                if let Some(slot) = doc.pointer_mut(&pick(i)) {
                    *slot = Value::String(slot.to_string());
                }
            }
        }
    }
    doc
}

// --- Seeds: valid inputs of every kind, made once ------------------------------------------------

struct Seeds {
    /// Private keys as people paste them.
    keys: Vec<String>,
    /// DER of the PEM keys (mutated below the base64).
    key_ders: Vec<(&'static str, Vec<u8>)>,
    /// A CA, an intermediate-less client certificate it issued, and a self-signed one.
    ca_pem: String,
    leaf_pem: String,
    chain_pem: String,
    /// A signed JWT and the key that verifies it.
    jwt: String,
    jwt_key: Value,
    /// Configuration documents.
    configs: Vec<Value>,
}

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://localhost:8443/oauth/v2/oauth-anonymous";
const TOKEN: &str = "https://localhost:8443/oauth/v2/oauth-token";
const REGISTRATION: &str = "https://localhost:8443/token-service/oauth-registration";
const AUTHORIZE: &str = "https://localhost:8443/oauth/v2/oauth-authorize";
const RSA_PEM: &str = include_str!("fixtures/test-only-rsa2048.pem");

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut rng = SeededEntropy::new(99);
        let p256 = PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap();
        let p384 = PrivateKey::generate_for(Alg::ES384, &mut rng).unwrap();
        let rsa = PrivateKey::parse(RSA_PEM).unwrap();
        let sec1 = {
            use p256::pkcs8::DecodePrivateKey as _;
            let secret = p256::SecretKey::from_pkcs8_der(&p256.to_pkcs8_der()).unwrap();
            secret.to_sec1_pem(p256::pkcs8::LineEnding::CRLF).unwrap().to_string()
        };
        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::pkcs8::DecodePrivateKey as _;
            rsa::RsaPrivateKey::from_pkcs8_der(&rsa.to_pkcs8_der()).unwrap().to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string()
        };
        let jwk = |k: &PrivateKey, kid: &str| {
            let mut v: Value = serde_json::from_str(k.to_private_jwk().expose()).unwrap();
            v["kid"] = kid.into();
            v["use"] = "sig".into();
            v["key_ops"] = json!(["sign"]);
            v
        };
        let set = json!({ "keys": [jwk(&p256, "a"), p384.public_jwk(), jwk(&rsa, "r")] });
        let keys = vec![
            p256.to_pkcs8_pem().expose().to_owned(),
            sec1.clone(),
            p384.to_pkcs8_pem().expose().to_owned(),
            RSA_PEM.to_owned(),
            pkcs1.clone(),
            jwk(&p256, "p").to_string(),
            jwk(&p384, "q").to_string(),
            jwk(&rsa, "r").to_string(),
            set.to_string(),
        ];
        let key_ders = vec![
            ("PRIVATE KEY", p256.to_pkcs8_der()),
            ("EC PRIVATE KEY", pem::parse_one(&sec1).unwrap().der),
            ("PRIVATE KEY", p384.to_pkcs8_der()),
            ("RSA PRIVATE KEY", pem::parse_one(&pkcs1).unwrap().der),
        ];
        let ca = x509::generate_ca("Fuzz CA", NOW - 3600, 86400 * 30, &mut rng).unwrap();
        let leaf = x509::issue_client_certificate(&ca, "haapi-android-client", NOW - 60, 86400, &mut rng).unwrap();
        let jwt = p256.sign_jwt(Alg::ES256, Some("k1"), Some("JWT"), &json!({ "sub": "fuzz", "iat": NOW, "exp": NOW + 60 }), &mut rng).unwrap();
        let mut configs = Vec::new();
        let base = Config::default().to_json();
        for credential in [
            json!({ "method": "private_key_jwt", "alg": "ES256" }),
            json!({ "method": "private_key_jwt", "alg": "ES384", "privateKey": jwk(&p384, "q").to_string(), "kid": "q" }),
            json!({ "method": "client_secret_basic", "secret": "Password1" }),
            json!({ "method": "client_secret_jwt", "secret": "a-shared-secret-of-enough-length-for-hs512-0123456789", "alg": "HS256" }),
            json!({ "method": "tls_client_auth", "certificate": format!("{}{}", ca.certificate_pem, leaf.certificate_pem), "privateKey": leaf.private_key_pem }),
            json!({ "method": "self_signed_tls_client_auth" }),
        ] {
            let mut c = base.clone();
            c["credential"] = credential;
            configs.push(c);
        }
        let mut c = base.clone();
        c["server"]["simulator"] = json!({ "exposeDetailedErrors": false, "paths": { "token": "/t" } });
        c["server"]["sendVia"] = json!("http://127.0.0.1:8787/proxy");
        c["stopAfter"] = json!("registration");
        configs.push(c);
        Seeds {
            keys,
            key_ders,
            chain_pem: format!("{}{}", leaf.certificate_pem, ca.certificate_pem),
            ca_pem: ca.certificate_pem,
            leaf_pem: leaf.certificate_pem,
            jwt,
            jwt_key: p256.public_jwk(),
            configs,
        }
    })
}

/// An output is bounded by its input: at most `factor` times as long, plus `fixed` bytes.
fn bounded(what: &str, output: usize, input: usize, factor: usize, fixed: usize) -> Result<(), TestCaseError> {
    prop_assert!(output <= input * factor + fixed, "{what}: {output} bytes out of {input} in");
    Ok(())
}

// --- Encodings ------------------------------------------------------------------------------------

#[test]
fn base64_round_trips_and_reads_only_canonical_text() {
    check("base64 round trip", 512, prop::collection::vec(any::<u8>(), 0..600), |bytes| {
        let url = base64::url_encode(&bytes);
        prop_assert!(!url.contains(['=', '+', '/']));
        prop_assert_eq!(base64::url_decode(&url).unwrap(), bytes.clone());
        prop_assert_eq!(base64::decode_standard(&base64::encode_standard(&bytes)).unwrap(), bytes);
        Ok(())
    });
    let text = prop_oneof!["[A-Za-z0-9_\\-=+/ \r\n]{0,200}", any::<String>().prop_map(|s| s.chars().take(200).collect())];
    check("base64 decode", 1024, text, |text| {
        if let Ok(bytes) = base64::url_decode(&text) {
            bounded("url_decode", bytes.len(), text.len(), 1, 0)?;
            // One value, one text: what decodes is exactly what encoding gives (padding aside).
            prop_assert_eq!(base64::url_encode(&bytes), text.trim_end_matches('='));
        }
        if let Ok(bytes) = base64::decode_standard(&text) {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let encoded = base64::encode_standard(&bytes);
            prop_assert_eq!(encoded.trim_end_matches('='), compact.trim_end_matches('='));
        }
        Ok(())
    });
}

#[test]
fn pem_reads_what_it_writes_and_anything_else_without_harm() {
    let label = "[A-Z0-9][A-Z0-9 ]{0,20}[A-Z0-9]";
    let block = (label, prop::collection::vec(any::<u8>(), 0..300));
    check("pem round trip", 256, (prop::collection::vec(block, 1..4), any::<bool>(), word()), |(blocks, crlf, around)| {
        let around = around.replace("-----", "");
        let mut text = String::new();
        for (label, der) in &blocks {
            text.push_str(&around);
            text.push('\n');
            text.push_str(&pem::encode(label, der));
        }
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let read = pem::parse_all(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(read.len(), blocks.len());
        for (got, (label, der)) in read.iter().zip(&blocks) {
            prop_assert_eq!((&got.label, &got.der), (label, der));
        }
        Ok(())
    });
    let s = seeds();
    let texts = prop_oneof![
        (select(s.keys.clone()), edits()).prop_map(|(t, e)| mutated_text(&t, &e)),
        edits().prop_map(|e| mutated_text(&s.chain_pem, &e)),
        "(-----(BEGIN|END) [A-Z ]{0,12}-----|[A-Za-z0-9+/=:]{0,70}|\r?\n){0,12}",
    ];
    check("pem parse", 1024, texts, |text| {
        if let Ok(blocks) = pem::parse_all(&text) {
            bounded("pem blocks", blocks.iter().map(|b| b.der.len() + b.label.len()).sum(), text.len(), 1, 0)?;
        }
        let _ = pem::parse_one(&text);
        Ok(())
    });
}

/// Reads every element, descending into constructed ones; returns how many were read.
fn walk(bytes: &[u8], depth: usize) -> Result<usize, TestCaseError> {
    let mut r = der::Reader::new(bytes);
    let mut count = 0;
    while !r.is_empty() {
        let Ok(t) = r.read() else { break };
        count += 1;
        prop_assert!(count <= bytes.len() / 2, "more elements than the data can hold");
        let inside = bytes.as_ptr_range();
        prop_assert!(t.value.is_empty() || (inside.contains(&t.value.as_ptr()) && t.value.len() <= bytes.len()));
        if t.tag & 0x20 != 0 && depth < 64 {
            count += walk(t.value, depth + 1)?;
        }
        if t.tag == der::OID {
            let _ = der::oid_string(t.value);
        }
    }
    Ok(count)
}

fn oid_bytes(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |mut n: u64| {
        let mut groups = vec![(n & 0x7f) as u8];
        n >>= 7;
        while n > 0 {
            groups.push((n & 0x7f) as u8 | 0x80);
            n >>= 7;
        }
        out.extend(groups.iter().rev());
    };
    push(arcs[0] * 40 + arcs[1]);
    arcs[2..].iter().for_each(|&a| push(a));
    out
}

#[test]
fn der_reads_within_its_input_and_round_trips() {
    let s = seeds();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (select(s.key_ders.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>()), edits()).prop_map(|(d, e)| apply(d, &e)),
    ];
    check("der reader", 1024, bytes, |bytes| {
        walk(&bytes, 0)?;
        let _ = der::single(&bytes, der::SEQUENCE, "a sequence");
        let _ = der::oid_string(&bytes);
        Ok(())
    });
    let arcs = (0u64..3, 0u64..40, prop::collection::vec(any::<u64>().prop_map(|a| a >> 2), 0..8));
    check("der round trip", 512, (arcs, 0u8..0x1f, prop::collection::vec(any::<u8>(), 0..400)), |((a, b, rest), tag, content)| {
        let arcs: Vec<u64> = [a, b].into_iter().chain(rest).collect();
        let dotted = arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
        prop_assert_eq!(der::oid_string(&oid_bytes(&arcs)).unwrap(), dotted);
        prop_assert_eq!(der::single(&der::encode(tag, &content), tag, "it").unwrap(), content);
        Ok(())
    });
}

#[test]
fn urls_parse_strictly_print_what_they_parse_and_resolve_within_their_origin() {
    let part = "[a-zA-Z0-9._~%!$&'()*+,;=:@/?#\\[\\]\\\\ -]{0,16}";
    let url_text = prop_oneof![
        (select(vec!["http://", "https://", "HTTPS://", "ftp://", "", "//", "http:/"]), "[a-zA-Z0-9.\\-_\\[\\]:@%]{0,20}", part, part)
            .prop_map(|(s, h, p, q)| format!("{s}{h}{p}{q}")),
        (select(WORDS.to_vec()), edits()).prop_map(|(w, e)| mutated_text(w, &e)),
        edits().prop_map(|e| mutated_text("https://Curity.Example:8443/oauth/v2/../token/./x?a=b&c#frag", &e)),
        any::<String>().prop_map(|s| s.chars().take(64).collect()),
    ];
    check("url parse", 2048, url_text.clone(), |text| {
        if let Ok(url) = Url::parse(&text) {
            let printed = url.to_string();
            bounded("url", printed.len(), text.len(), 1, 1)?;
            prop_assert_eq!(Url::parse(&printed), Ok(url.clone()), "{} printed as {}", text, printed);
            prop_assert!(printed.starts_with(&url.origin()));
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert_eq!(Url::parse(&url.without_query()).map(|u| u.origin()), Ok(url.origin()));
            let _ = url.query_pairs();
        }
        Ok(())
    });
    let reference = prop_oneof![
        part.prop_map(|p| p.to_owned()),
        (select(vec!["/", "?", "#", "../", "./", "//", "https:", "http:", "javascript:", "a:", ""]), part).prop_map(|(a, b)| format!("{a}{b}")),
        url_text,
    ];
    check("url join", 2048, reference, |reference| {
        let base = Url::parse("https://as.example:8443/dev/authn/authenticate?x=1#f").unwrap();
        if let Ok(joined) = base.join(&reference) {
            prop_assert_eq!(Url::parse(&joined.to_string()), Ok(joined.clone()));
            // A reference without a scheme or an authority never leaves the base's origin.
            let absolute = reference.starts_with("//") || reference.split(['/', '?', '#']).next().is_some_and(|first| first.contains(':'));
            if !absolute {
                prop_assert_eq!(joined.origin(), base.origin(), "{} left the origin", reference);
            }
        }
        Ok(())
    });
}

// --- Keys, certificates, tokens -------------------------------------------------------------------

/// Mutated key text: the text itself, the DER under the base64, or the JSON members of a JWK.
fn key_texts() -> impl Strategy<Value = String> {
    let s = seeds();
    let jwks: Vec<Value> = s.keys.iter().filter_map(|k| serde_json::from_str(k).ok()).collect();
    prop_oneof![
        2 => (select(s.keys.clone()), edits()).prop_map(|(t, e)| mutated_text(&t, &e)),
        2 => (select(s.key_ders.clone()), edits()).prop_map(|((label, der), e)| pem::encode(label, &apply(der, &e))),
        2 => (select(jwks), json_edits()).prop_map(|(j, e)| apply_json(j, &e).to_string()),
        1 => "[ -~\r\n]{0,300}",
    ]
}

#[test]
fn keys_import_or_refuse_and_what_imports_signs_verifiably() {
    check("key import", 768, key_texts(), |text| {
        let read = read_private_key(&text, None);
        let with_kid = read_private_key(&text, Some("a"));
        let p256 = P256Key::parse(&text);
        let key = PrivateKey::parse(&text);
        for e in [read.as_ref().err(), with_kid.as_ref().err(), p256.as_ref().err(), key.as_ref().err()].into_iter().flatten() {
            let message = e.to_string();
            prop_assert!(!message.is_empty());
            bounded("error message", message.len(), text.len(), 10, 1024)?;
        }
        if let Ok(key) = &key {
            // Whatever imports is a consistent key: it signs, and its public JWK verifies that.
            prop_assert_eq!(Some(key.family()), read.as_ref().ok().map(|r| r.family));
            let alg = key.family().default_alg();
            let token = key.sign_jwt(alg, None, None, &json!({ "sub": "x" }), &mut SeededEntropy::new(1)).unwrap();
            let verify = VerifyKey::from_jwk(&key.public_jwk()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(verify_jws(&token, &verify, &[alg]).is_ok(), "an imported key signs what its own public key does not verify");
            prop_assert!(jose::thumbprint(&key.public_jwk()).is_ok());
        }
        if let Ok(p) = &p256 {
            prop_assert_eq!(key.as_ref().map(|k| k.public_jwk()).ok(), Some(p.public_jwk().clone()));
        }
        Ok(())
    });
}

/// A certificate chain, mutated as text or as DER under the base64.
fn chain_texts() -> impl Strategy<Value = String> {
    let s = seeds();
    let ders: Vec<Vec<u8>> = pem::parse_all(&s.chain_pem).unwrap().into_iter().map(|b| b.der).collect();
    prop_oneof![
        edits().prop_map(|e| mutated_text(&seeds().chain_pem, &e)),
        (select(ders), edits(), any::<bool>()).prop_map(|(der, e, ca_first)| {
            let leaf = pem::encode("CERTIFICATE", &apply(der, &e));
            if ca_first {
                format!("{}{leaf}", seeds().ca_pem)
            } else {
                format!("{leaf}{}", seeds().ca_pem)
            }
        }),
        "[ -~\r\n]{0,200}",
    ]
}

#[test]
fn certificate_chains_parse_or_refuse_and_only_the_real_leaf_is_trusted() {
    let s = seeds();
    let leaf = x509::describe(&s.leaf_pem).unwrap();
    let ca = x509::describe(&s.ca_pem).unwrap();
    check("certificate chain", 512, chain_texts(), |text| {
        if let Ok(certs) = x509::parse_pem_chain(&text) {
            prop_assert!(!certs.is_empty() && certs.len() <= text.matches("-----BEGIN ").count());
            let ordered = x509::path_order(certs.clone());
            prop_assert_eq!(ordered.len(), certs.len());
            prop_assert!(certs.iter().all(|c| ordered.contains(c)), "path_order lost a certificate");
        }
        let _ = (x509::describe(&text), x509::spki_sha256_pin(&text), x509::pem_chain_in_path_order(&text));
        match x509::verify_client_chain(&text, &[x509::TrustAnchor::Ca(&s.ca_pem)], NOW) {
            // The client certificate, or the trusted CA's own certificate (trusted directly, as
            // a TLS stack trusts an anchor presented as the leaf): nothing else.
            Ok(info) => prop_assert!(
                [&leaf, &ca].iter().any(|c| (&c.subject, &c.spki_sha256) == (&info.subject, &info.spki_sha256)),
                "a changed chain was trusted: {:?}",
                info
            ),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = x509::verify_client_chain(&text, &[x509::TrustAnchor::PinnedSpki(&leaf.spki_sha256)], NOW);
        Ok(())
    });
}

/// A JWT as tolerantly decoded as anything here decodes it: its header, claims and signature bytes.
fn meaning(token: &str) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut parts = token.split('.');
    let mut next = || parts.next().and_then(|p| base64::url_decode(p).ok());
    Some((next()?, next()?, next()?))
}

#[test]
fn jwts_decode_or_refuse_and_a_changed_token_never_verifies() {
    let s = seeds();
    let part = prop_oneof![
        "[A-Za-z0-9_\\-]{0,40}",
        json_value().prop_map(|v| jose::b64url(v.to_string().as_bytes())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| jose::b64url(&b))
    ];
    let tokens = prop_oneof![
        edits().prop_map(|e| mutated_text(&seeds().jwt, &e)),
        (part.clone(), part.clone(), part).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (json_value(), json_edits()).prop_map(|(claims, e)| {
            let token = seeds().jwt.clone();
            let mut parts = token.splitn(3, '.');
            let header = parts.next().unwrap_or("").to_owned();
            let _ = parts.next();
            format!("{header}.{}.{}", jose::b64url(apply_json(claims, &e).to_string().as_bytes()), parts.next().unwrap_or(""))
        }),
        "[ -~]{0,100}",
    ];
    let key = VerifyKey::from_jwk(&s.jwt_key).unwrap();
    let original = meaning(&s.jwt).unwrap();
    check("jwt decode", 1024, tokens, |token| {
        if let Ok(jwt) = jose::decode_unverified(&token) {
            bounded("jwt", jwt.header.len() + jwt.claims.len() + jwt.signature.len(), token.len(), 1, 0)?;
            prop_assert!(jose::looks_like_jwt(&token) || !token.starts_with("eyJ"));
        }
        prop_assert!(jose::redact_signature(&token).ends_with("[redacted]"));
        let _ = jose::signing_input_of(&token);
        if verify_jws(&token, &key, &[Alg::ES256]).is_ok() {
            prop_assert_eq!(meaning(&token), Some(original.clone()), "{} verified", token);
        }
        Ok(())
    });
}

// --- The configuration document -------------------------------------------------------------------

#[test]
fn the_configuration_parser_reports_problems_and_round_trips_what_it_accepts() {
    let s = seeds();
    let docs = prop_oneof![
        4 => (select(s.configs.clone()), json_edits()).prop_map(|(c, e)| apply_json(c, &e).to_string()),
        2 => (select(s.configs.clone()), edits()).prop_map(|(c, e)| mutated_text(&c.to_string(), &e)),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => "[ -~]{0,200}",
    ];
    check("configuration", 768, docs, |text| {
        match Config::from_json(&text) {
            Ok(config) => {
                let again = Config::from_value(&config.to_json()).map_err(|p| TestCaseError::fail(format!("its own JSON is refused: {p:?}")))?;
                prop_assert_eq!(again.to_json(), config.to_json());
                let _ = config.ignored_fields();
                if let Some(overrides) = &config.server.simulator {
                    let _ = haapi_lab::lab::check_simulator_overrides(overrides);
                }
                // The lab prepares what it needs (no RSA generation: too slow for this many cases).
                let generates_rsa = config.credential.private_key.is_none() && config.assertion_alg().is_some_and(|a| a.family() == jose::KeyFamily::Rsa);
                if !generates_rsa {
                    if let Ok(mut lab) = haapi_lab::lab::SimLab::new(&config, 3, Timestamp::from_secs(NOW)) {
                        let _ = lab.run(&config, Timestamp::from_secs(NOW));
                    }
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    // (An unknown member named "" has the path "": noted, config.rs is not ours.)
                    prop_assert!(!p.message.is_empty() && (!p.path.is_empty() || text.contains("\"\"")), "{:?}", p);
                }
                let size: usize = problems.iter().map(|p| p.path.len() + p.message.len()).sum();
                bounded("problems", size, text.len(), 12, 16 * 1024)?;
            }
        }
        Ok(())
    });
}

// --- The simulated server -------------------------------------------------------------------------

fn main_key() -> PrivateKey {
    PrivateKey::generate_for(Alg::ES256, &mut SeededEntropy::new(1)).unwrap()
}

fn settings() -> SimSettings {
    let mut jwk = main_key().public_jwk();
    jwk["kid"] = json!("k1");
    let mut s = SimSettings::default();
    s.main_client.authentication = ClientAuthentication::PrivateKeyJwt { jwks: vec![jwk], public_keys_pem: vec![] };
    s
}

fn sim() -> Simulator {
    Simulator::new(settings(), 42)
}

fn form_request(url: &str, params: &[(&str, &str)]) -> HttpRequest {
    HttpRequest::form(url, params)
}

/// A whole fallback against the simulator, every request and its answer, in order.
fn recorded() -> &'static Vec<(HttpRequest, HttpResponse)> {
    static RECORDED: OnceLock<Vec<(HttpRequest, HttpResponse)>> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let mut sim = sim();
        let now = Timestamp::from_secs(NOW);
        let mut log = Vec::new();
        let mut send = |r: HttpRequest, log: &mut Vec<(HttpRequest, HttpResponse)>| {
            let response = sim.handle(&r, now);
            log.push((r, response.clone()));
            response
        };
        let ok = |response: HttpResponse| {
            assert!(response.status < 300, "{response:?}");
            serde_json::from_str::<Value>(&response.body).unwrap_or(Value::Null)
        };
        ok(send(HttpRequest::new("GET", format!("{ISSUER}/.well-known/openid-configuration")), &mut log));
        let claims = json!({ "iss": "haapi-android-client", "sub": "haapi-android-client", "aud": TOKEN, "jti": "jti-1", "iat": NOW, "exp": NOW + 60 });
        let assertion = main_key().sign_jwt(Alg::ES256, Some("k1"), None, &claims, &mut SeededEntropy::new(7)).unwrap();
        let f1 = form_request(
            TOKEN,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "dcr"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
            ],
        );
        let dcr = ok(send(f1, &mut log))["access_token"].as_str().unwrap().to_owned();
        let mut f2 = HttpRequest::new("POST", REGISTRATION);
        f2.headers.set("authorization", format!("Bearer {dcr}"));
        f2.headers.set("content-type", "application/json");
        f2.body = Some(r#"{"software_id":"haapi-template-client"}"#.into());
        let client = ok(send(f2, &mut log));
        let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        let dpop = P256Key::generate(&mut SeededEntropy::new(5));
        let proof = |htm: &str, htu: &str, jti: &str, token: Option<&str>, nonce: Option<&str>| {
            use sha2::Digest as _;
            let mut c = json!({ "jti": jti, "htm": htm, "htu": htu, "iat": NOW });
            if let Some(t) = token {
                c["ath"] = jose::b64url(&sha2::Sha256::digest(t.as_bytes())).into();
            }
            if let Some(n) = nonce {
                c["nonce"] = n.into();
            }
            let input = jose::signing_input(&json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": dpop.public_jwk() }), &c);
            jose::compact(&input, &dpop.sign(input.as_bytes()))
        };
        // With DPoP: once, and again with the server's nonce if it asks for one (RFC 9449 §8).
        let mut with_dpop = |request: &dyn Fn(String) -> HttpRequest, htm: &str, htu: &str, token: Option<&str>, log: &mut Vec<_>| {
            let first = send(request(proof(htm, htu, &format!("{htm}-1"), token, None)), log);
            match first.header("dpop-nonce").map(str::to_owned) {
                Some(nonce) if first.status >= 400 => ok(send(request(proof(htm, htu, &format!("{htm}-2"), token, Some(&nonce))), log)),
                _ => ok(first),
            }
        };
        let f4 = |proof: String| {
            let mut r = form_request(TOKEN, &[("grant_type", "client_credentials"), ("scope", "urn:se:curity:scopes:haapi")]);
            r.headers.set("authorization", haapi_lab::client::client_auth::basic_authorization(id, secret));
            r.headers.set("dpop", proof);
            r
        };
        let token = with_dpop(&f4, "POST", TOKEN, None, &mut log)["access_token"].as_str().unwrap().to_owned();
        let url = format!("{AUTHORIZE}?client_id={id}&response_type=code&redirect_uri=app%3A%2F%2Fhaapi&scope=openid&state=s1");
        let authorize = |proof: String| {
            let mut r = HttpRequest::new("GET", url.clone());
            r.headers.set("accept", "application/vnd.auth+json");
            r.headers.set("authorization", format!("DPoP {token}"));
            r.headers.set("dpop", proof);
            r
        };
        with_dpop(&authorize, "GET", AUTHORIZE, Some(&token), &mut log);
        log
    })
}

/// Every answer is a well-formed HTTP response, bounded by the request, with safe header values.
fn well_formed(request: &HttpRequest, response: &HttpResponse) -> Result<(), TestCaseError> {
    prop_assert!((200..=599).contains(&response.status), "status {}", response.status);
    let size = request.url.len() + request.body.as_deref().map_or(0, str::len) + request.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
    bounded("response body", response.body.len(), size, 8, 64 * 1024)?;
    for (name, value) in response.headers.iter() {
        prop_assert!(!value.contains(['\r', '\n', '\0']), "header {} carries a line break: {:?}", name, value);
    }
    if response.status >= 400 {
        let body: Value = serde_json::from_str(&response.body).map_err(|e| TestCaseError::fail(format!("error body is not JSON ({e}): {response:?}")))?;
        prop_assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "no error code: {:?}", response);
    }
    Ok(())
}

fn arbitrary_requests() -> impl Strategy<Value = HttpRequest> {
    let recorded_values: Vec<String> = recorded().iter().flat_map(|(r, _)| r.headers.iter().map(|(_, v)| v.to_owned()).collect::<Vec<_>>()).collect();
    let method = prop_oneof![select(vec!["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "get", ""]).prop_map(str::to_owned), "[ -~]{0,8}"];
    let url = prop_oneof![
        select(vec![
            TOKEN.to_owned(),
            REGISTRATION.to_owned(),
            AUTHORIZE.to_owned(),
            format!("{ISSUER}/.well-known/openid-configuration"),
            format!("{ISSUER}/jwks"),
            format!("{TOKEN}/cat"),
            "/oauth/v2/oauth-token".to_owned(),
            "/oauth/v2/../v2/oauth-token".to_owned(),
            "*".to_owned(),
            String::new(),
        ]),
        (select(vec![AUTHORIZE, TOKEN]), "[ -~]{0,40}").prop_map(|(u, q)| format!("{u}?{q}")),
        word(),
    ];
    let value = prop_oneof![
        word(),
        select(recorded_values.clone()),
        (select(recorded_values), edits()).prop_map(|(v, e)| mutated_text(&v, &e)),
        select(vec![
            "Basic ",
            "Bearer ",
            "DPoP ",
            "DPoP a.b.c",
            "Basic Og==",
            "Basic !!!",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "application/json"
        ])
        .prop_map(str::to_owned),
    ];
    let name = prop_oneof![
        select(vec!["authorization", "dpop", "content-type", "accept", "session-id", "Authorization", "DPoP", "x-forwarded-host", "host"])
            .prop_map(str::to_owned),
        "[a-zA-Z\\-]{0,12}"
    ];
    let param = select(vec![
        "grant_type",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "software_id",
        "state",
    ]);
    let form = prop::collection::vec((param, word()), 0..6).prop_map(|p| haapi_lab::proto::http::encode_form(p.iter().map(|(k, v)| (*k, v.as_str()))));
    let body = prop_oneof![Just(None), form.prop_map(Some), json_value().prop_map(|v| Some(v.to_string())), "[ -~]{0,100}".prop_map(Some)];
    let certificate = prop_oneof![3 => Just(None), 1 => chain_texts().prop_map(Some)];
    (method, url, prop::collection::vec((name, value), 0..6), body, certificate).prop_map(|(method, url, headers, body, certificate)| {
        let mut r = HttpRequest::new(&method, url);
        for (n, v) in headers {
            r.headers.set(&n, v);
        }
        r.body = body;
        r.client_certificate = certificate;
        r
    })
}

#[test]
fn the_simulator_answers_any_request_with_a_well_formed_response() {
    check("simulator, arbitrary requests", 512, arbitrary_requests(), |request| {
        let response = sim().handle(&request, Timestamp::from_secs(NOW));
        well_formed(&request, &response)?;
        // And the same request as JSON, as the simulator module receives it.
        let again = HttpRequest::from_json(&request.to_json()).map_err(TestCaseError::fail)?;
        let sorted = |r: &HttpRequest| {
            let mut h: Vec<(String, String)> = r.headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
            h.sort();
            (r.method.clone(), r.url.clone(), r.server_url.clone(), h, r.body.clone(), r.client_certificate.clone())
        };
        prop_assert_eq!(sorted(&again), sorted(&request));
        Ok(())
    });
    check("http values from JSON", 512, json_value(), |v| {
        let _ = (HttpRequest::from_json(&v), HttpResponse::from_json(&v), haapi_lab::proto::http::Headers::from_json(&v));
        if let Some(text) = v.as_str() {
            let _ = haapi_lab::proto::http::challenge_param(text, "error");
        }
        Ok(())
    });
}

/// Which part of a recorded request to change.
#[derive(Clone, Debug)]
enum Part {
    Method(String),
    Url(Vec<Edit>),
    Header(Index, Vec<Edit>),
    Body(Vec<Edit>),
    /// A form parameter's value (the client assertion, the grant type, …).
    Param(Index, Vec<Edit>),
}

#[test]
fn the_simulator_accepts_a_changed_request_only_if_it_means_the_same() {
    let parts = prop_oneof![
        1 => select(vec!["GET", "POST", "PUT", "post"]).prop_map(|m| Part::Method(m.to_owned())),
        2 => edits().prop_map(Part::Url),
        3 => (any::<Index>(), edits()).prop_map(|(i, e)| Part::Header(i, e)),
        2 => edits().prop_map(Part::Body),
        3 => (any::<Index>(), edits()).prop_map(|(i, e)| Part::Param(i, e)),
    ];
    let steps = recorded().len();
    check("simulator, changed requests", 384, (0..steps, parts), |(step, part)| {
        let log = recorded();
        let now = Timestamp::from_secs(NOW);
        let mut sim = sim();
        // Under a fixed clock and seed the simulator repeats itself, so the tokens recorded are
        // valid again here.
        for (request, response) in &log[..step] {
            prop_assert_eq!(&sim.handle(request, now), response, "the simulator did not repeat itself");
        }
        let (original, answer) = &log[step];
        let mut changed = original.clone();
        // The credential a change touched, if any: it must mean the same to be accepted.
        let mut credential: Option<(String, String)> = None;
        match &part {
            Part::Method(m) => changed.method = m.clone(),
            Part::Url(e) => changed.url = mutated_text(&original.url, e),
            Part::Header(i, e) => {
                let headers: Vec<(String, String)> = original.headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
                if !headers.is_empty() {
                    let (name, value) = &headers[i.index(headers.len())];
                    let new = mutated_text(value, e);
                    if matches!(name.as_str(), "dpop" | "authorization") {
                        credential = Some((value.clone(), new.clone()));
                    }
                    changed.headers.set(name, new);
                }
            }
            Part::Body(e) => changed.body = original.body.as_deref().map(|b| mutated_text(b, e)),
            Part::Param(i, e) => {
                let params = original.form_params();
                if !params.is_empty() {
                    let (name, value) = &params[i.index(params.len())];
                    let new = mutated_text(value, e);
                    if name == "client_assertion" {
                        credential = Some((value.clone(), new.clone()));
                    }
                    changed.set_form_param(name, &new);
                }
            }
        }
        let response = sim.handle(&changed, now);
        well_formed(&changed, &response)?;
        if changed == *original {
            prop_assert_eq!(&response, answer);
        }
        if let (Some((before, after)), true) = (credential, response.status < 300) {
            // Accepted with a changed credential: only if the change is invisible to its reader
            // (a JWS with the same header, claims and signature; Basic credentials that decode to
            // the same bytes), or a change of the scheme's spelling or of spacing.
            let strip = |v: &str| v.trim().split_once([' ', '\t']).map(|(scheme, rest)| (scheme.to_ascii_lowercase(), rest.trim().to_owned()));
            let same_jws = meaning(&before).is_some() && meaning(&before) == meaning(&after);
            let same = match (strip(&before), strip(&after)) {
                (Some((a, x)), Some((b, y))) if a == b => {
                    x == y
                        || (meaning(&x).is_some() && meaning(&x) == meaning(&y))
                        || (a == "basic" && base64::decode_standard(&x).ok() == base64::decode_standard(&y).ok())
                }
                _ => false,
            };
            prop_assert!(same || same_jws, "step {}: a changed credential was accepted: {:?} -> {:?}", step, before, after);
        }
        Ok(())
    });
}

// --- Regressions: what these properties found, kept as plain tests --------------------------------

/// An RSA JWK of `key`'s numbers (n, e, d, p, q).
fn rsa_jwk(key: &rsa::RsaPrivateKey) -> String {
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    let b = |n: &rsa::BigUint| jose::b64url(&n.to_bytes_be());
    json!({ "kty": "RSA", "n": b(key.n()), "e": b(key.e()), "d": b(key.d()), "p": b(&key.primes()[0]), "q": b(&key.primes()[1]) }).to_string()
}

#[test]
fn regression_an_rsa_key_whose_primes_are_not_prime_is_refused_not_a_panic() {
    // `RsaPrivateKey::validate` checks n = p·q and d·e ≡ 1 (mod p−1, q−1), not that p and q are
    // prime; signing with such a key panicked inside `sign_with_rng` (a hostile key text crashed
    // the tools module). Now it is refused on import, and signing never panics.
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    let odd = |fill: u8| rsa::BigUint::from_bytes_be(&[fill; 64]) | rsa::BigUint::from(1u8);
    let (mut a, b) = (odd(0xf3), odd(0xe5));
    let key = loop {
        // p and q, each a product of two 512-bit numbers: 2048 bits, certainly not prime.
        if let Ok(k) = rsa::RsaPrivateKey::from_p_q(&a * &b, &b * &odd(0xd7) + rsa::BigUint::from(2u8), rsa::BigUint::from(65537u32)) {
            break k;
        }
        a += rsa::BigUint::from(2u8);
    };
    assert!(key.validate().is_ok(), "the rsa crate accepts it");
    let der = key.to_pkcs1_der().unwrap();
    for text in [rsa_jwk(&key), pem::encode("RSA PRIVATE KEY", der.as_bytes())] {
        let e = PrivateKey::parse(&text).expect_err("a key that cannot sign").to_string();
        assert!(e.contains("inconsistent") && e.contains("prime"), "{e}");
    }
}

#[test]
fn regression_an_rsa_key_larger_than_8192_bits_is_refused_before_any_arithmetic() {
    // A 64 KiB modulus (from a link) made import and signing take minutes.
    let huge = jose::b64url(&[0xff; 64 * 1024]);
    let jwk = json!({ "kty": "RSA", "n": huge, "e": "AQAB", "d": huge }).to_string();
    let e = PrivateKey::parse(&jwk).unwrap_err().to_string();
    assert!(e.contains("524288-bit") && e.contains("at most 8192 bits"), "{e}");
    // A d longer than n is not an RSA key (and would cost as much).
    let jwk = json!({ "kty": "RSA", "n": jose::b64url(&[0xff; 256]), "e": "AQAB", "d": huge }).to_string();
    assert!(PrivateKey::parse(&jwk).unwrap_err().to_string().contains("longer than its modulus"));
    // The same in PKCS#1 DER, checked before the rsa crate does its arithmetic.
    let int = |bytes: &[u8]| der::encode(der::INTEGER, &[&[0u8][..], bytes].concat());
    let body: Vec<u8> = [der::encode(der::INTEGER, &[0]), int(&[0xff; 2048]), der::encode(der::INTEGER, &[1, 0, 1]), int(&[0xff; 2048])]
        .into_iter()
        .chain((0..5).map(|_| int(&[0xff; 1024])))
        .flatten()
        .collect();
    let e = PrivateKey::parse(&pem::encode("RSA PRIVATE KEY", &der::encode(der::SEQUENCE, &body))).unwrap_err().to_string();
    assert!(e.contains("16384-bit"), "{e}");
}

#[test]
fn regression_a_chain_pasted_ca_first_is_verified_from_its_leaf() {
    // The simulator took the first certificate as the leaf: a chain pasted CA first was accepted
    // with the CA itself as the "client certificate" (and the lab found no CA to trust).
    let s = seeds();
    for chain in [format!("{}{}", s.ca_pem, s.leaf_pem), format!("{}{}", s.leaf_pem, s.ca_pem)] {
        let info = x509::verify_client_chain(&chain, &[x509::TrustAnchor::Ca(&s.ca_pem)], NOW).unwrap();
        assert_eq!((info.subject.as_str(), info.is_ca), ("CN=haapi-android-client", false));
        assert_eq!(x509::spki_sha256_pin(&chain).unwrap(), x509::spki_sha256_pin(&s.leaf_pem).unwrap());
        let path = x509::pem_chain_in_path_order(&chain).unwrap();
        assert_eq!(
            path,
            [pem::encode("CERTIFICATE", &pem::parse_one(&s.leaf_pem).unwrap().der), pem::encode("CERTIFICATE", &pem::parse_one(&s.ca_pem).unwrap().der)]
        );
    }
}
