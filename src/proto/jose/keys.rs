//! Every private key this lab signs client assertions with: P-256, P-384 and RSA (feature
//! `tools`: the page loads this code as a separate module, only when such a key is used).

use super::keytext::{read_private_key, KeyError, KeySource, KeyText};
use super::p256::P256Key;
use super::{b64url, b64url_decode, Alg, KeyFamily};
use crate::proto::pem;
use crate::proto::secret::Secret;
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Value};
use std::fmt;

#[derive(Clone)]
enum Inner {
    P256(P256Key),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<RsaPrivateKey>),
}

/// An asymmetric private key (P-256, P-384 or RSA). `Debug` never prints key material.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Inner,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.family().name())
    }
}

/// Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted. RSA work grows with the cube of the size: one signature with
/// an 8192-bit key takes seconds in WebAssembly, with a larger one (from a hostile link, say)
/// minutes, so a larger key is refused before any arithmetic.
pub const MAX_RSA_BITS: usize = 8192;

impl PrivateKey {
    /// A new key suited to `alg`: P-256, P-384, or 2048-bit RSA (slow in WebAssembly: about a
    /// second; importing one is instant).
    pub fn generate_for(alg: Alg, rng: &mut impl rand_core::CryptoRngCore) -> Result<Self, KeyError> {
        let inner = match alg.family() {
            KeyFamily::P256 => Inner::P256(P256Key::generate(rng)),
            KeyFamily::P384 => Inner::P384(p384::ecdsa::SigningKey::random(rng)),
            KeyFamily::Rsa => Inner::Rsa(Box::new(RsaPrivateKey::new(rng, MIN_RSA_BITS).map_err(|e| KeyError::Crypto(e.to_string()))?)),
            KeyFamily::Hmac => return Err(KeyError::WrongAlg { key: "private", alg }),
        };
        Ok(PrivateKey { inner })
    }

