//! DPoP proofs (RFC 9449).
//!
//! A proof is built in two halves so that the key can live anywhere: [`unsigned_proof`] returns the
//! JWS signing input, any [`DpopSigner`] (or an asynchronous non-extractable WebCrypto key) signs
//! those bytes, and [`finish`] joins the signature. The flow never touches the private key.

use crate::entropy::Entropy;
use crate::jose::b64url;
use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

/// `typ` of a DPoP proof (RFC 9449 §4.2).
pub const TYP: &str = "dpop+jwt";

/// Signs DPoP signing input synchronously. The `wasm` key store is one; a WebCrypto key signs
/// asynchronously outside the core and hands the signature to the flow instead.
pub trait DpopSigner {
    /// The JWS `alg` (`ES256`).
    fn alg(&self) -> &'static str;
    /// The public JWK put in every proof's header.
    fn public_jwk(&self) -> Value;
    /// The JWS signature over `signing_input` (for ES256: the 64-byte `r || s`, RFC 7518 §3.4).
    fn sign(&self, signing_input: &[u8]) -> Vec<u8>;
}

/// A P-256 DPoP key held in memory (the `wasm` key store): exportable, for teaching.
#[derive(Clone)]
pub struct DpopKey {
    key: p256::ecdsa::SigningKey,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey({})", self.jwk)
    }
}

impl DpopKey {
    /// A new key.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self::from_secret(p256::SecretKey::random(rng))
    }

    /// Wraps an existing P-256 key (PEM or JWK import goes through [`crate::jose::PrivateKey`]).
    pub fn from_private_key(key: &crate::jose::PrivateKey) -> Option<Self> {
        key.as_p256().cloned().map(Self::from_secret)
    }

    fn from_secret(secret: p256::SecretKey) -> Self {
        let jwk = serde_json::from_str(&secret.public_key().to_jwk_string()).expect("a P-256 public JWK is JSON");
        DpopKey { key: p256::ecdsa::SigningKey::from(secret), jwk }
    }

    /// The private key as a [`crate::jose::PrivateKey`] (to export it as PEM or JWK).
    pub fn to_private_key(&self) -> crate::jose::PrivateKey {
        let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&p256::SecretKey::from(&self.key), p256::pkcs8::LineEnding::LF)
            .expect("a P-256 key encodes");
        crate::jose::PrivateKey::from_pem(&der).expect("our own PEM parses")
    }
}

impl DpopSigner for DpopKey {
    fn alg(&self) -> &'static str {
        "ES256"
    }
    fn public_jwk(&self) -> Value {
        self.jwk.clone()
    }
    fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(signing_input);
        sig.to_bytes().to_vec()
    }
}

/// The `htu` of a request: its URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_owned()
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    b64url(&Sha256::digest(access_token.as_bytes()))
}

/// What a proof asserts about one request.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofInput<'a> {
    /// HTTP method (`htm`).
    pub method: &'a str,
    /// The server's *external* URL of the endpoint (`htu` is derived from it).
    pub url: &'a str,
    /// The access token presented with the request, if any (`ath`).
    pub access_token: Option<&'a str>,
    /// The server's nonce, if it asked for one (`nonce`).
    pub nonce: Option<&'a str>,
}

/// A proof waiting for its signature.
#[derive(Clone, Debug, PartialEq)]
pub struct UnsignedProof {
    /// `base64url(header) "." base64url(claims)`: the bytes to sign.
    pub signing_input: String,
    /// The JWS `alg` the signature must use.
    pub alg: String,
}

