//! Signature verification for every algorithm the simulated server accepts, through
//! `jsonwebtoken` with a `CryptoProvider` of this crate's own: HMAC and P-256 always; RSA
//! (PKCS#1 v1.5 and PSS) and P-384 with the `sim` feature (the light simulator, `sim-core` alone,
//! verifies HS* and ES256 only and says so). The crate's `rust_crypto` provider would also link
//! Ed25519, which nothing here uses. The simulated server signs its own tokens directly
//! ([`super::p256::P256Key::sign`]); this provider verifies only.

use super::{decode_unverified, signing_input_of, Alg, DecodedJwt, JoseError, KeyFamily};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
#[cfg(feature = "sim")]
use rsa::{pkcs1v15, pss};
use serde_json::Value;
use signature::{Error as SigError, Verifier};

/// A key that verifies signatures: a public JWK, an SPKI public key, or a shared secret.
#[derive(Clone)]
pub struct VerifyKey {
    family: KeyFamily,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyKey({})", self.family.name())
    }
}

impl VerifyKey {
    /// From a public (or private: the private members are ignored) JWK: EC P-256, EC P-384 or RSA.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let s = |n: &str| jwk.get(n).and_then(Value::as_str).ok_or_else(|| JoseError::Other(format!("the JWK has no \"{n}\"")));
        let (family, key) = match (jwk.get("kty").and_then(Value::as_str), jwk.get("crv").and_then(Value::as_str)) {
            (Some("EC"), Some("P-256")) => (KeyFamily::P256, DecodingKey::from_ec_components(s("x")?, s("y")?)),
            #[cfg(feature = "sim")]
            (Some("EC"), Some("P-384")) => (KeyFamily::P384, DecodingKey::from_ec_components(s("x")?, s("y")?)),
            #[cfg(feature = "sim")]
            (Some("RSA"), _) => (KeyFamily::Rsa, DecodingKey::from_rsa_components(s("n")?, s("e")?)),
            #[cfg(not(feature = "sim"))]
            (Some("EC"), Some("P-384")) | (Some("RSA"), _) => return Err(JoseError::UnsupportedAlg(LIGHT.into())),
            (kty, crv) => return Err(JoseError::UnsupportedAlg(format!("a JWK with kty {kty:?} and crv {crv:?} cannot verify RS/PS/ES signatures here"))),
        };
        Ok(VerifyKey { family, key: key.map_err(|e| JoseError::Other(format!("the JWK's key does not decode: {e}")))? })
    }

    /// From a DER SubjectPublicKeyInfo (a `PUBLIC KEY` PEM block's content).
    #[cfg(feature = "sim")]
    pub fn from_spki_der(der: &[u8]) -> Result<Self, JoseError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use pkcs8::DecodePublicKey as _;
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(VerifyKey { family: KeyFamily::P256, key: DecodingKey::from_ec_der(k.to_encoded_point(false).as_bytes()) });
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(der) {
            return Ok(VerifyKey { family: KeyFamily::P384, key: DecodingKey::from_ec_der(k.to_encoded_point(false).as_bytes()) });
        }
        let k = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| JoseError::Other(format!("the public key is not P-256, P-384 or RSA ({e})")))?;
        use rsa::traits::PublicKeyParts;
        Ok(VerifyKey { family: KeyFamily::Rsa, key: DecodingKey::from_rsa_raw_components(&k.n().to_bytes_be(), &k.e().to_bytes_be()) })
    }

    /// A shared secret (HS*).
    pub fn from_secret(secret: &[u8]) -> Self {
        VerifyKey { family: KeyFamily::Hmac, key: DecodingKey::from_secret(secret) }
    }

    /// Its family.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// The public JWK of an asymmetric key (`None` for a shared secret).
    pub fn public_jwk(&self) -> Option<Value> {
        use super::b64url;
        match (self.family, self.key.kind()) {
            (KeyFamily::Hmac, _) => None,
            (KeyFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => Some(serde_json::json!({ "kty": "RSA", "n": b64url(n), "e": b64url(e) })),
            (family, DecodingKeyKind::SecretOrDer(point)) if point.first() == Some(&4) => {
                let half = (point.len() - 1) / 2;
                Some(serde_json::json!({ "kty": "EC", "crv": family.name(), "x": b64url(&point[1..1 + half]), "y": b64url(&point[1 + half..]) }))
            }
            _ => None,
        }
    }
}

