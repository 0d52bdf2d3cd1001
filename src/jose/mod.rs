//! JOSE: algorithms, keys, JWT signing and verification, thumbprints.
//!
//! Signing and verification of JWTs go through `jsonwebtoken` (its pure-Rust `rust_crypto`
//! provider, so the same code runs natively and in WebAssembly). Keys are parsed and generated with
//! the RustCrypto crates (`p256`, `p384`, `rsa`). DPoP proofs are assembled in [`crate::dpop`]
//! because their signer may be a non-extractable browser key that only signs bytes.

mod keys;

pub use jsonwebtoken::jwk::Jwk;
pub use keys::{KeyError, PrivateKey};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| JoseError::Malformed(format!("bad base64url: {e}")))
}

/// Standard base64 with padding (HTTP Basic, certificate pins).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A JWS algorithm this crate can sign with (RFC 7518 §3.1).
#[allow(clippy::upper_case_acronyms)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// HMAC SHA-256.
    HS256,
    /// HMAC SHA-384.
    HS384,
    /// HMAC SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
}

/// Which kind of key an algorithm needs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    /// A shared secret (HS*).
    Hmac,
    /// An RSA key (RS*, PS*).
    Rsa,
    /// A P-256 key (ES256).
    P256,
    /// A P-384 key (ES384).
    P384,
}

impl Alg {
    /// Every algorithm, in the order the configuration documents them.
    pub const ALL: [Alg; 11] = [
        Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512,
        Alg::ES256, Alg::ES384, Alg::HS256, Alg::HS384, Alg::HS512,
    ];

    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
        }
    }

    /// Parses an `alg` value. `ES512` is recognised only to explain that it is unsupported.
    pub fn parse(name: &str) -> Result<Alg, JoseError> {
        Alg::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| match name {
            "ES512" => JoseError::UnsupportedAlg("ES512 (P-521) is not supported by this build's JOSE stack (jsonwebtoken 11 signs ES256 and ES384); choose ES256 or ES384".into()),
            "none" => JoseError::UnsupportedAlg("\"none\" is an unsigned JWT and is never accepted".into()),
            other => JoseError::UnsupportedAlg(format!("unknown algorithm {other:?}; expected one of RS256-512, PS256-512, ES256, ES384, HS256-512")),
        })
    }

    /// The key this algorithm needs.
    pub fn family(self) -> KeyFamily {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => KeyFamily::Hmac,
            Alg::ES256 => KeyFamily::P256,
            Alg::ES384 => KeyFamily::P384,
            _ => KeyFamily::Rsa,
        }
    }

    /// True for the symmetric (HMAC) algorithms.
    pub fn is_symmetric(self) -> bool {
        self.family() == KeyFamily::Hmac
    }

    /// The `jsonwebtoken` algorithm.
    pub fn to_jwt(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Alg::HS256 => A::HS256,
            Alg::HS384 => A::HS384,
            Alg::HS512 => A::HS512,
            Alg::RS256 => A::RS256,
            Alg::RS384 => A::RS384,
            Alg::RS512 => A::RS512,
            Alg::PS256 => A::PS256,
            Alg::PS384 => A::PS384,
            Alg::PS512 => A::PS512,
            Alg::ES256 => A::ES256,
            Alg::ES384 => A::ES384,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong with a JWT or key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// Not a compact JWS, or a part is not base64url JSON.
    #[error("malformed JWT: {0}")]
    Malformed(String),
    /// The algorithm is unknown, unsupported or not allowed here.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlg(String),
    /// The signature does not verify under the key.
    #[error("invalid signature")]
    BadSignature,
    /// The key cannot be used (wrong type for the algorithm, unparsable).
    #[error("key error: {0}")]
    Key(#[from] KeyError),
    /// Anything else `jsonwebtoken` reports.
    #[error("{0}")]
    Other(String),
}

impl From<jsonwebtoken::errors::Error> for JoseError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => JoseError::BadSignature,
            K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => JoseError::UnsupportedAlg(e.to_string()),
            K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => JoseError::Malformed(e.to_string()),
            _ => JoseError::Other(e.to_string()),
        }
    }
}