/// Builds the header and claims of a proof (RFC 9449 §4.2): `typ`, `alg`, `jwk`; `jti`, `htm`,
/// `htu`, `iat`, and `ath` / `nonce` when given.
pub fn unsigned_proof(alg: &str, public_jwk: &Value, input: &ProofInput<'_>, now_secs: u64, rng: &mut dyn Entropy) -> UnsignedProof {
    let header = json!({ "typ": TYP, "alg": alg, "jwk": public_jwk });
    let mut claims = json!({ "jti": rng.token(16), "htm": input.method, "htu": htu(input.url), "iat": now_secs });
    if let Some(token) = input.access_token {
        claims["ath"] = ath(token).into();
    }
    if let Some(nonce) = input.nonce {
        claims["nonce"] = nonce.into();
    }
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    UnsignedProof { signing_input, alg: alg.to_owned() }
}

/// Joins a signature to its signing input: the compact JWS.
pub fn finish(proof: &UnsignedProof, signature: &[u8]) -> String {
    format!("{}.{}", proof.signing_input, b64url(signature))
}

/// The most recent `DPoP-Nonce` per origin (RFC 9449 §8), capped like oauth4webapi's cache.
#[derive(Clone, Debug, Default)]
pub struct NonceMemory {
    entries: VecDeque<(String, String)>,
}

impl NonceMemory {
    const CAP: usize = 100;

    /// Remembers `nonce` for the origin of `url`.
    pub fn remember(&mut self, url: &str, nonce: &str) {
        let origin = origin(url);
        self.entries.retain(|(o, _)| *o != origin);
        if self.entries.len() == Self::CAP {
            self.entries.pop_front();
        }
        self.entries.push_back((origin, nonce.to_owned()));
    }

    /// The nonce to send to the origin of `url`.
    pub fn get(&self, url: &str) -> Option<&str> {
        let origin = origin(url);
        self.entries.iter().find(|(o, _)| *o == origin).map(|(_, n)| n.as_str())
    }
}

/// The ASCII serialisation of a URL's origin (RFC 6454 §6.2), or the text itself when it is not a URL.
pub fn origin(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn htu_drops_query_and_fragment() {
        assert_eq!(htu("https://as.example/authorize?client_id=a#x"), "https://as.example/authorize");
        assert_eq!(htu("https://as.example/token"), "https://as.example/token");
    }

    #[test]
    fn proof_has_rfc9449_header_and_claims_and_verifies_with_p256() {
        let mut rng = SeededEntropy::new(1);
        let key = DpopKey::generate(&mut rng);
        let input = ProofInput { method: "GET", url: "https://as/r?q=1", access_token: Some("tok"), nonce: Some("n1") };
        let unsigned = unsigned_proof("ES256", &key.public_jwk(), &input, 1_700_000_000, &mut rng);
        let jws = finish(&unsigned, &key.sign(unsigned.signing_input.as_bytes()));
        let d = crate::jose::decode_unverified(&jws).unwrap();
        assert_eq!(d.header["typ"], TYP);
        assert_eq!(d.header["jwk"], key.public_jwk());
        assert!(d.header["jwk"].get("d").is_none());
        assert_eq!(d.claims["htu"], "https://as/r");
        assert_eq!(d.claims["htm"], "GET");
        assert_eq!(d.claims["iat"], 1_700_000_000);
        assert_eq!(d.claims["nonce"], "n1");
        assert_eq!(d.claims["ath"], ath("tok"));
        let vk = p256::ecdsa::VerifyingKey::from(&key.key);
        let sig = p256::ecdsa::Signature::from_slice(&crate::jose::b64url_decode(&d.signature).unwrap()).unwrap();
        vk.verify(unsigned.signing_input.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn ath_matches_rfc9449_example() {
        // RFC 9449 §7.1: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" has ath
        // "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
        assert_eq!(ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    }

    #[test]
    fn nonce_memory_is_per_origin() {
        let mut m = NonceMemory::default();
        m.remember("https://a.example/token", "n1");
        m.remember("https://a.example/authorize", "n2");
        m.remember("https://b.example/token", "n3");
        assert_eq!(m.get("https://a.example/x"), Some("n2"));
        assert_eq!(m.get("https://b.example/"), Some("n3"));
        assert_eq!(m.get("https://c.example/"), None);
    }
}
