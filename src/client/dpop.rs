//! DPoP proofs (RFC 9449).
//!
//! A proof is built in two halves so that the key can live anywhere: [`unsigned_proof`] returns
//! the JWS signing input, the device's key signs those bytes (in this module's P-256 code, or as
//! a non-extractable WebCrypto key outside the core), and [`crate::proto::jose::compact`] joins
//! the signature. The flow never touches the private key.

use crate::proto::entropy::Entropy;
use crate::proto::jose::{b64url, signing_input};
use crate::proto::url::{origin_of, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

/// `typ` of a DPoP proof (RFC 9449 §4.2).
pub const TYP: &str = "dpop+jwt";

/// The `htu` of a request: its URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => u.without_query(),
        Err(_) => url[..url.find(['?', '#']).unwrap_or(url.len())].to_owned(),
    }
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
    /// The server's *own* URL of the endpoint (`htu` is derived from it), never the `sendVia` one.
    pub url: &'a str,
    /// The access token presented with the request, if any (`ath`).
    pub access_token: Option<&'a str>,
    /// The server's nonce, if it asked for one (`nonce`).
    pub nonce: Option<&'a str>,
}

/// The signing input of a proof (RFC 9449 §4.2): header `typ`, `alg`, `jwk`; claims `jti`, `htm`,
/// `htu`, `iat`, and `ath` / `nonce` when given.
pub fn unsigned_proof(alg: &str, public_jwk: &Value, input: &ProofInput<'_>, now_secs: u64, rng: &mut dyn Entropy) -> String {
    let header = json!({ "typ": TYP, "alg": alg, "jwk": public_jwk });
    let mut claims = json!({ "jti": rng.token(16), "htm": input.method, "htu": htu(input.url), "iat": now_secs });
    if let Some(token) = input.access_token {
        claims["ath"] = ath(token).into();
    }
    if let Some(nonce) = input.nonce {
        claims["nonce"] = nonce.into();
    }
    signing_input(&header, &claims)
}

/// The most recent `DPoP-Nonce` per origin of the server's own URLs (RFC 9449 §8), capped like
/// oauth4webapi's cache.
#[derive(Clone, Debug, Default)]
pub struct NonceMemory {
    entries: VecDeque<(String, String)>,
}

impl NonceMemory {
    const CAP: usize = 100;

    /// Remembers `nonce` for the origin of `server_url`.
    pub fn remember(&mut self, server_url: &str, nonce: &str) {
        let origin = origin_of(server_url);
        self.entries.retain(|(o, _)| *o != origin);
        if self.entries.len() == Self::CAP {
            self.entries.pop_front();
        }
        self.entries.push_back((origin, nonce.to_owned()));
    }

    /// The nonce to send to the origin of `server_url`.
    pub fn get(&self, server_url: &str) -> Option<&str> {
        let origin = origin_of(server_url);
        self.entries.iter().find(|(o, _)| *o == origin).map(|(_, n)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::entropy::SeededEntropy;
    use crate::proto::jose::{compact, decode_unverified, p256::verify_with_jwk, p256::P256Key, signing_input_of};

    #[test]
    fn htu_drops_query_and_fragment() {
        assert_eq!(htu("https://as.example/authorize?client_id=a#x"), "https://as.example/authorize");
        assert_eq!(htu("https://AS.example:443/token"), "https://as.example/token");
    }

    #[test]
    fn proof_has_rfc9449_header_and_claims_and_verifies_with_p256() {
        let mut rng = SeededEntropy::new(1);
        let key = P256Key::generate(&mut rng);
        let input = ProofInput { method: "GET", url: "https://as/r?q=1", access_token: Some("tok"), nonce: Some("n1") };
        let unsigned = unsigned_proof("ES256", key.public_jwk(), &input, 1_700_000_000, &mut rng);
        let jws = compact(&unsigned, &key.sign(unsigned.as_bytes()));
        let d = decode_unverified(&jws).unwrap();
        assert_eq!(d.header["typ"], TYP);
        assert_eq!(&d.header["jwk"], key.public_jwk());
        assert!(d.header["jwk"].get("d").is_none());
        assert_eq!(d.claims["htu"], "https://as/r");
        assert_eq!(d.claims["htm"], "GET");
        assert_eq!(d.claims["iat"], 1_700_000_000);
        assert_eq!(d.claims["nonce"], "n1");
        assert_eq!(d.claims["ath"], ath("tok"));
        assert!(verify_with_jwk(key.public_jwk(), signing_input_of(&jws).as_bytes(), &crate::proto::jose::b64url_decode(&d.signature).unwrap()));
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
