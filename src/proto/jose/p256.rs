//! P-256 keys (ES256, RFC 7518 §3.4): the one curve every module signs with. Client assertions
//! with ES256, every DPoP proof of the `wasm` key store, and the simulated server's tokens.

use super::keytext::{parse_pkcs8, parse_sec1, KeyError, KeySource, KeyText, OID_EC, OID_P256};
use super::{b64url, b64url_decode, KeyFamily};
use crate::proto::der;
use crate::proto::pem;
use crate::proto::secret::Secret;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{json, Value};
use std::fmt;

/// A P-256 private key. `Debug` never prints key material.
#[derive(Clone)]
pub struct P256Key {
    signing: SigningKey,
    public_jwk: Value,
}

impl fmt::Debug for P256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P256Key({}, [redacted])", self.public_jwk)
    }
}

fn public_jwk_of(key: &VerifyingKey) -> Value {
    let point = key.to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": b64url(point.x().expect("uncompressed")), "y": b64url(point.y().expect("uncompressed")) })
}

impl P256Key {
    fn from_signing(signing: SigningKey) -> Self {
        let public_jwk = public_jwk_of(signing.verifying_key());
        P256Key { signing, public_jwk }
    }

    /// A new key from `rng`.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self::from_signing(SigningKey::random(rng))
    }

    /// A key read by [`super::keytext::read_private_key`] (it must be a P-256 key).
    pub fn from_key_text(key: &KeyText) -> Result<Self, KeyError> {
        if key.family != KeyFamily::P256 {
            return Err(KeyError::Unsupported(format!("a {} key is not a P-256 key", key.family.name())));
        }
        let bad = |form: &str, e: &dyn fmt::Display| KeyError::Unreadable(format!("the {form} P-256 key: {e}"));
        let sec1 = match &key.source {
            KeySource::Pkcs8(der) => {
                let info = parse_pkcs8(der).map_err(|e| bad("PKCS#8", &e))?;
                if info.algorithm != OID_EC || info.parameters.as_deref() != Some(OID_P256) {
                    return Err(KeyError::Unsupported("the PKCS#8 key is not an EC P-256 key".into()));
                }
                info.private_key.to_vec()
            }
            KeySource::Sec1(der) => der.clone(),
            KeySource::Jwk(jwk) => return Self::from_jwk(jwk),
            KeySource::Pkcs1(_) => return Err(KeyError::Unsupported("PKCS#1 holds RSA keys, not P-256".into())),
        };
        let ec = parse_sec1(&sec1).map_err(|e| bad("SEC1", &e))?;
        if ec.curve.as_deref().is_some_and(|c| c != OID_P256) {
            return Err(KeyError::Unsupported("the EC key is not on P-256".into()));
        }
        let key = Self::from_scalar(ec.scalar)?;
        if let Some(public) = ec.public {
            if public != key.signing.verifying_key().to_encoded_point(false).as_bytes() {
                return Err(KeyError::Unreadable("the key's public part does not belong to its private part".into()));
            }
        }
        Ok(key)
    }

    /// Reads a private key in any form [`super::keytext`] knows (it must be a P-256 key).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::from_key_text(&super::keytext::read_private_key(text, None)?)
    }

    /// The key with this 32-byte private scalar (big-endian).
    pub fn from_scalar(d: &[u8]) -> Result<Self, KeyError> {
        if d.len() != 32 {
            return Err(KeyError::Unreadable(format!("a P-256 private key is 32 bytes, not {}", d.len())));
        }
        let secret = p256::SecretKey::from_slice(d).map_err(|_| KeyError::Unreadable("not a valid P-256 private scalar".into()))?;
        Ok(Self::from_signing(SigningKey::from(secret)))
    }

    /// A private JWK (RFC 7518 §6.2.2): `d`, checked against `x` and `y` when they are given.
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let member = |name: &str| -> Result<Vec<u8>, KeyError> {
            let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| KeyError::BadJwk(format!("a P-256 JWK needs \"{name}\"")))?;
            b64url_decode(text).map_err(|e| KeyError::BadJwk(format!("\"{name}\": {e}")))
        };
        let d = member("d")?;
        if d.len() != 32 {
            return Err(KeyError::BadJwk(format!("\"d\" of a P-256 key is 32 bytes, not {} (RFC 7518 §6.2.2.1)", d.len())));
        }
        let secret = p256::SecretKey::from_slice(&d).map_err(|_| KeyError::BadJwk("\"d\" is not a valid P-256 private scalar".into()))?;
        let key = Self::from_signing(SigningKey::from(secret));
        for name in ["x", "y"] {
            if jwk.get(name).is_some() && key.public_jwk[name].as_str().map(str::to_owned) != jwk.get(name).and_then(Value::as_str).map(str::to_owned) {
                return Err(KeyError::BadJwk(format!("\"{name}\" does not belong to \"d\": the JWK's public and private parts are of different keys")));
            }
        }
        Ok(key)
    }

    /// The public JWK (`kty`, `crv`, `x`, `y`).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing.verifying_key()
    }

    /// An ES256 signature (the 64-byte `r || s` of RFC 7518 §3.4) over `input`; deterministic
    /// (RFC 6979).
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        // The same bytes as `self.signing.sign(input)`, several times faster (super::fixed_base).
        super::fixed_base::sign(self.signing.as_nonzero_scalar().as_ref(), input).to_vec()
    }

    /// PKCS#8 DER (RFC 5958), with the public key in the inner `ECPrivateKey` (RFC 5915), as
    /// `openssl` writes it.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        // id-ecPublicKey and secp256r1, encoded.
        const EC_P256: [u8; 21] =
            [0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let point = self.signing.verifying_key().to_encoded_point(false);
        let public = der::encode(0xa1, &der::encode(der::BIT_STRING, &[&[0u8][..], point.as_bytes()].concat()));
        let ec = der::encode(der::SEQUENCE, &[der::encode(der::INTEGER, &[1]), der::encode(der::OCTET_STRING, &self.signing.to_bytes()), public].concat());
        der::encode(der::SEQUENCE, &[der::encode(der::INTEGER, &[0]), EC_P256.to_vec(), der::encode(der::OCTET_STRING, &ec)].concat())
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Secret {
        Secret::new(pem::encode("PRIVATE KEY", &self.to_pkcs8_der()))
    }

    /// The private JWK (with `d`), as JSON text.
    pub fn to_private_jwk(&self) -> Secret {
        let mut jwk = self.public_jwk.clone();
        jwk["d"] = b64url(&self.signing.to_bytes()).into();
        Secret::new(jwk.to_string())
    }
}