/// The key a JWT is signed with: a private key, or a shared secret for HS*.
#[derive(Clone, Copy)]
pub enum SigningKeyRef<'a> {
    /// An asymmetric private key.
    Private(&'a PrivateKey),
    /// A shared secret (`client_secret_jwt`).
    Secret(&'a [u8]),
}

/// Signs a JWT (RFC 7519) with `jsonwebtoken`: `header` must name `alg`; `claims` is any JSON object.
pub fn sign_jwt(alg: Alg, kid: Option<&str>, typ: Option<&str>, claims: &Value, key: SigningKeyRef<'_>) -> Result<String, JoseError> {
    let mut header = jsonwebtoken::Header::new(alg.to_jwt());
    header.kid = kid.map(str::to_owned);
    header.typ = typ.map(str::to_owned);
    let encoding_key = match key {
        SigningKeyRef::Private(k) => {
            k.check_alg(alg)?;
            k.encoding_key()
        }
        SigningKeyRef::Secret(s) if alg.is_symmetric() => jsonwebtoken::EncodingKey::from_secret(s),
        SigningKeyRef::Secret(_) => return Err(JoseError::UnsupportedAlg(format!("{alg} needs a private key, not a shared secret"))),
    };
    Ok(jsonwebtoken::encode(&header, claims, &encoding_key)?)
}

/// A JWT split into its decoded parts, without any verification.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecodedJwt {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// The signature, base64url.
    pub signature: String,
}

/// Splits and decodes a compact JWT without verifying it (for traces and for reading the header
/// before choosing a key).
pub fn decode_unverified(token: &str) -> Result<DecodedJwt, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed("a compact JWS has exactly three dot-separated parts".into()));
    };
    let obj = |part: &str, what: &str| -> Result<Map<String, Value>, JoseError> {
        match serde_json::from_slice(&b64url_decode(part)?) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(JoseError::Malformed(format!("the {what} is not a JSON object"))),
        }
    };
    Ok(DecodedJwt { header: obj(h, "header")?, claims: obj(c, "claims")?, signature: s.to_owned() })
}

/// Verifies a JWT's signature with `jsonwebtoken`, allowing only `allowed` algorithms, and returns
/// its decoded parts. Time-based claims are *not* checked here: the caller checks them against
/// its own clock (the library's check would read the system clock).
pub fn verify_jwt(token: &str, key: &jsonwebtoken::DecodingKey, allowed: &[Alg]) -> Result<DecodedJwt, JoseError> {
    let decoded = decode_unverified(token)?;
    let alg_name = decoded.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let alg = Alg::parse(alg_name)?;
    if !allowed.contains(&alg) {
        return Err(JoseError::UnsupportedAlg(format!("{alg} is not allowed here")));
    }
    let mut validation = jsonwebtoken::Validation::new(alg.to_jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, key, &validation)?;
    Ok(decoded)
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url).
pub fn thumbprint(jwk: &Jwk) -> Result<String, JoseError> {
    Ok(jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?)
}

/// Replaces a compact JWT's signature with `[redacted]` (the trace's default redaction): header and
/// claims stay readable, the token can no longer be replayed.
pub fn redact_signature(token: &str) -> String {
    match token.rsplit_once('.') {
        Some((signed, _)) if signed.contains('.') => format!("{signed}.{}", crate::secret::REDACTED),
        _ => crate::secret::REDACTED.to_owned(),
    }
}

/// True when `text` looks like a compact JWS (three base64url parts, a JSON header).
pub fn looks_like_jwt(text: &str) -> bool {
    text.starts_with("eyJ") && text.split('.').count() == 3 && decode_unverified(text).is_ok()
}