    /// Reads a private key written by any tool [`super::keytext`] knows.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::from_key_text(&read_private_key(text, None)?)
    }

    /// A key identified by [`super::keytext::read_private_key`].
    pub fn from_key_text(key: &KeyText) -> Result<Self, KeyError> {
        let bad = |what: &str, e: &dyn fmt::Display| KeyError::Unreadable(format!("the {} {} key: {e}", key.form(), what));
        let inner = match (key.family, &key.source) {
            (KeyFamily::P256, _) => Inner::P256(P256Key::from_key_text(key)?),
            (KeyFamily::P384, KeySource::Pkcs8(der)) => Inner::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| bad("P-384", &e))?),
            (KeyFamily::P384, KeySource::Sec1(der)) => Inner::P384(p384::SecretKey::from_sec1_der(der).map_err(|e| bad("P-384", &e))?.into()),
            (KeyFamily::P384, KeySource::Jwk(jwk)) => Inner::P384(p384_from_jwk(jwk)?),
            (KeyFamily::Rsa, KeySource::Pkcs8(der)) => {
                if let Ok(info) = pkcs8::PrivateKeyInfo::try_from(der.as_slice()) {
                    check_rsa_der_size(info.private_key)?;
                }
                Inner::Rsa(Box::new(RsaPrivateKey::from_pkcs8_der(der).map_err(|e| bad("RSA", &e))?))
            }
            (KeyFamily::Rsa, KeySource::Pkcs1(der)) => {
                check_rsa_der_size(der)?;
                Inner::Rsa(Box::new(RsaPrivateKey::from_pkcs1_der(der).map_err(|e| bad("RSA", &e))?))
            }
            (KeyFamily::Rsa, KeySource::Jwk(jwk)) => Inner::Rsa(Box::new(rsa_from_jwk(jwk)?)),
            (family, _) => return Err(KeyError::Unsupported(format!("a {} key in {} form is not supported", family.name(), key.form()))),
        };
        if let Inner::Rsa(k) = &inner {
            let bits = k.n().bits();
            if bits < MIN_RSA_BITS {
                return Err(KeyError::Unsupported(format!("a {bits}-bit RSA key is too short: RFC 7518 §3.3 requires 2048 bits or more")));
            }
            k.validate().map_err(|e| KeyError::Crypto(format!("the RSA key is inconsistent: {e}")))?;
            // `validate` does not test that the primes are prime: one signature does (the crate
            // checks each private operation against the public key).
            use rsa::signature::Signer as _;
            rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.as_ref().clone())
                .try_sign(b"haapi-lab key check")
                .map_err(|_| KeyError::Crypto("the RSA key is inconsistent: its private part does not sign for its public part (are p and q prime?)".into()))?;
        }
        Ok(PrivateKey { inner })
    }

    /// Its family.
    pub fn family(&self) -> KeyFamily {
        match self.inner {
            Inner::P256(_) => KeyFamily::P256,
            Inner::P384(_) => KeyFamily::P384,
            Inner::Rsa(_) => KeyFamily::Rsa,
        }
    }

    /// `"P-256"`, `"P-384"` or `"RSA"`.
    pub fn key_type(&self) -> &'static str {
        self.family().name()
    }

    /// Whether this key can sign `alg`.
    pub fn check_alg(&self, alg: Alg) -> Result<(), KeyError> {
        if alg.family() == self.family() {
            Ok(())
        } else {
            Err(KeyError::WrongAlg { key: self.key_type(), alg })
        }
    }

    /// The JWS signature over `input` (RFC 7518 §3): ECDSA `r || s`, RSASSA-PKCS1-v1_5, or
    /// RSASSA-PSS with a salt as long as the hash (§3.5), which is why `rng` is needed.
    pub fn sign(&self, alg: Alg, input: &[u8], rng: &mut impl rand_core::CryptoRngCore) -> Result<Vec<u8>, KeyError> {
        self.check_alg(alg)?;
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
        // `try_sign`: an RSA key that cannot sign is an error, never a panic.
        let failed = |e: rsa::signature::Error| KeyError::Crypto(format!("RSA signing failed: {e}"));
        Ok(match (&self.inner, alg) {
            (Inner::P256(k), _) => k.sign(input),
            (Inner::P384(k), _) => {
                let sig: p384::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            (Inner::Rsa(k), Alg::RS256) => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(k), Alg::RS384) => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(k), Alg::RS512) => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(k), Alg::PS256) => {
                rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(k), Alg::PS384) => {
                rsa::pss::BlindedSigningKey::<sha2::Sha384>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(k), Alg::PS512) => {
                rsa::pss::BlindedSigningKey::<sha2::Sha512>::new(k.as_ref().clone()).try_sign_with_rng(rng, input).map_err(failed)?.to_vec()
            }
            (Inner::Rsa(_), other) => return Err(KeyError::WrongAlg { key: "RSA", alg: other }),
        })
    }

    /// The P-256 key, if it is one.
    pub fn as_p256(&self) -> Option<&P256Key> {
        match &self.inner {
            Inner::P256(k) => Some(k),
            _ => None,
        }
    }

    /// PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        match &self.inner {
            Inner::P256(k) => k.to_pkcs8_der(),
            Inner::P384(k) => p384::SecretKey::from(k).to_pkcs8_der().expect("a P-384 key encodes").as_bytes().to_vec(),
            Inner::Rsa(k) => rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(k.as_ref()).expect("an RSA key encodes").as_bytes().to_vec(),
        }
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Secret {
        Secret::new(pem::encode("PRIVATE KEY", &self.to_pkcs8_der()))
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`), what a server registers for the client.
    pub fn public_key_pem(&self) -> String {
        use p256::pkcs8::EncodePublicKey as _;
        let der = match &self.inner {
            Inner::P256(k) => p256::PublicKey::from(k.verifying_key()).to_public_key_der(),
            Inner::P384(k) => p384::PublicKey::from(k.verifying_key()).to_public_key_der(),
            Inner::Rsa(k) => k.to_public_key().to_public_key_der(),
        };
        pem::encode("PUBLIC KEY", der.expect("a public key encodes as SPKI").as_bytes())
    }

    /// A signed JWT (RFC 7519) with header `alg`, and `kid` / `typ` when given.
    pub fn sign_jwt(
        &self,
        alg: Alg,
        kid: Option<&str>,
        typ: Option<&str>,
        claims: &Value,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<String, KeyError> {
        let input = super::signing_input(&jwt_header(alg, kid, typ), claims);
        let signature = self.sign(alg, input.as_bytes(), rng)?;
        Ok(super::compact(&input, &signature))
    }

    /// The public JWK as JSON (no private members).
    pub fn public_jwk(&self) -> Value {
        match &self.inner {
            Inner::P256(k) => k.public_jwk().clone(),
            Inner::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({ "kty": "EC", "crv": "P-384", "x": b64url(p.x().expect("uncompressed")), "y": b64url(p.y().expect("uncompressed")) })
            }
            Inner::Rsa(k) => json!({ "kty": "RSA", "n": b64url(&k.n().to_bytes_be()), "e": b64url(&k.e().to_bytes_be()) }),
        }
    }

    /// The private JWK (JSON text, includes `d`; RSA with its CRT parameters, as WebCrypto and
    /// other tools want them).
    pub fn to_private_jwk(&self) -> Secret {
        let mut jwk = self.public_jwk();
        match &self.inner {
            Inner::P256(k) => return k.to_private_jwk(),
            Inner::P384(k) => jwk["d"] = b64url(&k.to_bytes()).into(),
            Inner::Rsa(k) => {
                let b = |n: &BigUint| b64url(&n.to_bytes_be());
                jwk["d"] = b(k.d()).into();
                if let [p, q] = k.primes() {
                    jwk["p"] = b(p).into();
                    jwk["q"] = b(q).into();
                    if let (Some(dp), Some(dq)) = (k.dp(), k.dq()) {
                        jwk["dp"] = b(dp).into();
                        jwk["dq"] = b(dq).into();
                    }
                    if let Some(qi) = k.crt_coefficient() {
                        jwk["qi"] = b(&qi).into();
                    }
                }
            }
        }
        Secret::new(jwk.to_string())
    }
}

/// A JWS header: `alg`, and `kid` / `typ` when given.
pub fn jwt_header(alg: Alg, kid: Option<&str>, typ: Option<&str>) -> Value {
    let mut header = json!({ "alg": alg.name() });
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    if let Some(typ) = typ {
        header["typ"] = typ.into();
    }
    header
}

fn jwk_bytes(jwk: &Value, name: &str) -> Result<Vec<u8>, KeyError> {
    let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| KeyError::BadJwk(format!("the JWK has no \"{name}\"")))?;
    b64url_decode(text).map_err(|e| KeyError::BadJwk(format!("\"{name}\": {e}")))
}

fn p384_from_jwk(jwk: &Value) -> Result<p384::ecdsa::SigningKey, KeyError> {
    let d = jwk_bytes(jwk, "d")?;
    let secret = p384::SecretKey::from_slice(&d).map_err(|_| KeyError::BadJwk("\"d\" is not a valid P-384 private scalar (48 bytes)".into()))?;
    let key = p384::ecdsa::SigningKey::from(secret);
    let p = key.verifying_key().to_encoded_point(false);
    for (name, part) in [("x", p.x()), ("y", p.y())] {
        if let Some(given) = jwk.get(name).and_then(Value::as_str) {
            if Some(given.to_owned()) != part.map(|b| b64url(b)) {
                return Err(KeyError::BadJwk(format!("\"{name}\" does not belong to \"d\": the JWK's public and private parts are of different keys")));
            }
        }
    }
    Ok(key)
}

/// Refuses a modulus over [`MAX_RSA_BITS`], and numbers longer than the modulus, before any
/// arithmetic: bounded input, bounded work.
fn check_rsa_size<'a>(modulus: &[u8], others: impl IntoIterator<Item = (&'a str, usize)>) -> Result<(), KeyError> {
    let modulus = &modulus[modulus.iter().take_while(|b| **b == 0).count()..];
    let bits = modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize);
    if bits > MAX_RSA_BITS {
        return Err(KeyError::Unsupported(format!(
            "a {bits}-bit RSA key is larger than this lab signs with (at most {MAX_RSA_BITS} bits; 2048 to 4096 is usual)"
        )));
    }
    for (name, len) in others {
        if len > modulus.len() + 1 {
            return Err(KeyError::Unreadable(format!("the RSA key's {name} is longer than its modulus: it is not an RSA key")));
        }
    }
    Ok(())
}

/// [`check_rsa_size`] of a PKCS#1 `RSAPrivateKey` (a malformed one is left to the parser to refuse).
fn check_rsa_der_size(der: &[u8]) -> Result<(), KeyError> {
    let Ok(k) = rsa::pkcs1::RsaPrivateKey::try_from(der) else { return Ok(()) };
    let others = [
        ("publicExponent", k.public_exponent.as_bytes().len()),
        ("privateExponent", k.private_exponent.as_bytes().len()),
        ("prime1", k.prime1.as_bytes().len()),
        ("prime2", k.prime2.as_bytes().len()),
        ("exponent1", k.exponent1.as_bytes().len()),
        ("exponent2", k.exponent2.as_bytes().len()),
        ("coefficient", k.coefficient.as_bytes().len()),
    ];
    check_rsa_size(k.modulus.as_bytes(), others)
}

fn rsa_from_jwk(jwk: &Value) -> Result<RsaPrivateKey, KeyError> {
    let n = jwk_bytes(jwk, "n")?;
    let lengths: Vec<(&str, usize)> =
        ["e", "d", "p", "q"].into_iter().filter_map(|m| jwk.get(m).and_then(Value::as_str).map(|t| (m, t.len() * 3 / 4))).collect();
    check_rsa_size(&n, lengths)?;
    let big = |name: &str| jwk_bytes(jwk, name).map(|b| BigUint::from_bytes_be(&b));
    let primes = match (jwk.get("p"), jwk.get("q")) {
        (Some(_), Some(_)) => vec![big("p")?, big("q")?],
        _ => vec![],
    };
    RsaPrivateKey::from_components(big("n")?, big("e")?, big("d")?, primes)
        .map_err(|e| KeyError::BadJwk(format!("the RSA JWK's members do not form a key: {e}")))
}