/// Verifies a compact JWS's signature, allowing only `allowed` algorithms and only one that
/// fits the key (so an RSA public key can never be used as an HMAC secret), and returns its
/// decoded parts. Time-based claims are the caller's to check, against its own clock.
pub fn verify_jws(token: &str, key: &VerifyKey, allowed: &[Alg]) -> Result<DecodedJwt, JoseError> {
    let decoded = decode_unverified(token)?;
    let alg = Alg::parse(decoded.header.get("alg").and_then(Value::as_str).unwrap_or(""))?;
    if !allowed.contains(&alg) {
        return Err(JoseError::UnsupportedAlg(format!("{alg} is not allowed here")));
    }
    if alg.family() != key.family {
        return Err(JoseError::UnsupportedAlg(format!("{alg} does not fit a {} key", key.family.name())));
    }
    ensure_provider();
    let ok = jsonwebtoken::crypto::verify(&decoded.signature, signing_input_of(token).as_bytes(), &key.key, to_jwt(alg))
        .map_err(|e| JoseError::Other(e.to_string()))?;
    if ok {
        Ok(decoded)
    } else {
        Err(JoseError::BadSignature)
    }
}

fn to_jwt(alg: Alg) -> Algorithm {
    match alg {
        Alg::HS256 => Algorithm::HS256,
        Alg::HS384 => Algorithm::HS384,
        Alg::HS512 => Algorithm::HS512,
        Alg::RS256 => Algorithm::RS256,
        Alg::RS384 => Algorithm::RS384,
        Alg::RS512 => Algorithm::RS512,
        Alg::PS256 => Algorithm::PS256,
        Alg::PS384 => Algorithm::PS384,
        Alg::PS512 => Algorithm::PS512,
        Alg::ES256 => Algorithm::ES256,
        Alg::ES384 => Algorithm::ES384,
    }
}

/// Installs [`PROVIDER`] once per process (another provider installed first is used as is: the
/// algorithms are the same, and tests may install jsonwebtoken's own).
fn ensure_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

/// This crate's `jsonwebtoken` provider: exactly the algorithms the lab uses.
pub static PROVIDER: CryptoProvider = CryptoProvider { signer_factory, verifier_factory, key_utils: KeyUtils::new_unimplemented() };

type JwtResult<T> = jsonwebtoken::errors::Result<T>;

fn invalid_key() -> jsonwebtoken::errors::Error {
    jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into()
}

/// What the light simulator says of an algorithm or key it does not verify.
#[cfg(not(feature = "sim"))]
const LIGHT: &str = "this build of the simulator (sim-lite) verifies HS256/384/512 and ES256 only; RSA and P-384 need the whole simulator module (pkg/sim/)";

#[cfg(feature = "sim")]
struct Es256Signer(p256::ecdsa::SigningKey);

#[cfg(feature = "sim")]
impl signature::Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigError> {
        let sig: p256::ecdsa::Signature = self.0.try_sign(msg)?;
        Ok(sig.to_bytes().to_vec())
    }
}
#[cfg(feature = "sim")]
impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// ES256 signing for anyone who calls `jsonwebtoken::encode` with this provider installed (the
/// tests do); the simulated server itself signs with [`super::p256::P256Key::sign`].
#[cfg(feature = "sim")]
fn signer_factory(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    use p256::pkcs8::DecodePrivateKey as _;
    match alg {
        Algorithm::ES256 => Ok(Box::new(Es256Signer(p256::ecdsa::SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| invalid_key())?))),
        _ => Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into()),
    }
}
#[cfg(not(feature = "sim"))]
fn signer_factory(_: &Algorithm, _: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into())
}

/// A signature check: `(signing input, signature) -> valid`.
type Check = Box<dyn Fn(&[u8], &[u8]) -> bool + Send + Sync>;

