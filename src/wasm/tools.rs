//! The tools module (`pkg/tools/`): RSA and P-384 keys (read, generate, sign), certificate
//! issuing and PKCS#12 export. The client module loads it on first use, when a configuration
//! needs one of them; the page imports it itself for a PKCS#12 download.

use super::{coded, js_error};
use crate::proto::entropy::OsEntropy;
use crate::proto::jose::keys::PrivateKey;
use crate::proto::jose::keytext::read_private_key;
use crate::proto::jose::Alg;
use serde_json::json;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

fn key_json(key: &PrivateKey, kid: Option<String>) -> String {
    json!({ "family": key.family().name(), "pkcs8Pem": key.to_pkcs8_pem().expose(), "publicJwk": key.public_jwk(), "publicKeyPem": key.public_key_pem(), "kid": kid })
        .to_string()
}

/// Reads a private key written by another tool (PEM, JWK, JWK Set; `kid` picks from a set):
/// `{ family, pkcs8Pem, publicJwk, publicKeyPem, kid }` as JSON text. Throws `CRYPTO_ERROR` saying why not.
#[wasm_bindgen(js_name = readPrivateKey)]
pub fn read_key(text: &str, kid: Option<String>) -> Result<String, JsValue> {
    let found = read_private_key(text, kid.as_deref()).map_err(coded("CRYPTO_ERROR"))?;
    let key = PrivateKey::from_key_text(&found).map_err(coded("CRYPTO_ERROR"))?;
    Ok(key_json(&key, found.kid))
}

/// A new key for `alg` (P-256, P-384 or 2048-bit RSA): `{ family, pkcs8Pem, publicJwk,
/// publicKeyPem, privateJwk }` as JSON text.
#[wasm_bindgen(js_name = makeKey)]
pub fn generate_key(alg: &str) -> Result<String, JsValue> {
    let alg = Alg::parse(alg).map_err(coded("INVALID_ARGUMENT"))?;
    let key = PrivateKey::generate_for(alg, &mut OsEntropy).map_err(coded("CRYPTO_ERROR"))?;
    let mut v: serde_json::Value = crate::proto::json::parse(&key_json(&key, None)).unwrap_or_default();
    v["privateJwk"] = key.to_private_jwk().expose().into();
    Ok(v.to_string())
}

thread_local! {
    // The last key used: parsing a PKCS#8 RSA key costs more than signing with it.
    static LAST: RefCell<Option<(String, PrivateKey)>> = const { RefCell::new(None) };
}

/// The JWS signature of `input` with the PKCS#8 key `pkcs8_pem` and `alg` (RS*, PS*, ES*).
#[wasm_bindgen(js_name = signWith)]
pub fn sign(alg: &str, pkcs8_pem: &str, input: &[u8]) -> Result<Vec<u8>, JsValue> {
    let alg = Alg::parse(alg).map_err(coded("INVALID_ARGUMENT"))?;
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.as_ref().is_none_or(|(pem, _)| pem != pkcs8_pem) {
            *last = Some((pkcs8_pem.to_owned(), PrivateKey::parse(pkcs8_pem).map_err(coded("CRYPTO_ERROR"))?));
        }
        let (_, key) = last.as_ref().expect("set above");
        key.sign(alg, input, &mut OsEntropy).map_err(coded("CRYPTO_ERROR"))
    })
}

/// A client certificate for a mutual-TLS method (`tls_client_auth`: issued by a new device CA;
/// `self_signed_tls_client_auth`: self-signed), valid from `now_secs`: `{ chainPem, keyPem,
/// deviceCaPem, deviceCaKeyPem, pin }` as JSON text.
#[wasm_bindgen(js_name = issueCertificates)]
pub fn issue_certificates(method: &str, client_id: &str, now_secs: f64) -> Result<String, JsValue> {
    let ca_issued = match method {
        "tls_client_auth" => true,
        "self_signed_tls_client_auth" => false,
        other => return Err(js_error("INVALID_ARGUMENT", &format!("{other:?} is not a mutual-TLS method"), None)),
    };
    let rng = &mut crate::proto::entropy::OsEntropy;
    let (leaf, ca) =
        crate::proto::x509::client_certificates(ca_issued, client_id, now_secs as u64, CERTIFICATE_VALIDITY_SECS, rng).map_err(coded("CRYPTO_ERROR"))?;
    let pin = crate::proto::x509::spki_sha256_pin(&leaf.certificate_pem).map_err(coded("CRYPTO_ERROR"))?;
    Ok(json!({
        "chainPem": leaf.certificate_pem,
        "keyPem": leaf.private_key_pem,
        "deviceCaPem": ca.as_ref().map(|c| c.certificate_pem.clone()),
        "deviceCaKeyPem": ca.as_ref().map(|c| c.private_key_pem.clone()),
        "pin": pin,
    })
    .to_string())
}

/// How long issued certificates are valid: a year.
const CERTIFICATE_VALIDITY_SECS: u64 = 365 * 24 * 3600;

/// A PKCS#12 file (`.p12`) holding the client certificate chain `chain_pem` (any order) and its
/// private key `key_pem`, protected by `password`, as OpenSSL 3 writes one (PBES2 with
/// PBKDF2-HMAC-SHA256 and AES-256-CBC, HMAC-SHA256 MAC; `x509::pkcs12_export`), for import into a
/// browser or the system. `friendly_name` is the name the browser shows. Throws
/// `INVALID_ARGUMENT` for an empty password, `CRYPTO_ERROR` (saying why) for a chain or key that
/// cannot be read or do not belong together.
#[wasm_bindgen(js_name = exportPkcs12)]
pub fn export_pkcs12(chain_pem: &str, key_pem: &str, password: &str, friendly_name: &str) -> Result<Vec<u8>, JsValue> {
    if password.is_empty() {
        return Err(js_error("INVALID_ARGUMENT", "a PKCS#12 file needs a password: browsers and macOS refuse to import one without", None));
    }
    crate::proto::x509::pkcs12_export(chain_pem, key_pem, password, friendly_name, &mut OsEntropy).map_err(coded("CRYPTO_ERROR"))
}
