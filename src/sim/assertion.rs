//! JWT client assertions (RFC 7523 §2.2, §3): `private_key_jwt` and `client_secret_jwt`.

use super::client_auth::{AuthenticatedClient, Registered};
use super::dpop::jwk_family;
use super::request::numeric_claim;
use super::response::SimError;
use super::settings::AcceptAudience;
use super::Simulator;
use crate::proto::clock::Timestamp;
use crate::proto::jose::verify::{verify_jws, VerifyKey};
use crate::proto::jose::{self, Alg, JoseError, KeyFamily};
use crate::proto::pem;
use serde_json::Value;

fn invalid(description: impl Into<String>) -> SimError {
    SimError::invalid_client(description)
}

/// A registered verification key: its `kid` and family.
struct RegisteredKey {
    kid: String,
    family: Option<KeyFamily>,
    key: VerifyKey,
}

/// The main client's registered keys. A key's `kid` is its JWK `kid`, or else its RFC 7638
/// thumbprint (a PEM key's: that of its public JWK form). A key that cannot be read is a settings
/// error (500 with what to fix).
fn registered_keys(jwks: &[Value], pems: &[String]) -> Result<Vec<RegisteredKey>, SimError> {
    let mut keys = Vec::new();
    for (i, value) in jwks.iter().enumerate() {
        let bad = |e: &dyn std::fmt::Display| SimError::server_error(format!("registered key #{i} of the main client is not a usable public JWK: {e}"));
        let key = VerifyKey::from_jwk(value).map_err(|e| bad(&e))?;
        let kid = match value.get("kid").and_then(Value::as_str) {
            Some(kid) => kid.to_owned(),
            None => jose::thumbprint(value).map_err(|e| bad(&e))?,
        };
        keys.push(RegisteredKey { kid, family: jwk_family(value), key });
    }
    for (i, text) in pems.iter().enumerate() {
        let bad = |e: &dyn std::fmt::Display| SimError::server_error(format!("mainClient.authentication.publicKeysPem[{i}]: {e}"));
        let block = pem::parse_one(text).map_err(|e| bad(&e))?;
        if block.label != "PUBLIC KEY" {
            return Err(bad(&format!("a {} block is not a PUBLIC KEY (SPKI)", block.label)));
        }
        let key = spki_key(&block.der).map_err(|e| bad(&e))?;
        let jwk = key.public_jwk().ok_or_else(|| bad(&"not an asymmetric public key"))?;
        keys.push(RegisteredKey { kid: jose::thumbprint(&jwk).map_err(|e| bad(&e))?, family: Some(key.family()), key });
    }
    Ok(keys)
}

#[cfg(feature = "sim")]
fn spki_key(der: &[u8]) -> Result<VerifyKey, String> {
    VerifyKey::from_spki_der(der).map_err(|e| e.to_string())
}
#[cfg(not(feature = "sim"))]
fn spki_key(_: &[u8]) -> Result<VerifyKey, String> {
    Err("this build of the simulator (sim-lite) reads no PEM public keys: the whole simulator module (pkg/sim/) does".into())
}

