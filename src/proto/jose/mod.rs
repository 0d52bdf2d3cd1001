//! JOSE as this protocol uses it: JWS algorithm names (RFC 7518 §3.1), compact JWS assembly and
//! decoding (RFC 7515 §7.1), JWK thumbprints (RFC 7638), HMAC signatures, P-256 keys, and the
//! reading of keys made by other tools ([`keytext`]).
//!
//! Signing is split in two halves everywhere: [`signing_input`] builds the bytes to sign, any
//! signer (a key in this module, a key in another WebAssembly module, a non-extractable
//! WebCrypto key) signs them, and [`compact`] joins the signature. RSA and P-384 keys live in
//! [`keys`] (feature `tools`); verification of every algorithm lives in [`verify`] (feature
//! `sim`), so the client module carries neither.

mod fixed_base;
pub mod keytext;
pub mod p256;

#[cfg(feature = "tools")]
pub mod keys;
#[cfg(feature = "sim-core")]
pub mod verify;

use super::base64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

pub use keytext::KeyError;

/// Base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    base64::url_encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    base64::url_decode(text).map_err(|e| JoseError::Malformed(format!("bad base64url: {e}")))
}

/// Standard base64 with padding (HTTP Basic, certificate pins).
pub fn b64(bytes: &[u8]) -> String {
    base64::encode_standard(bytes)
}

/// A JWS algorithm this crate knows (RFC 7518 §3.1).
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
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl KeyFamily {
    /// How people name it: `RSA`, `P-256`, `P-384`, `HMAC`.
    pub fn name(self) -> &'static str {
        match self {
            KeyFamily::Hmac => "HMAC",
            KeyFamily::Rsa => "RSA",
            KeyFamily::P256 => "P-256",
            KeyFamily::P384 => "P-384",
        }
    }
    /// The algorithm a key of this family signs with unless told otherwise.
    pub fn default_alg(self) -> Alg {
        match self {
            KeyFamily::Hmac => Alg::HS256,
            KeyFamily::Rsa => Alg::RS256,
            KeyFamily::P256 => Alg::ES256,
            KeyFamily::P384 => Alg::ES384,
        }
    }
}

impl Alg {
    /// Every algorithm, in the order the configuration documents them.
    pub const ALL: [Alg; 11] =
        [Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512, Alg::ES256, Alg::ES384, Alg::HS256, Alg::HS384, Alg::HS512];

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

    /// Parses an `alg` value. `ES512` and `none` are recognised only to explain why not.
    pub fn parse(name: &str) -> Result<Alg, JoseError> {
        Alg::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| match name {
            "ES512" => JoseError::UnsupportedAlg("ES512 (P-521) is not supported by this lab; choose ES256 or ES384".into()),
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
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// `base64url(header) "." base64url(claims)`: the JWS signing input (RFC 7515 §5.1).
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()))
}

/// Joins a signature to its signing input: the compact JWS (RFC 7515 §7.1).
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", b64url(signature))
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

/// Longest token this crate decodes (a DPoP proof or an access token is a few KB).
pub const MAX_JWT_LEN: usize = 16 * 1024;

/// Splits and decodes a compact JWT without verifying it (for traces and for reading the header
/// before choosing a key).
pub fn decode_unverified(token: &str) -> Result<DecodedJwt, JoseError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JoseError::Malformed(format!("{} bytes is longer than any JWT this lab reads ({MAX_JWT_LEN})", token.len())));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed("a compact JWS has exactly three dot-separated parts".into()));
    };
    let obj = |part: &str, what: &str| -> Result<Map<String, Value>, JoseError> {
        let bytes = b64url_decode(part).map_err(|e| JoseError::Malformed(format!("the {what}: {e}")))?;
        match std::str::from_utf8(&bytes).ok().and_then(|t| crate::proto::json::parse(t).ok()) {
            Some(Value::Object(m)) => Ok(m),
            _ => Err(JoseError::Malformed(format!("the {what} is not a JSON object"))),
        }
    };
    b64url_decode(s).map_err(|e| JoseError::Malformed(format!("the signature: {e}")))?;
    Ok(DecodedJwt { header: obj(h, "header")?, claims: obj(c, "claims")?, signature: s.to_owned() })
}

