//! Reading a private key that another tool wrote: `openssl`, npm `jose`, `step`, `mkjwk`,
//! Curity's JWKS tooling. What a person pastes is text; this module tells what it holds and,
//! when it cannot be used, says exactly why and what to do instead.
//!
//! | form | how it is recognised |
//! |---|---|
//! | PKCS#8 (`PRIVATE KEY`) | RFC 5958; the key's family from its AlgorithmIdentifier |
//! | SEC1 (`EC PRIVATE KEY`) | RFC 5915; the curve from its parameters |
//! | PKCS#1 (`RSA PRIVATE KEY`) | RFC 8017 Appendix A.1.2 |
//! | private JWK | RFC 7517/7518; any optional members (`kid`, `alg`, `use`, `key_ops`, `x5c`, …) |
//! | JWK Set | RFC 7517 §5; the key named by `kid`, or the only private key in it |
//!
//! Encrypted keys, public keys and certificates are recognised only to be refused clearly.

use super::KeyFamily;
use crate::proto::der::{self, DerError, Reader};
use crate::proto::pem;
use serde_json::Value;

/// Why a key could not be read or used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is neither a PEM key nor a JWK.
    #[error("not a private key this lab reads: {0}")]
    Unreadable(String),
    /// A JWK or JWK Set that is malformed or does not fit.
    #[error("unsupported or malformed JWK: {0}")]
    BadJwk(String),
    /// A public key, or a certificate, where a private key is needed.
    #[error("{0} holds only a public key; a private key is needed to sign (paste the private key, PEM or a JWK with \"d\")")]
    PublicOnly(String),
    /// An encrypted private key.
    #[error("the private key is encrypted; decrypt it first, for example: openssl pkcs8 -in encrypted.pem -out key.pem (it asks for the password)")]
    Encrypted,
    /// A key of a type or curve this lab does not sign with.
    #[error("{0}")]
    Unsupported(String),
    /// The key does not fit the algorithm.
    #[error("a {key} key cannot sign {alg}")]
    WrongAlg {
        /// The key's type.
        key: &'static str,
        /// The requested algorithm.
        alg: super::Alg,
    },
    /// Key generation, encoding or a consistency check failed.
    #[error("key operation failed: {0}")]
    Crypto(String),
}

/// The encoded private key, as found.
#[derive(Clone, PartialEq)]
pub enum KeySource {
    /// PKCS#8 `PrivateKeyInfo` DER.
    Pkcs8(Vec<u8>),
    /// SEC1 `ECPrivateKey` DER.
    Sec1(Vec<u8>),
    /// PKCS#1 `RSAPrivateKey` DER.
    Pkcs1(Vec<u8>),
    /// A private JWK (one key, taken out of a set if it came in one).
    Jwk(Value),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySource::Pkcs8(_) => "Pkcs8([redacted])",
            KeySource::Sec1(_) => "Sec1([redacted])",
            KeySource::Pkcs1(_) => "Pkcs1([redacted])",
            KeySource::Jwk(_) => "Jwk([redacted])",
        })
    }
}

/// A private key, identified.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyText {
    /// What kind of key it is.
    pub family: KeyFamily,
    /// The key itself.
    pub source: KeySource,
    /// The `kid` the key carries (a JWK's own), if any.
    pub kid: Option<String>,
    /// The `alg` a JWK says it is for, if any (RFC 7517 §4.4).
    pub jwk_alg: Option<String>,
}

impl KeyText {
    /// How the key was written, for messages: `PKCS#8`, `SEC1`, `PKCS#1`, `JWK`.
    pub fn form(&self) -> &'static str {
        match self.source {
            KeySource::Pkcs8(_) => "PKCS#8",
            KeySource::Sec1(_) => "SEC1",
            KeySource::Pkcs1(_) => "PKCS#1",
            KeySource::Jwk(_) => "JWK",
        }
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
pub(crate) const OID_EC: &str = "1.2.840.10045.2.1";
/// `secp256r1` (RFC 5480 §2.1.1.1).
pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// An EC key whose curve is spelled out (`openssl ecparam -param_enc explicit`) rather than named.
const EXPLICIT_CURVE: &str = "the EC key spells out its curve's parameters instead of naming the curve; \
write it with the named curve: openssl pkey -in key.pem -ec_param_enc named_curve -out named.pem";

fn curve_family(oid: &str) -> Result<KeyFamily, KeyError> {
    match oid {
        OID_P256 => Ok(KeyFamily::P256),
        OID_P384 => Ok(KeyFamily::P384),
        OID_P521 => Err(KeyError::Unsupported("a P-521 key (ES512) is not supported by this lab; use P-256 (ES256) or P-384 (ES384)".into())),
        other => Err(KeyError::Unsupported(format!("an EC key on curve {other} is not supported; use P-256 (ES256) or P-384 (ES384)"))),
    }
}

/// The parts of a PKCS#8 `PrivateKeyInfo` (RFC 5958 §2) this lab reads.
pub(crate) struct Pkcs8<'a> {
    /// The algorithm OID, dotted.
    pub algorithm: String,
    /// The algorithm's parameters when they are an OID (an EC key's curve).
    pub parameters: Option<String>,
    /// True when the parameters are a SEQUENCE: an EC key's curve spelled out (RFC 3279 §2.3.5).
    pub explicit_parameters: bool,
    /// The `privateKey` octets (for EC keys, a SEC1 `ECPrivateKey`).
    pub private_key: &'a [u8],
}