/// One verifier for every algorithm: the algorithm picks the check.
struct AnyVerifier {
    alg: Algorithm,
    check: Check,
}

impl Verifier<Vec<u8>> for AnyVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SigError> {
        if (self.check)(msg, signature) {
            Ok(())
        } else {
            Err(SigError::new())
        }
    }
}
impl JwtVerifier for AnyVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    let alg = *alg;
    let check: Check = match (alg, key.kind()) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, DecodingKeyKind::SecretOrDer(secret)) => {
            let secret = secret.clone();
            let jose_alg = match alg {
                Algorithm::HS256 => Alg::HS256,
                Algorithm::HS384 => Alg::HS384,
                _ => Alg::HS512,
            };
            Box::new(move |msg, sig| {
                let expected = super::hmac_sign(jose_alg, &secret, msg).unwrap_or_default();
                use subtle::ConstantTimeEq as _;
                expected.len() == sig.len() && bool::from(expected.ct_eq(sig))
            })
        }
        (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| invalid_key())?;
            Box::new(move |msg, sig| p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok()))
        }
        #[cfg(feature = "sim")]
        (Algorithm::ES384, DecodingKeyKind::SecretOrDer(point)) => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| invalid_key())?;
            Box::new(move |msg, sig| p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok()))
        }
        #[cfg(feature = "sim")]
        (_, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            let key = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e)).map_err(|_| invalid_key())?;
            macro_rules! rsa_check {
                ($module:ident, $hash:ty) => {{
                    let vk = $module::VerifyingKey::<$hash>::new(key);
                    Box::new(move |msg: &[u8], sig: &[u8]| $module::Signature::try_from(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok()))
                }};
            }
            match alg {
                Algorithm::RS256 => rsa_check!(pkcs1v15, sha2::Sha256),
                Algorithm::RS384 => rsa_check!(pkcs1v15, sha2::Sha384),
                Algorithm::RS512 => rsa_check!(pkcs1v15, sha2::Sha512),
                Algorithm::PS256 => rsa_check!(pss, sha2::Sha256),
                Algorithm::PS384 => rsa_check!(pss, sha2::Sha384),
                Algorithm::PS512 => rsa_check!(pss, sha2::Sha512),
                _ => return Err(invalid_key()),
            }
        }
        _ => return Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(AnyVerifier { alg, check }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::entropy::SeededEntropy;
    use crate::proto::jose::{self, p256::P256Key};

    #[test]
    fn es256_and_hmac_verify_in_every_build() {
        let key = P256Key::generate(&mut SeededEntropy::new(1));
        let input = jose::signing_input(&serde_json::json!({ "alg": "ES256" }), &serde_json::json!({ "sub": "a" }));
        let token = jose::compact(&input, &key.sign(input.as_bytes()));
        let vk = VerifyKey::from_jwk(key.public_jwk()).unwrap();
        assert_eq!(verify_jws(&token, &vk, &[Alg::ES256]).unwrap().claims["sub"], "a");
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        assert!(matches!(verify_jws(&forged, &vk, &[Alg::ES256]), Err(JoseError::BadSignature)));
        let hs = jose::sign_jwt_hmac(Alg::HS256, b"0123456789abcdef0123456789abcdef", &serde_json::json!({ "sub": "b" })).unwrap();
        assert!(verify_jws(&hs, &VerifyKey::from_secret(b"0123456789abcdef0123456789abcdef"), &[Alg::HS256]).is_ok());
    }

    /// The light simulator (`sim-core` without `sim`) refuses RSA and P-384 keys and says where
    /// they are verified: `cargo test --lib --no-default-features --features client,sim-core`.
    #[cfg(not(feature = "sim"))]
    #[test]
    fn the_light_build_names_the_whole_simulator_for_rsa_and_p384() {
        for jwk in [serde_json::json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" }), serde_json::json!({ "kty": "EC", "crv": "P-384", "x": "AA", "y": "AA" })] {
            let e = VerifyKey::from_jwk(&jwk).unwrap_err().to_string();
            assert!(e.contains("pkg/sim/") && e.contains("ES256"), "{e}");
        }
    }
}