/// Verifies an ES256 signature (`r || s`) with a public JWK.
pub fn verify_with_jwk(public_jwk: &Value, input: &[u8], signature: &[u8]) -> bool {
    let Some(key) = verifying_key_from_jwk(public_jwk) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    key.verify(input, &sig).is_ok()
}

/// The verifying key of a public P-256 JWK.
pub fn verifying_key_from_jwk(jwk: &Value) -> Option<VerifyingKey> {
    let coord = |n: &str| jwk.get(n).and_then(Value::as_str).and_then(|t| b64url_decode(t).ok()).filter(|b| b.len() == 32);
    let (x, y) = (coord("x")?, coord("y")?);
    if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
        return None;
    }
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::entropy::SeededEntropy;

    #[test]
    fn round_trips_through_pkcs8_and_jwk() {
        let key = P256Key::generate(&mut SeededEntropy::new(1));
        let from_pem = P256Key::parse(key.to_pkcs8_pem().expose()).unwrap();
        assert_eq!(from_pem.public_jwk(), key.public_jwk());
        let from_jwk = P256Key::parse(key.to_private_jwk().expose()).unwrap();
        assert_eq!(from_jwk.public_jwk(), key.public_jwk());
        let sig = key.sign(b"input");
        assert_eq!(sig.len(), 64);
        assert!(verify_with_jwk(key.public_jwk(), b"input", &sig));
        assert!(!verify_with_jwk(key.public_jwk(), b"other", &sig));
    }

    #[test]
    fn a_jwk_whose_halves_disagree_is_refused() {
        let a = P256Key::generate(&mut SeededEntropy::new(1));
        let b = P256Key::generate(&mut SeededEntropy::new(2));
        let mut mixed: Value = serde_json::from_str(a.to_private_jwk().expose()).unwrap();
        mixed["x"] = b.public_jwk()["x"].clone();
        assert!(P256Key::from_jwk(&mixed).unwrap_err().to_string().contains("different keys"));
    }
}