/// Reads a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn parse_pkcs8(der: &[u8]) -> Result<Pkcs8<'_>, DerError> {
    let mut top = Reader::new(der);
    let body = top.expect(der::SEQUENCE, "a PrivateKeyInfo SEQUENCE")?;
    if !top.is_empty() {
        return Err(DerError("data after the PrivateKeyInfo".into()));
    }
    let mut r = Reader::new(body);
    let version = r.expect(der::INTEGER, "the version")?;
    if version != [0] && version != [1] {
        return Err(DerError("an unknown PKCS#8 version".into()));
    }
    let mut alg = Reader::new(r.expect(der::SEQUENCE, "the AlgorithmIdentifier")?);
    let algorithm = der::oid_string(alg.expect(der::OID, "the algorithm OID")?)?;
    let (mut parameters, mut explicit_parameters) = (None, false);
    if !alg.is_empty() {
        let t = alg.read()?;
        match t.tag {
            der::OID => parameters = Some(der::oid_string(t.value)?),
            der::SEQUENCE => explicit_parameters = true,
            _ => {}
        }
    }
    let private_key = r.expect(der::OCTET_STRING, "the privateKey")?;
    Ok(Pkcs8 { algorithm, parameters, explicit_parameters, private_key })
}

/// The parts of a SEC1 `ECPrivateKey` (RFC 5915 §3).
pub(crate) struct Sec1<'a> {
    /// The private scalar.
    pub scalar: &'a [u8],
    /// The curve OID, when the key names it.
    pub curve: Option<String>,
    /// True when the key spells its curve out instead of naming it.
    pub explicit_curve: bool,
    /// The public point (uncompressed SEC1 encoding), when the key carries it.
    pub public: Option<&'a [u8]>,
}

/// Reads a SEC1 `ECPrivateKey`.
pub(crate) fn parse_sec1(der: &[u8]) -> Result<Sec1<'_>, DerError> {
    let mut top = Reader::new(der);
    let body = top.expect(der::SEQUENCE, "an ECPrivateKey SEQUENCE")?;
    if !top.is_empty() {
        return Err(DerError("data after the ECPrivateKey".into()));
    }
    let mut r = Reader::new(body);
    if r.expect(der::INTEGER, "the version")? != [1] {
        return Err(DerError("an ECPrivateKey has version 1".into()));
    }
    let scalar = r.expect(der::OCTET_STRING, "the private key octets")?;
    let (mut curve, mut public, mut explicit_curve) = (None, None, false);
    while !r.is_empty() {
        let t = r.read()?;
        match t.tag {
            0xa0 if t.value.first() == Some(&der::SEQUENCE) => explicit_curve = true,
            0xa0 => curve = Some(der::oid_string(Reader::new(t.value).expect(der::OID, "the curve OID")?)?),
            0xa1 => {
                let bits = Reader::new(t.value).expect(der::BIT_STRING, "the public key")?;
                match bits.split_first() {
                    Some((0, point)) => public = Some(point),
                    _ => return Err(DerError("a public key BIT STRING with unused bits".into())),
                }
            }
            other => return Err(DerError(format!("an unexpected element (tag {other:#04x}) in the ECPrivateKey"))),
        }
    }
    Ok(Sec1 { scalar, curve, explicit_curve, public })
}

