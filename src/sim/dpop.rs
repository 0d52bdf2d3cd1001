//! DPoP proof verification (RFC 9449 §4.3) and server nonces (RFC 9449 §8).

use super::request::numeric_claim;
use super::settings::DpopNonceMode;
use super::Simulator;
use crate::proto::clock::Timestamp;
use crate::proto::http::HttpRequest;
use crate::proto::jose::verify::{verify_jws, VerifyKey};
use crate::proto::jose::{self, Alg, KeyFamily};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). A
/// DPoP proof's `jwk` must not contain any of them (RFC 9449 §4.3 point 7).
pub(super) const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What the proof must match.
pub(super) struct ProofTarget<'a> {
    /// The request method (`htm`).
    pub method: &'a str,
    /// The endpoint's external URL (`htu`).
    pub url: &'a str,
    /// The access token presented with the proof (checked with `ath`); `None` at the token
    /// endpoint, where `ath` must be absent…
    pub access_token: Option<&'a str>,
    /// …unless tolerated: Curity's own client sends `ath` (of its HAAPI token) with the code
    /// exchange, and Curity accepts it (docs/protocol.md §2).
    pub tolerate_ath: bool,
}

/// A proof that passed every check; [`Simulator::commit_proof`] records its `jti`.
#[derive(Debug)]
pub(super) struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof key (`cnf.jkt`, RFC 9449 §6.1).
    pub jkt: String,
    jti: String,
    forget_after: u64,
}

impl VerifiedProof {
    /// Why this proof is refused when its `jti` was recorded by a request running at the same
    /// time ([`Simulator::commit_proof`] returned `false`).
    pub fn replayed(&self) -> String {
        replayed(&self.jti)
    }
}

/// Why a proof is refused.
#[derive(Debug)]
pub(super) enum ProofFailure {
    /// No `DPoP` header.
    Missing,
    /// The proof is invalid (`invalid_dpop_proof`, RFC 9449 §5, §7.1).
    Invalid(String),
    /// A nonce is required and the proof's is missing or stale (`use_dpop_nonce`, RFC 9449 §8).
    Nonce(String),
}

/// The key family a JWK belongs to, from `kty` and `crv`.
pub(super) fn jwk_family(jwk: &Value) -> Option<KeyFamily> {
    match (jwk.get("kty")?.as_str()?, jwk.get("crv").and_then(Value::as_str)) {
        ("EC", Some("P-256")) => Some(KeyFamily::P256),
        ("EC", Some("P-384")) => Some(KeyFamily::P384),
        ("RSA", _) => Some(KeyFamily::Rsa),
        ("oct", _) => Some(KeyFamily::Hmac),
        _ => None,
    }
}

/// `ath`: base64url of SHA-256 over the access token's ASCII (RFC 9449 §4.2).
pub(super) fn ath(access_token: &str) -> String {
    jose::b64url(&Sha256::digest(access_token.as_bytes()))
}

/// Compares an `htu` with the expected URL, ignoring query and fragment, with scheme and host
/// compared case-insensitively and default ports normalised (RFC 9449 §4.3 point 9, RFC 3986
/// §6.2.2-6.2.3).
fn same_htu(htu: &str, expected: &str) -> bool {
    use crate::proto::url::Url;
    let (Ok(a), Ok(b)) = (Url::parse(htu), Url::parse(expected)) else { return false };
    a.origin() == b.origin() && a.path() == b.path()
}

/// Why a proof whose `jti` was seen before is refused.
fn replayed(jti: &str) -> String {
    format!("the proof's jti {jti:?} was already used with this key: make a new proof for every request (RFC 9449 §11.1)")
}