/// The signing input of a compact JWS (its first two parts).
pub fn signing_input_of(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(input, _)| input)
}

/// Replaces a compact JWT's signature with `[redacted]` (the trace's default redaction): header
/// and claims stay readable, the token can no longer be replayed.
pub fn redact_signature(token: &str) -> String {
    match token.rsplit_once('.') {
        Some((signed, _)) if signed.contains('.') => format!("{signed}.{}", super::secret::REDACTED),
        _ => super::secret::REDACTED.to_owned(),
    }
}

/// True when `text` looks like a compact JWS (three base64url parts, a JSON header).
pub fn looks_like_jwt(text: &str) -> bool {
    text.starts_with("eyJ") && text.split('.').count() == 3 && decode_unverified(text).is_ok()
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a public or private JWK: the hash of the
/// required public members, in lexicographic order, without whitespace.
pub fn thumbprint(jwk: &Value) -> Result<String, JoseError> {
    use sha2::{Digest, Sha256};
    let member = |name: &str| -> Result<&str, JoseError> {
        jwk.get(name).and_then(Value::as_str).ok_or_else(|| JoseError::Key(KeyError::BadJwk(format!("a thumbprint needs the member \"{name}\""))))
    };
    // serde_json's `to_string` of a string is its JSON form, escapes included (RFC 7638 §3).
    let q = |s: &str| Value::String(s.to_owned()).to_string();
    let canonical = match member("kty")? {
        "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, q(member("crv")?), q(member("x")?), q(member("y")?)),
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(member("e")?), q(member("n")?)),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, q(member("crv")?), q(member("x")?)),
        "oct" => format!(r#"{{"k":{},"kty":"oct"}}"#, q(member("k")?)),
        other => return Err(JoseError::Key(KeyError::BadJwk(format!("kty {other:?} has no RFC 7638 thumbprint")))),
    };
    Ok(b64url(&Sha256::digest(canonical.as_bytes())))
}

/// An HMAC signature (HS256/384/512, RFC 7518 §3.2) over `input` with `secret`.
pub fn hmac_sign(alg: Alg, secret: &[u8], input: &[u8]) -> Result<Vec<u8>, JoseError> {
    fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
        m.update(input);
        m.finalize().into_bytes().to_vec()
    }
    Ok(match alg {
        Alg::HS256 => mac::<Hmac<sha2::Sha256>>(secret, input),
        Alg::HS384 => mac::<Hmac<sha2::Sha384>>(secret, input),
        Alg::HS512 => mac::<Hmac<sha2::Sha512>>(secret, input),
        other => return Err(JoseError::UnsupportedAlg(format!("{other} needs a private key, not a shared secret"))),
    })
}

/// A JWT signed with HMAC over a shared secret (`client_secret_jwt`, HS256/384/512).
pub fn sign_jwt_hmac(alg: Alg, secret: &[u8], claims: &Value) -> Result<String, JoseError> {
    let input = signing_input(&serde_json::json!({ "alg": alg.name() }), claims);
    Ok(compact(&input, &hmac_sign(alg, secret, input.as_bytes())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_sign(Alg::HS256, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(mac.iter().map(|b| format!("{b:02x}")).collect::<String>(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn decode_and_redact() {
        let token = compact(&signing_input(&json!({"alg":"HS256"}), &json!({"sub":"a"})), b"sig");
        let d = decode_unverified(&token).unwrap();
        assert_eq!(d.claims["sub"], "a");
        assert!(looks_like_jwt(&token));
        assert_eq!(redact_signature(&token), format!("{}.[redacted]", signing_input_of(&token)));
        assert!(decode_unverified("a.b").is_err());
        assert!(decode_unverified(&"e".repeat(MAX_JWT_LEN + 1)).is_err());
    }
}
