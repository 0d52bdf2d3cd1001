//! The local server's ES256, through ring: the simulator's hot paths natively, where ring's
//! assembly is several times faster than the portable RustCrypto code the WebAssembly modules
//! carry (and the simulator uses everywhere else).
//!
//! - [`install`]: a `jsonwebtoken` provider whose ES256 verifier is ring's (client assertions,
//!   DPoP proofs, the server's own tokens when they come back); every other algorithm goes to the
//!   crate's own provider (`haapi_lab::proto::jose::verify::PROVIDER`) unchanged.
//! - [`token_signer`]: the simulator's token-signing key in ring, for the tokens it issues
//!   (`Simulator::set_token_signer`). ring's ECDSA draws a fresh nonce from the OS for each
//!   signature, so the local server's tokens are not deterministic; the simulator's own signer
//!   (RFC 6979) stays the default everywhere else.
//!
//! Same answers as the crate's provider: a public key that is not a point on P-256 is refused
//! when the verifier is made (`InvalidKeyFormat`), before any signature is looked at.

use haapi_lab::proto::jose::verify::PROVIDER;
use haapi_lab::sim::TokenSigner;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::sync::Arc;

type JwtResult<T> = jsonwebtoken::errors::Result<T>;

static RING_PROVIDER: CryptoProvider = CryptoProvider { signer_factory, verifier_factory, key_utils: KeyUtils::new_unimplemented() };

/// Installs the provider for this process. Call before the simulator verifies anything: the
/// crate installs its own on first use otherwise, and the first one installed stays.
pub fn install() -> Result<(), String> {
    RING_PROVIDER.install_default().map_err(|_| "another jsonwebtoken provider was installed first".to_owned())
}

/// ES256 signatures by the simulator's signing key (`pkcs8`: `Simulator::signing_key_pkcs8_der`).
pub fn token_signer(pkcs8: &[u8]) -> Result<TokenSigner, String> {
    let rng = ring::rand::SystemRandom::new();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).map_err(|e| format!("ring cannot read the simulator's signing key: {e}"))?;
    // An empty signature (the OS's randomness failed) is refused by the simulator as a 500.
    Ok(Arc::new(move |input: &[u8]| pair.sign(&rng, input).map(|s| s.as_ref().to_vec()).unwrap_or_default()))
}

fn signer_factory(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    (PROVIDER.signer_factory)(alg, key)
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    match (alg, key.kind()) {
        (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
            // The check the crate's provider makes when it reads the key.
            p256::PublicKey::from_sec1_bytes(point).map_err(|_| jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat))?;
            Ok(Box::new(RingEs256(point.clone())))
        }
        _ => (PROVIDER.verifier_factory)(alg, key),
    }
}

/// An ES256 verifier: the uncompressed SEC1 point of the public key.
struct RingEs256(Vec<u8>);

impl signature::Verifier<Vec<u8>> for RingEs256 {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.0).verify(msg, signature).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingEs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haapi_lab::proto::entropy::SeededEntropy;
    use haapi_lab::proto::jose::p256::P256Key;

    /// ring's signatures verify with the portable verifier and the portable signer's with
    /// ring's; a changed message or signature does not; a JWK that is not on the curve is refused
    /// when the verifier is made, as by the crate's provider.
    #[test]
    fn ring_and_the_portable_code_agree_on_es256() {
        let key = P256Key::generate(&mut SeededEntropy::new(9));
        let jwk = key.public_jwk();
        let point = DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap();
        let ring_verifier = verifier_factory(&Algorithm::ES256, &point).unwrap();
        let portable_verifier = (PROVIDER.verifier_factory)(&Algorithm::ES256, &point).unwrap();

        let by_ring = token_signer(&key.to_pkcs8_der()).unwrap()(b"header.claims");
        assert_eq!(by_ring.len(), 64);
        assert!(portable_verifier.verify(b"header.claims", &by_ring).is_ok());
        assert!(portable_verifier.verify(b"header.claimz", &by_ring).is_err());

        let portable = key.sign(b"header.claims");
        assert!(ring_verifier.verify(b"header.claims", &portable).is_ok());
        let mut bent = portable.clone();
        bent[10] ^= 1;
        assert!(ring_verifier.verify(b"header.claims", &bent).is_err());
        assert!(ring_verifier.verify(b"header.claimz", &portable).is_err());

        let off_curve = DecodingKey::from_ec_components("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let refused = verifier_factory(&Algorithm::ES256, &off_curve).err().expect("an off-curve key is refused");
        assert!(matches!(refused.kind(), jsonwebtoken::errors::ErrorKind::InvalidKeyFormat));
        assert!((PROVIDER.verifier_factory)(&Algorithm::ES256, &off_curve).is_err(), "as the crate's provider does");
    }
}