impl Simulator {
    /// Verifies the request's `DPoP` header against `target` (RFC 9449 §4.3, points 1-12, and
    /// §8 for the nonce). The proof's `jti` is checked but not yet recorded.
    pub(super) fn verify_proof(&self, request: &HttpRequest, target: &ProofTarget<'_>, now: Timestamp) -> Result<VerifiedProof, ProofFailure> {
        use ProofFailure::Invalid;
        let values: Vec<&str> = request.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("dpop")).map(|(_, v)| v).collect();
        let proof = match values.as_slice() {
            [] => return Err(ProofFailure::Missing),
            [one] if !one.contains(',') && !one.trim().is_empty() => one.trim(),
            _ => return Err(Invalid("send exactly one DPoP header holding one proof (RFC 9449 §4.3 point 1)".into())),
        };
        let decoded = jose::decode_unverified(proof).map_err(|e| Invalid(format!("the DPoP proof is not a compact JWS (RFC 9449 §4.3 point 2): {e}")))?;
        let header = &decoded.header;
        let claims = &decoded.claims;
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(Invalid(format!(
                "the proof's typ must be \"dpop+jwt\" (RFC 9449 §4.3 point 4), not {}",
                header.get("typ").map_or("absent".into(), Value::to_string)
            )));
        }
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Alg::parse(alg_name).map_err(|e| Invalid(format!("the proof's alg is refused (RFC 9449 §4.3 point 5): {e}")))?;
        if alg.is_symmetric() || !self.settings.dpop_algs.contains(&alg) {
            return Err(Invalid(format!(
                "the proof's alg {alg} is not allowed; use one of {} (RFC 9449 §4.3 point 5)",
                self.settings.dpop_alg_names().join(", ")
            )));
        }
        let Some(jwk_value) = header.get("jwk").filter(|j| j.is_object()) else {
            return Err(Invalid("the proof header has no jwk object with the public key (RFC 9449 §4.2)".into()));
        };
        if let Some(private) = PRIVATE_JWK_MEMBERS.iter().find(|m| jwk_value.get(**m).is_some()) {
            return Err(Invalid(format!("the proof's jwk contains the private member \"{private}\": send the public key only (RFC 9449 §4.3 point 7); this key is now exposed, generate a new one")));
        }
        if jwk_family(jwk_value) != Some(alg.family()) {
            return Err(Invalid(format!(
                "the proof's jwk (kty {}, crv {}) does not fit alg {alg} (RFC 9449 §4.3 point 6)",
                jwk_value.get("kty").map_or("absent".into(), Value::to_string),
                jwk_value.get("crv").map_or("absent".into(), Value::to_string)
            )));
        }
        let key = VerifyKey::from_jwk(jwk_value).map_err(|e| Invalid(format!("the proof's jwk is not a usable public key: {e}")))?;
        verify_jws(proof, &key, &[alg]).map_err(|e| Invalid(format!("the proof's signature does not verify with its jwk (RFC 9449 §4.3 point 6): {e}")))?;
        let jkt = jose::thumbprint(jwk_value).map_err(|e| Invalid(format!("cannot compute the jwk thumbprint: {e}")))?;

        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| Invalid("the proof needs a jti (a unique string of at most 256 characters, RFC 9449 §4.2)".into()))?;
        let htm = claims.get("htm").and_then(Value::as_str).unwrap_or("");
        if htm != target.method {
            return Err(Invalid(format!("the proof's htm is {htm:?} but the request method is {} (RFC 9449 §4.3 point 8)", target.method)));
        }
        let htu = claims.get("htu").and_then(Value::as_str).unwrap_or("");
        if !same_htu(htu, target.url) {
            return Err(Invalid(format!(
                "the proof's htu is {htu:?}; it must be the server's external URL {} without query or fragment (RFC 9449 §4.3 point 9)",
                target.url
            )));
        }
        let iat = numeric_claim(claims, "iat").map_err(Invalid)?.ok_or_else(|| Invalid("the proof needs an iat (RFC 9449 §4.2)".into()))?;
        let now_secs = i64::try_from(now.secs()).unwrap_or(i64::MAX);
        let window = i64::try_from(self.settings.dpop_iat_window_secs.saturating_add(self.settings.clock_skew_secs)).unwrap_or(i64::MAX);
        if iat.saturating_add(window) < now_secs {
            return Err(Invalid(format!("the proof is stale: iat {iat} is {}s before the server's time {now_secs}; at most {window}s are accepted, so make a fresh proof for each request (RFC 9449 §4.3 point 11)", now_secs.saturating_sub(iat))));
        }
        if iat > now_secs.saturating_add(window) {
            return Err(Invalid(format!(
                "the proof's iat {iat} is {}s after the server's time {now_secs} (at most {window}s): check the client's clock (RFC 9449 §4.3 point 11)",
                iat.saturating_sub(now_secs)
            )));
        }
        match (target.access_token, claims.get("ath")) {
            (None, None) => {}
            (None, Some(_)) if target.tolerate_ath => {}
            (None, Some(_)) => {
                return Err(Invalid(
                    "the proof has an ath claim, but no access token is presented here: leave ath out at the token endpoint (RFC 9449 §4.2)".into(),
                ))
            }
            (Some(_), None) => return Err(Invalid("the proof needs ath, the hash of the access token it is sent with (RFC 9449 §4.3 point 12)".into())),
            (Some(token), Some(value)) => {
                if value.as_str() != Some(ath(token).as_str()) {
                    return Err(Invalid(
                        "the proof's ath is not base64url(SHA-256(access token)) of the token in the Authorization header (RFC 9449 §4.3 point 12)".into(),
                    ));
                }
            }
        }
        if self.store.dpop_jtis.lock().contains_key(&(jkt.clone(), jti.to_owned())) {
            return Err(Invalid(replayed(jti)));
        }
        if self.settings.dpop_nonce == DpopNonceMode::Required {
            match claims.get("nonce").and_then(Value::as_str) {
                None => {
                    return Err(ProofFailure::Nonce(
                        "this server requires a nonce in DPoP proofs: retry with the nonce from the DPoP-Nonce header (RFC 9449 §8)".into(),
                    ))
                }
                Some(nonce) if self.store.nonces.lock().get(nonce).is_none_or(|exp| *exp <= now.secs()) => {
                    return Err(ProofFailure::Nonce(
                        "the proof's nonce is unknown or expired: retry with the nonce from this response's DPoP-Nonce header (RFC 9449 §8)".into(),
                    ))
                }
                Some(_) => {}
            }
        }
        let forget_after = u64::try_from(iat.saturating_add(window)).unwrap_or(0);
        Ok(VerifiedProof { jkt, jti: jti.to_owned(), forget_after })
    }

    /// Records an accepted proof's `jti`, so a replay is refused (RFC 9449 §11.1). Entries are
    /// forgotten once the proof's `iat` is out of the window anyway. `false` if the `jti` was
    /// recorded in the meantime (the same proof sent twice at once): the caller refuses it.
    #[must_use]
    pub(super) fn commit_proof(&mut self, proof: &VerifiedProof) -> bool {
        self.store.dpop_jtis.lock().insert_new((proof.jkt.clone(), proof.jti.clone()), proof.forget_after)
    }

    /// Issues a fresh nonce (RFC 9449 §8) valid for `dpopNonceTtlSecs`.
    pub(super) fn fresh_nonce(&mut self, now: Timestamp) -> String {
        use crate::proto::entropy::Entropy as _;
        let nonce = self.rng.token(16);
        let mut nonces = self.store.nonces.lock();
        while nonces.len() >= super::MAX_NONCES && nonces.evict_first().is_some() {}
        nonces.insert(nonce.clone(), now.secs().saturating_add(self.settings.dpop_nonce_ttl_secs));
        nonce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_comparison_ignores_query_case_and_default_port() {
        assert!(same_htu("HTTPS://LocalHost:443/oauth/v2/oauth-token?x=1#f", "https://localhost/oauth/v2/oauth-token"));
        assert!(!same_htu("https://localhost:8443/oauth/v2/oauth-token", "https://localhost/oauth/v2/oauth-token"));
        assert!(!same_htu("https://localhost/oauth/v2/OAUTH-token", "https://localhost/oauth/v2/oauth-token"));
        assert!(!same_htu("not a url", "https://localhost/"));
    }
}
