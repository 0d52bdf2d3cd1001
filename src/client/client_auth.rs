//! Client authentication strategies for token requests: one value per method, applied to a request.
//!
//! | method | what goes on the wire |
//! |---|---|
//! | `client_secret_basic` | `Authorization: Basic base64(urlenc(id) ":" urlenc(secret))` (RFC 6749 §2.3.1) |
//! | `client_secret_post` | `client_id` and `client_secret` in the form (RFC 6749 §2.3.1) |
//! | `private_key_jwt` | `client_assertion` signed with the private key (RFC 7523 §2.2) |
//! | `client_secret_jwt` | `client_assertion` HMAC-signed with the secret (RFC 7523 §2.2) |
//! | `tls_client_auth` | `client_id` in the form; a CA-issued certificate in the TLS handshake (RFC 8705 §2.1) |
//! | `self_signed_tls_client_auth` | `client_id` in the form; a self-signed certificate whose key is pinned (RFC 8705 §2.2) |

use super::config::{Config, Method};
use super::error::Error;
use super::material::Material;
use crate::proto::clock::Timestamp;
use crate::proto::entropy::Entropy;
use crate::proto::http::HttpRequest;
use crate::proto::jose::{self, Alg};
use crate::proto::secret::Secret;
use serde_json::json;

/// `client_assertion_type` for JWT client authentication (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion, in seconds: short, as RFC 7523 §3 advises.
pub const ASSERTION_LIFETIME_SECS: u64 = 60;

/// Which of the device's keys must sign.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyRole {
    /// The DPoP key (every DPoP proof).
    Dpop,
    /// The main client's `private_key_jwt` key (client assertions).
    Assertion,
    /// The main client's secret, as the HMAC key of a `client_secret_jwt` assertion
    /// (RFC 7523 §2.2 with RFC 7518 §3.2). The browser signs with WebCrypto, native callers with
    /// [`jose::hmac_sign`]; the client module carries no SHA-384/512 of its own.
    SharedSecret,
}

/// Bytes a key of the device must sign before a request can go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// Which key.
    pub role: KeyRole,
    /// With which algorithm.
    pub alg: Alg,
    /// The JWS signing input (`base64url(header) "." base64url(claims)`).
    pub signing_input: String,
}

/// How a client proves its identity at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    SecretBasic {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// `client_secret_post`.
    SecretPost {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// `private_key_jwt`: the device's assertion key signs (a [`SignRequest`]).
    PrivateKeyJwt {
        /// Client id (`iss` and `sub`).
        client_id: String,
        /// The algorithm.
        alg: Alg,
        /// `kid` header.
        kid: String,
        /// `aud`; the token endpoint's external URL when `None`.
        audience: Option<String>,
    },
    /// `client_secret_jwt`.
    SecretJwt {
        /// Client id (`iss` and `sub`).
        client_id: String,
        /// The shared secret (HMAC key).
        secret: Secret,
        /// HS256, HS384 or HS512.
        alg: Alg,
        /// `aud`; the token endpoint's external URL when `None`.
        audience: Option<String>,
    },
    /// `tls_client_auth` or `self_signed_tls_client_auth`: the certificate is presented in the TLS
    /// handshake; the form only names the client.
    MutualTls {
        /// Client id.
        client_id: String,
        /// Which of the two methods.
        method: Method,
        /// The certificate chain, PEM, leaf first.
        chain_pem: String,
    },
}

impl ClientAuth {
    /// The main client's authentication, from the configuration and its key material.
    pub fn for_main_client(config: &Config, material: &Material) -> Result<Self, Error> {
        let cr = &config.credential;
        let client_id = config.client.client_id.clone();
        let secret = || Secret::new(cr.secret.clone().unwrap_or_default());
        let alg = || config.assertion_alg().ok_or_else(|| Error::State("validated configuration has no assertion alg".into()));
        Ok(match cr.method {
            Method::ClientSecretBasic => ClientAuth::SecretBasic { client_id, secret: secret() },
            Method::ClientSecretPost => ClientAuth::SecretPost { client_id, secret: secret() },
            Method::ClientSecretJwt => ClientAuth::SecretJwt { client_id, secret: secret(), alg: alg()?, audience: cr.audience.clone() },
            Method::PrivateKeyJwt => {
                let key = material.assertion_key.as_ref().ok_or_else(|| Error::State("private_key_jwt without a key".into()))?;
                let alg = alg()?;
                if key.family != alg.family() {
                    return Err(Error::Crypto(format!("a {} key cannot sign {alg}", key.family.name())));
                }
                ClientAuth::PrivateKeyJwt { client_id, alg, kid: key.kid(cr.kid.as_deref())?, audience: cr.audience.clone() }
            }
            Method::TlsClientAuth | Method::SelfSignedTlsClientAuth => ClientAuth::MutualTls {
                client_id,
                method: cr.method,
                chain_pem: material.mtls.as_ref().map(|m| m.chain_pem.clone()).ok_or_else(|| Error::State("mutual TLS without a certificate".into()))?,
            },
            Method::None => return Err(Error::State("method none reached the flow".into())),
        })
    }

