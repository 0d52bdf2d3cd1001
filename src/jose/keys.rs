//! Private keys: generation, PEM / JWK import and export, the public JWK.

use super::{Alg, Jwk, KeyFamily};
use crate::secret::Secret;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Value};
use std::fmt;

/// Why a key could not be read or used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is neither a supported PEM block nor a JWK.
    #[error("not a private key this lab reads: {0}")]
    Unreadable(String),
    /// A JWK that is malformed or of an unsupported type.
    #[error("unsupported or malformed JWK: {0}")]
    BadJwk(String),
    /// The key does not fit the algorithm.
    #[error("a {key} key cannot sign {alg}")]
    WrongAlg {
        /// The key's type.
        key: &'static str,
        /// The requested algorithm.
        alg: Alg,
    },
    /// Key generation or encoding failed.
    #[error("key operation failed: {0}")]
    Crypto(String),
}

#[derive(Clone)]
enum Inner {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Rsa(Box<RsaPrivateKey>),
}

/// An asymmetric private key (P-256, P-384 or RSA). `Debug` never prints key material.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Inner,
    // Built once: jsonwebtoken wants DER, and re-encoding it for every signature is wasted work.
    encoding: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.key_type())
    }
}

impl PrivateKey {
    fn from_inner(inner: Inner) -> Result<Self, KeyError> {
        let crypto = |e: &dyn fmt::Display| KeyError::Crypto(e.to_string());
        let encoding = match &inner {
            Inner::P256(k) => jsonwebtoken::EncodingKey::from_ec_der(k.to_pkcs8_der().map_err(|e| crypto(&e))?.as_bytes()),
            Inner::P384(k) => jsonwebtoken::EncodingKey::from_ec_der(k.to_pkcs8_der().map_err(|e| crypto(&e))?.as_bytes()),
            Inner::Rsa(k) => jsonwebtoken::EncodingKey::from_rsa_der(k.to_pkcs1_der().map_err(|e| crypto(&e))?.as_bytes()),
        };
        Ok(PrivateKey { inner, encoding })
    }

    /// A new P-256 key (for ES256).
    pub fn generate_p256(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self::from_inner(Inner::P256(p256::SecretKey::random(rng))).expect("a fresh P-256 key encodes")
    }

    /// A new P-384 key (for ES384).
    pub fn generate_p384(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self::from_inner(Inner::P384(p384::SecretKey::random(rng))).expect("a fresh P-384 key encodes")
    }