fn pkcs8_family(der: &[u8]) -> Result<KeyFamily, KeyError> {
    let info = parse_pkcs8(der).map_err(|e| KeyError::Unreadable(format!("the PRIVATE KEY block is not PKCS#8 ({e})")))?;
    match info.algorithm.as_str() {
        OID_RSA => Ok(KeyFamily::Rsa),
        OID_EC if info.explicit_parameters => Err(KeyError::Unsupported(EXPLICIT_CURVE.into())),
        OID_EC => curve_family(info.parameters.as_deref().ok_or_else(|| KeyError::Unreadable("a PKCS#8 EC key without its curve".into()))?),
        OID_RSA_PSS => Err(KeyError::Unsupported("an RSA-PSS-only key (openssl genpkey -algorithm RSA-PSS) is not supported; make a plain RSA key (openssl genpkey -algorithm RSA) and sign PS256 with it".into())),
        "1.3.101.112" | "1.3.101.113" => Err(KeyError::Unsupported("an EdDSA key (Ed25519/Ed448) is not supported by this lab's algorithms (RS/PS/ES/HS); use an EC P-256 key for ES256".into())),
        other => Err(KeyError::Unsupported(format!("a PKCS#8 key of algorithm {other} is not supported; use RSA, EC P-256 or EC P-384"))),
    }
}

fn sec1_family(der: &[u8]) -> Result<KeyFamily, KeyError> {
    let key = parse_sec1(der).map_err(|e| KeyError::Unreadable(format!("the EC PRIVATE KEY block is not SEC1 ({e})")))?;
    if key.explicit_curve {
        return Err(KeyError::Unsupported(EXPLICIT_CURVE.into()));
    }
    let curve = key
        .curve
        .ok_or_else(|| KeyError::Unreadable("a SEC1 key that does not name its curve; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)".into()))?;
    curve_family(&curve)
}

/// Identifies the private key in `text`: PEM (PKCS#8, SEC1, PKCS#1), a private JWK, or a JWK
/// Set (the key whose `kid` is `kid`, or the only private key). Surrounding whitespace, CRLF line
/// ends and text around a PEM block are fine.
pub fn read_private_key(text: &str, kid: Option<&str>) -> Result<KeyText, KeyError> {
    let text = text.trim();
    if text.starts_with('{') {
        return read_jwk_text(text, kid);
    }
    if !text.contains("-----BEGIN ") {
        return Err(KeyError::Unreadable("expected a PEM block (-----BEGIN PRIVATE KEY-----, EC PRIVATE KEY or RSA PRIVATE KEY) or a JWK (JSON)".into()));
    }
    let blocks = pem::parse_all(text).map_err(|e| match e.0.contains("encrypted") {
        true => KeyError::Encrypted,
        false => KeyError::Unreadable(e.0),
    })?;
    let mut found = None;
    let mut public = None;
    for b in blocks {
        let (family, source) = match b.label.as_str() {
            "PRIVATE KEY" => (pkcs8_family(&b.der)?, KeySource::Pkcs8(b.der)),
            "EC PRIVATE KEY" => (sec1_family(&b.der)?, KeySource::Sec1(b.der)),
            "RSA PRIVATE KEY" => (KeyFamily::Rsa, KeySource::Pkcs1(b.der)),
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            "EC PARAMETERS" => continue, // openssl ecparam -genkey writes it before the key
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                public.get_or_insert(format!("a {} block", b.label));
                continue;
            }
            other => return Err(KeyError::Unreadable(format!("a {other} block is not a private key"))),
        };
        if found.is_some() {
            return Err(KeyError::Unreadable("more than one private key in the text; paste one".into()));
        }
        found = Some(KeyText { family, source, kid: None, jwk_alg: None });
    }
    match (found, public) {
        (Some(k), _) => Ok(k),
        (None, Some(what)) => Err(KeyError::PublicOnly(what)),
        (None, None) => Err(KeyError::Unreadable("no private key block found".into())),
    }
}

fn read_jwk_text(text: &str, kid: Option<&str>) -> Result<KeyText, KeyError> {
    let v: Value = crate::proto::json::parse(text).map_err(|e| KeyError::BadJwk(format!("not JSON: {e}")))?;
    let Some(keys) = v.get("keys") else { return read_jwk(v) };
    let keys = keys.as_array().ok_or_else(|| KeyError::BadJwk("a JWK Set's \"keys\" must be an array (RFC 7517 §5)".into()))?;
    let kid_of = |k: &Value| k.get("kid").and_then(Value::as_str).map(str::to_owned);
    if let Some(want) = kid {
        let k = keys.iter().find(|k| kid_of(k).as_deref() == Some(want)).ok_or_else(|| {
            let kids: Vec<String> = keys.iter().filter_map(kid_of).collect();
            KeyError::BadJwk(format!("the JWK Set has no key with kid {want:?} (it has {kids:?})"))
        })?;
        return read_jwk(k.clone());
    }
    let private: Vec<&Value> = keys.iter().filter(|k| k.get("d").is_some() || k.get("k").is_some()).collect();
    match private.as_slice() {
        [one] => read_jwk((*one).clone()),
        [] if !keys.is_empty() => Err(KeyError::PublicOnly("the JWK Set".into())),
        [] => Err(KeyError::BadJwk("the JWK Set is empty".into())),
        many => Err(KeyError::BadJwk(format!(
            "the JWK Set holds {} private keys: set credential.kid to pick one (kids: {:?})",
            many.len(),
            many.iter().filter_map(|k| kid_of(k)).collect::<Vec<_>>()
        ))),
    }
}