    /// The RFC 7591 method name.
    pub fn method(&self) -> Method {
        match self {
            ClientAuth::SecretBasic { .. } => Method::ClientSecretBasic,
            ClientAuth::SecretPost { .. } => Method::ClientSecretPost,
            ClientAuth::PrivateKeyJwt { .. } => Method::PrivateKeyJwt,
            ClientAuth::SecretJwt { .. } => Method::ClientSecretJwt,
            ClientAuth::MutualTls { method, .. } => *method,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::SecretBasic { client_id, .. }
            | ClientAuth::SecretPost { client_id, .. }
            | ClientAuth::PrivateKeyJwt { client_id, .. }
            | ClientAuth::SecretJwt { client_id, .. }
            | ClientAuth::MutualTls { client_id, .. } => client_id,
        }
    }

    /// Authenticates `request` (a form POST to the token endpoint). `token_endpoint` is the
    /// server's *own* URL of it, the default assertion audience. A `private_key_jwt` assertion
    /// still needs its signature: the returned [`SignRequest`], whose compact JWS goes into the
    /// `client_assertion` parameter.
    pub fn apply(&self, request: &mut HttpRequest, token_endpoint: &str, now: Timestamp, rng: &mut dyn Entropy) -> Result<Option<SignRequest>, Error> {
        match self {
            ClientAuth::SecretBasic { client_id, secret } => {
                request.headers.set("authorization", basic_authorization(client_id, secret.expose()));
            }
            ClientAuth::SecretPost { client_id, secret } => {
                request.set_form_param("client_id", client_id);
                request.set_form_param("client_secret", secret.expose());
            }
            ClientAuth::PrivateKeyJwt { client_id, alg, kid, audience } => {
                let claims = assertion_claims(client_id, audience.as_deref().unwrap_or(token_endpoint), now, rng);
                let input = jose::signing_input(&json!({ "alg": alg.name(), "kid": kid, "typ": "JWT" }), &claims);
                request.set_form_param("client_id", client_id);
                request.set_form_param("client_assertion_type", JWT_BEARER);
                return Ok(Some(SignRequest { role: KeyRole::Assertion, alg: *alg, signing_input: input }));
            }
            ClientAuth::SecretJwt { client_id, alg, audience, .. } => {
                let claims = assertion_claims(client_id, audience.as_deref().unwrap_or(token_endpoint), now, rng);
                let input = jose::signing_input(&json!({ "alg": alg.name(), "typ": "JWT" }), &claims);
                request.set_form_param("client_id", client_id);
                request.set_form_param("client_assertion_type", JWT_BEARER);
                return Ok(Some(SignRequest { role: KeyRole::SharedSecret, alg: *alg, signing_input: input }));
            }
            ClientAuth::MutualTls { client_id, chain_pem, .. } => {
                request.set_form_param("client_id", client_id);
                request.client_certificate = Some(chain_pem.clone());
            }
        }
        Ok(None)
    }
}

/// `Basic` credentials per RFC 6749 §2.3.1: the id and the secret are each form-urlencoded first.
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", jose::b64(format!("{}:{}", enc(client_id), enc(secret)).as_bytes()))
}

/// The claims of a client assertion (RFC 7523 §3): `iss` = `sub` = client id, `aud`, a unique
/// `jti`, `iat`, `nbf` and a short `exp`.
pub fn assertion_claims(client_id: &str, audience: &str, now: Timestamp, rng: &mut dyn Entropy) -> serde_json::Value {
    let iat = now.secs();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": rng.token(16),
        "iat": iat,
        "nbf": iat,
        "exp": iat + ASSERTION_LIFETIME_SECS,
    })
}

/// Puts a signed assertion into a token request (RFC 7523 §2.2).
pub fn set_assertion(request: &mut HttpRequest, client_id: &str, jwt: &str) {
    // RFC 7521 §4.2 makes client_id optional; sending it helps servers find the client's keys.
    request.set_form_param("client_id", client_id);
    request.set_form_param("client_assertion_type", JWT_BEARER);
    request.set_form_param("client_assertion", jwt);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_encodes_each_half_before_base64() {
        // RFC 6749 §2.3.1: "my:client" / "p@ss word" become "my%3Aclient:p%40ss+word".
        let h = basic_authorization("my:client", "p@ss word");
        let decoded = String::from_utf8(crate::proto::base64::decode_standard(h.trim_start_matches("Basic ")).unwrap()).unwrap();
        assert_eq!(decoded, "my%3Aclient:p%40ss+word");
    }
}