    /// A new RSA key (for RS*/PS*). Slow in WebAssembly (seconds for 2048 bits): prefer importing one.
    pub fn generate_rsa(bits: usize, rng: &mut impl rand_core::CryptoRngCore) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::new(rng, bits).map_err(|e| KeyError::Crypto(e.to_string()))?;
        Self::from_inner(Inner::Rsa(Box::new(key)))
    }

    /// A new key suited to `alg` (P-256, P-384, or 2048-bit RSA).
    pub fn generate_for(alg: Alg, rng: &mut impl rand_core::CryptoRngCore) -> Result<Self, KeyError> {
        match alg.family() {
            KeyFamily::P256 => Ok(Self::generate_p256(rng)),
            KeyFamily::P384 => Ok(Self::generate_p384(rng)),
            KeyFamily::Rsa => Self::generate_rsa(2048, rng),
            KeyFamily::Hmac => Err(KeyError::WrongAlg { key: "private", alg }),
        }
    }

    /// Reads a PEM (`PRIVATE KEY` = PKCS#8, `EC PRIVATE KEY` = SEC1, `RSA PRIVATE KEY` = PKCS#1)
    /// or a private JWK (JSON text with `d`).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with('{') {
            Self::from_jwk(text)
        } else {
            Self::from_pem(text)
        }
    }

    /// Reads a PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let label = pem.lines().next().unwrap_or("").trim();
        let inner = match label {
            "-----BEGIN PRIVATE KEY-----" => {
                if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
                    Inner::P256(k)
                } else if let Ok(k) = p384::SecretKey::from_pkcs8_pem(pem) {
                    Inner::P384(k)
                } else {
                    let k = RsaPrivateKey::from_pkcs8_pem(pem)
                        .map_err(|e| KeyError::Unreadable(format!("PKCS#8 key is not P-256, P-384 or RSA ({e})")))?;
                    Inner::Rsa(Box::new(k))
                }
            }
            "-----BEGIN EC PRIVATE KEY-----" => {
                if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                    Inner::P256(k)
                } else {
                    Inner::P384(p384::SecretKey::from_sec1_pem(pem).map_err(|e| KeyError::Unreadable(format!("SEC1 key is not P-256 or P-384 ({e})")))?)
                }
            }
            "-----BEGIN RSA PRIVATE KEY-----" => Inner::Rsa(Box::new(
                RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| KeyError::Unreadable(format!("PKCS#1 RSA key: {e}")))?,
            )),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----" => {
                return Err(KeyError::Unreadable("the key is encrypted; export it unencrypted (openssl pkcs8 -nocrypt)".into()))
            }
            other if other.starts_with("-----BEGIN PUBLIC KEY") || other.starts_with("-----BEGIN CERTIFICATE") => {
                return Err(KeyError::Unreadable(format!("{other} holds a public key; a private key is needed to sign")))
            }
            _ => return Err(KeyError::Unreadable("expected a PEM block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY) or a JWK".into())),
        };
        Self::from_inner(inner)
    }

    /// Reads a private JWK (RFC 7517, RFC 7518 §6).
    pub fn from_jwk(json: &str) -> Result<Self, KeyError> {
        let v: Value = serde_json::from_str(json).map_err(|e| KeyError::BadJwk(format!("not JSON: {e}")))?;
        let field = |name: &str| v.get(name).and_then(Value::as_str);
        if field("d").is_none() {
            return Err(KeyError::BadJwk("no \"d\": this is a public JWK; a private key is needed to sign".into()));
        }
        let inner = match (field("kty"), field("crv")) {
            (Some("EC"), Some("P-256")) => Inner::P256(p256::SecretKey::from_jwk_str(json).map_err(|e| KeyError::BadJwk(e.to_string()))?),
            (Some("EC"), Some("P-384")) => Inner::P384(p384::SecretKey::from_jwk_str(json).map_err(|e| KeyError::BadJwk(e.to_string()))?),
            (Some("EC"), crv) => return Err(KeyError::BadJwk(format!("EC curve {crv:?} is not supported; use P-256 or P-384"))),
            (Some("RSA"), _) => {
                let big = |name: &str| -> Result<BigUint, KeyError> {
                    let b = super::b64url_decode(field(name).ok_or_else(|| KeyError::BadJwk(format!("RSA JWK without \"{name}\"")))?)
                        .map_err(|e| KeyError::BadJwk(e.to_string()))?;
                    Ok(BigUint::from_bytes_be(&b))
                };
                let primes = match (field("p"), field("q")) {
                    (Some(_), Some(_)) => vec![big("p")?, big("q")?],
                    _ => vec![],
                };
                let key = RsaPrivateKey::from_components(big("n")?, big("e")?, big("d")?, primes).map_err(|e| KeyError::BadJwk(e.to_string()))?;
                Inner::Rsa(Box::new(key))
            }
            (kty, _) => return Err(KeyError::BadJwk(format!("kty {kty:?} is not supported; use EC or RSA"))),
        };
        Self::from_inner(inner)
    }

    /// `"P-256"`, `"P-384"` or `"RSA"`.
    pub fn key_type(&self) -> &'static str {
        match self.inner {
            Inner::P256(_) => "P-256",
            Inner::P384(_) => "P-384",
            Inner::Rsa(_) => "RSA",
        }
    }

    /// Whether this key can sign `alg`.
    pub fn check_alg(&self, alg: Alg) -> Result<(), KeyError> {
        let ok = matches!(
            (&self.inner, alg.family()),
            (Inner::P256(_), KeyFamily::P256) | (Inner::P384(_), KeyFamily::P384) | (Inner::Rsa(_), KeyFamily::Rsa)
        );
        if ok {
            Ok(())
        } else {
            Err(KeyError::WrongAlg { key: self.key_type(), alg })
        }
    }

    /// The default algorithm for this key.
    pub fn default_alg(&self) -> Alg {
        match self.inner {
            Inner::P256(_) => Alg::ES256,
            Inner::P384(_) => Alg::ES384,
            Inner::Rsa(_) => Alg::RS256,
        }
    }

    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        self.encoding.clone()
    }

    /// The P-256 key, if it is one (DPoP signing uses it directly).
    pub fn as_p256(&self) -> Option<&p256::SecretKey> {
        match &self.inner {
            Inner::P256(k) => Some(k),
            _ => None,
        }
    }

    /// PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Secret {
        let pem = match &self.inner {
            Inner::P256(k) => k.to_pkcs8_pem(LineEnding::LF).map(|z| z.to_string()),
            Inner::P384(k) => k.to_pkcs8_pem(LineEnding::LF).map(|z| z.to_string()),
            Inner::Rsa(k) => rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(k.as_ref(), LineEnding::LF).map(|z| z.to_string()),
        };
        Secret::new(pem.expect("a valid key encodes as PKCS#8"))
    }

    /// The private JWK (JSON text, includes `d`).
    pub fn to_private_jwk(&self) -> Secret {
        let text = match &self.inner {
            Inner::P256(k) => k.to_jwk_string().to_string(),
            Inner::P384(k) => k.to_jwk_string().to_string(),
            Inner::Rsa(k) => {
                let b = |n: &BigUint| super::b64url(&n.to_bytes_be());
                let mut v = json!({ "kty": "RSA", "n": b(k.n()), "e": b(k.e()), "d": b(k.d()) });
                if let [p, q] = k.primes() {
                    v["p"] = b(p).into();
                    v["q"] = b(q).into();
                }
                v.to_string()
            }
        };
        Secret::new(text)
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`).
    pub fn public_key_pem(&self) -> String {
        match &self.inner {
            Inner::P256(k) => k.public_key().to_public_key_pem(LineEnding::LF),
            Inner::P384(k) => k.public_key().to_public_key_pem(LineEnding::LF),
            Inner::Rsa(k) => rsa::pkcs8::EncodePublicKey::to_public_key_pem(&k.to_public_key(), LineEnding::LF),
        }
        .expect("a valid public key encodes as SPKI")
    }

    /// The public JWK as JSON (no private members).
    pub fn public_jwk_value(&self) -> Value {
        let text = match &self.inner {
            Inner::P256(k) => k.public_key().to_jwk_string(),
            Inner::P384(k) => k.public_key().to_jwk_string(),
            Inner::Rsa(k) => json!({ "kty": "RSA", "n": super::b64url(&k.n().to_bytes_be()), "e": super::b64url(&k.e().to_bytes_be()) }).to_string(),
        };
        serde_json::from_str(&text).expect("a JWK serialises as JSON")
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> Jwk {
        serde_json::from_value(self.public_jwk_value()).expect("our public JWK is a valid JWK")
    }

    /// The verification key for `jsonwebtoken` (what a server registers for this client).
    pub fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        jsonwebtoken::DecodingKey::from_jwk(&self.public_jwk()).expect("our public JWK converts")
    }
}