fn read_jwk(v: Value) -> Result<KeyText, KeyError> {
    let s = |name: &str| v.get(name).and_then(Value::as_str);
    if !v.is_object() {
        return Err(KeyError::BadJwk("a JWK is a JSON object".into()));
    }
    if let Some(u) = s("use").filter(|u| *u != "sig") {
        return Err(KeyError::BadJwk(format!("the JWK says \"use\": {u:?}; a key that signs client assertions has use \"sig\" (or none) (RFC 7517 §4.2)")));
    }
    if let Some(ops) = v.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o == "sign") {
            return Err(KeyError::BadJwk(format!("the JWK's key_ops {ops:?} do not include \"sign\" (RFC 7517 §4.3)")));
        }
    }
    let family = match (s("kty"), s("crv")) {
        (Some("EC"), Some("P-256")) => KeyFamily::P256,
        (Some("EC"), Some("P-384")) => KeyFamily::P384,
        (Some("EC"), Some("P-521")) => return Err(curve_family(OID_P521).unwrap_err()),
        (Some("EC"), Some(crv)) => {
            return Err(KeyError::Unsupported(format!("an EC JWK on curve {crv:?} is not supported; use P-256 (ES256) or P-384 (ES384)")))
        }
        (Some("EC"), None) => return Err(KeyError::BadJwk("an EC JWK without \"crv\"".into())),
        (Some("RSA"), _) => KeyFamily::Rsa,
        (Some("oct"), _) => {
            return Err(KeyError::Unsupported("a symmetric (oct) JWK is a shared secret: use client_secret_jwt with credential.secret instead".into()))
        }
        (Some("OKP"), _) => {
            return Err(KeyError::Unsupported("an OKP (EdDSA) JWK is not supported by this lab's algorithms; use an EC P-256 key for ES256".into()))
        }
        (Some(kty), _) => return Err(KeyError::Unsupported(format!("kty {kty:?} is not supported; use EC or RSA"))),
        (None, _) => return Err(KeyError::BadJwk("no \"kty\" member (RFC 7517 §4.1)".into())),
    };
    if s("d").is_none() {
        return Err(KeyError::PublicOnly("this JWK (it has no \"d\")".into()));
    }
    let kid = s("kid").map(str::to_owned);
    let jwk_alg = s("alg").map(str::to_owned);
    Ok(KeyText { family, source: KeySource::Jwk(v), kid, jwk_alg })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_with_optional_members_and_sets() {
        let p256 = json!({"kty":"EC","crv":"P-256","x":"x","y":"y","d":"d","kid":"k1","alg":"ES256","use":"sig","key_ops":["sign"],"x5t#S256":"t","ext":true});
        let k = read_private_key(&p256.to_string(), None).unwrap();
        assert_eq!((k.family, k.kid.as_deref(), k.jwk_alg.as_deref(), k.form()), (KeyFamily::P256, Some("k1"), Some("ES256"), "JWK"));
        let rsa = json!({"kty":"RSA","n":"n","e":"AQAB","d":"d","kid":"r1"});
        let set = json!({"keys":[p256, rsa]}).to_string();
        assert!(matches!(read_private_key(&set, None), Err(KeyError::BadJwk(m)) if m.contains("credential.kid")));
        assert_eq!(read_private_key(&set, Some("r1")).unwrap().family, KeyFamily::Rsa);
        assert!(matches!(read_private_key(&set, Some("nope")), Err(KeyError::BadJwk(m)) if m.contains("k1")));
    }

    #[test]
    fn refusals_say_why() {
        let public = json!({"kty":"EC","crv":"P-256","x":"x","y":"y"}).to_string();
        assert!(matches!(read_private_key(&public, None), Err(KeyError::PublicOnly(_))));
        let enc = json!({"kty":"EC","crv":"P-256","x":"x","y":"y","d":"d","use":"enc"}).to_string();
        assert!(read_private_key(&enc, None).unwrap_err().to_string().contains("use"));
        assert_eq!(read_private_key("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", None), Err(KeyError::Encrypted));
        assert!(matches!(read_private_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", None), Err(KeyError::PublicOnly(_))));
        assert!(read_private_key(&json!({"kty":"EC","crv":"P-521","d":"d"}).to_string(), None).unwrap_err().to_string().contains("P-521"));
        assert!(matches!(read_private_key("hello", None), Err(KeyError::Unreadable(_))));
    }
}