impl Simulator {
    /// Verifies a JWT client assertion (RFC 7523 §3) and records its `jti`.
    ///
    /// Order: signature first (with an algorithm that fits the registered credential: asymmetric
    /// keys for `private_key_jwt`, the secret for `client_secret_jwt`, never `none`), then the
    /// claims `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, lifetime and `jti`. Every failure is
    /// 401 `invalid_client` (RFC 6749 §5.2).
    pub(super) fn verify_client_assertion(&mut self, assertion: &str, form_client_id: Option<&str>, now: Timestamp) -> Result<AuthenticatedClient, SimError> {
        let decoded = jose::decode_unverified(assertion).map_err(|e| invalid(format!("client_assertion is not a compact JWS (RFC 7515 §7.1): {e}")))?;
        let (header, claims) = (&decoded.header, &decoded.claims);
        let client_id = form_client_id
            .or_else(|| claims.get("sub").and_then(Value::as_str))
            .ok_or_else(|| invalid("the client assertion names no client: set sub (and iss) to the client_id (RFC 7523 §3 points 1-2)"))?
            .to_owned();
        let auth = match self.find_client(&client_id) {
            None => return Err(invalid(format!("unknown client {client_id:?}"))),
            Some(Registered::Dynamic(_)) => {
                return Err(invalid(format!(
                    "dynamic client {client_id:?} authenticates with its client_secret (client_secret_basic or client_secret_post), not an assertion"
                )))
            }
            Some(Registered::Main(auth)) => auth,
        };

        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(invalid("the client assertion has alg \"none\": unsigned assertions are never accepted (RFC 7523 §3 point 9, RFC 8725 §3.1)"));
        }
        let alg = Alg::parse(alg_name).map_err(|e| invalid(format!("the client assertion's alg is refused: {e}")))?;
        if !self.settings.allowed_assertion_algs.contains(&alg) {
            return Err(invalid(format!("alg {alg} is not allowed for client assertions here (allowedAssertionAlgs)")));
        }
        use super::settings::ClientAuthentication as A;
        let keys: Vec<RegisteredKey> = match (&auth, alg.is_symmetric()) {
            (A::PrivateKeyJwt { jwks, public_keys_pem }, false) => registered_keys(jwks, public_keys_pem)?,
            (A::ClientSecretJwt { secret }, true) => {
                vec![RegisteredKey { kid: String::new(), family: Some(KeyFamily::Hmac), key: VerifyKey::from_secret(secret.expose().as_bytes()) }]
            }
            (A::PrivateKeyJwt { .. }, true) => return Err(invalid(format!(
                "algorithm confusion refused: {alg} is an HMAC algorithm, but client {client_id:?} is registered for private_key_jwt with public keys; sign with its private key (RS*, PS*, ES*)"
            ))),
            (A::ClientSecretJwt { .. }, false) => return Err(invalid(format!(
                "algorithm confusion refused: {alg} needs a key pair, but client {client_id:?} is registered for client_secret_jwt; sign with HS256, HS384 or HS512 over the client secret"
            ))),
            (other, _) => return Err(invalid(format!(
                "client {client_id:?} is registered for {}, but authenticated with a JWT assertion",
                other.method_name()
            ))),
        };
        let candidates: Vec<&RegisteredKey> = match (&auth, header.get("kid")) {
            (A::PrivateKeyJwt { .. }, Some(kid)) => {
                let kid = kid.as_str().ok_or_else(|| invalid("the assertion's kid must be a string (RFC 7515 §4.1.4)"))?;
                let found: Vec<_> = keys.iter().filter(|k| k.kid == kid).collect();
                if found.is_empty() {
                    let known: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
                    return Err(invalid(format!("unknown kid {kid:?}: client {client_id:?} has keys {known:?}")));
                }
                found
            }
            _ => keys.iter().collect(),
        };
        let fitting: Vec<_> = candidates.into_iter().filter(|k| k.family == Some(alg.family())).collect();
        if fitting.is_empty() {
            return Err(invalid(format!("no registered key of client {client_id:?} fits alg {alg}")));
        }
        let mut last = JoseError::BadSignature;
        let verified = fitting.iter().any(|k| match verify_jws(assertion, &k.key, &[alg]) {
            Ok(_) => true,
            Err(e) => {
                last = e;
                false
            }
        });
        if !verified {
            return Err(invalid(match last {
                JoseError::BadSignature => format!(
                    "the client assertion's signature does not verify with the registered {} of client {client_id:?}",
                    if alg.is_symmetric() { "secret" } else { "keys" }
                ),
                other => format!("the client assertion cannot be verified: {other}"),
            }));
        }
        self.check_assertion_claims(&client_id, claims, now)?;
        Ok(AuthenticatedClient { client_id, template: None, public: false })
    }

    /// The claim checks of RFC 7523 §3, after the signature verified. Records the `jti`.
    fn check_assertion_claims(&mut self, client_id: &str, claims: &serde_json::Map<String, Value>, now: Timestamp) -> Result<(), SimError> {
        let iss = claims.get("iss").and_then(Value::as_str);
        let sub = claims.get("sub").and_then(Value::as_str);
        if iss != Some(client_id) || sub != Some(client_id) {
            return Err(invalid(format!(
                "iss ({}) and sub ({}) must both be the client_id {client_id:?} (RFC 7523 §3 points 1-2)",
                iss.unwrap_or("absent"),
                sub.unwrap_or("absent")
            )));
        }
        let endpoints = self.endpoints.as_ref().map_err(|e| SimError::server_error(e.clone()))?;
        let mut accepted = vec![endpoints.token.as_str()];
        if self.settings.accept_audience == AcceptAudience::TokenEndpointOrIssuer {
            accepted.push(endpoints.issuer.as_str());
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.iter().any(|a| accepted.contains(a)) {
            return Err(invalid(format!(
                "aud {audiences:?} does not identify this server: set it to the token endpoint's external URL {} (RFC 7523 §3 point 3)",
                endpoints.token
            )));
        }
        let skew = i64::try_from(self.settings.clock_skew_secs).unwrap_or(i64::MAX);
        let now = i64::try_from(now.secs()).unwrap_or(i64::MAX);
        let exp = numeric_claim(claims, "exp").map_err(invalid)?.ok_or_else(|| invalid("the client assertion needs exp (RFC 7523 §3 point 4)"))?;
        if now > exp.saturating_add(skew) {
            return Err(invalid(format!(
                "the client assertion expired: exp {exp} is {}s before the server's time {now} (clock skew {skew}s); make a fresh one",
                now.saturating_sub(exp)
            )));
        }
        if let Some(nbf) = numeric_claim(claims, "nbf").map_err(invalid)? {
            if nbf > now.saturating_add(skew) {
                return Err(invalid(format!(
                    "the client assertion is not valid yet: nbf {nbf} is {}s after the server's time {now} (RFC 7523 §3 point 5); check the client's clock",
                    nbf.saturating_sub(now)
                )));
            }
        }
        let iat = numeric_claim(claims, "iat").map_err(invalid)?;
        if let Some(iat) = iat {
            if iat > now.saturating_add(skew) {
                return Err(invalid(format!("the client assertion was issued in the future: iat {iat} is {}s after the server's time {now} (RFC 7523 §3 point 6); check the client's clock", iat.saturating_sub(now))));
            }
        }
        let lifetime = exp.saturating_sub(iat.unwrap_or(now));
        let max = i64::try_from(self.settings.max_assertion_lifetime_secs).unwrap_or(i64::MAX);
        if lifetime > max {
            return Err(invalid(format!("the client assertion lives {lifetime}s (exp - iat); at most {max}s are accepted (maxAssertionLifetimeSecs)")));
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty())
            .ok_or_else(|| invalid("the client assertion needs a jti, unique per assertion (RFC 7523 §3 point 7)"))?;
        let key = (client_id.to_owned(), jti.to_owned());
        let forget_after = u64::try_from(exp.saturating_add(skew)).unwrap_or(0);
        if !self.store.assertion_jtis.lock().insert_new(key, forget_after) {
            return Err(invalid(format!("the client assertion's jti {jti:?} was already used: make a new assertion for every request (RFC 7523 §3 point 7)")));
        }
        Ok(())
    }
}
