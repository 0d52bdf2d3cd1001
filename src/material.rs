//! The main client's key material: read from the configuration, or generated when it is null.
//!
//! Generated material only works with a server that learns it too: the simulator registers it
//! (see [`crate::lab`]); a real server must be given the pasted key or certificate instead, which
//! configuration validation insists on.

use crate::clock::Timestamp;
use crate::config::{Config, Method};
use crate::error::Error;
use crate::jose::PrivateKey;
use crate::x509::{self, IssuedCertificate};
use serde::Serialize;

/// How long generated certificates are valid.
pub const CERTIFICATE_VALIDITY_SECS: u64 = 365 * 24 * 3600;

/// Key material for the main client.
#[derive(Clone, Debug, Default)]
pub struct Material {
    /// The `private_key_jwt` signing key.
    pub assertion_key: Option<PrivateKey>,
    /// The mutual-TLS certificate chain (PEM, leaf first).
    pub certificate_chain: Option<String>,
    /// The mutual-TLS certificate's private key.
    pub certificate_key: Option<PrivateKey>,
    /// The device CA that issued a generated `tls_client_auth` certificate (a server must trust it).
    pub device_ca: Option<IssuedCertificate>,
    /// Which parts were generated rather than configured.
    pub generated: Vec<&'static str>,
}

/// What a person may see of the material (public parts only).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicMaterial {
    /// The assertion key's public JWK.
    pub assertion_public_jwk: Option<serde_json::Value>,
    /// The client certificate chain.
    pub certificate_chain: Option<String>,
    /// Its SPKI SHA-256 pin.
    pub certificate_pin: Option<String>,
    /// The device CA certificate.
    pub device_ca_certificate: Option<String>,
    /// What was generated.
    pub generated: Vec<&'static str>,
}

impl Material {
    /// Reads the configured key material and generates what is missing.
    pub fn prepare(config: &Config, now: Timestamp, rng: &mut dyn crate::entropy::Entropy) -> Result<Material, Error> {
        let cr = &config.credential;
        let mut m = Material::default();
        let crypto = |e: &dyn std::fmt::Display| Error::Crypto(e.to_string());
        match cr.method {
            Method::PrivateKeyJwt => {
                m.assertion_key = Some(match &cr.private_key {
                    Some(text) => PrivateKey::parse(text)?,
                    None => {
                        m.generated.push("assertion key");
                        let alg = config.assertion_alg().ok_or_else(|| Error::State("no assertion alg".into()))?;
                        PrivateKey::generate_for(alg, &mut Rng(rng))?
                    }
                });
            }
            Method::TlsClientAuth | Method::SelfSignedTlsClientAuth => match (&cr.certificate, &cr.private_key) {
                (Some(chain), Some(key)) => {
                    m.certificate_chain = Some(chain.clone());
                    m.certificate_key = Some(PrivateKey::parse(key)?);
                }
                _ => {
                    let cn = certificate_cn(&config.client.client_id);
                    let issued = if cr.method == Method::TlsClientAuth {
                        let ca = x509::generate_ca("haapi-lab device CA", now.secs(), CERTIFICATE_VALIDITY_SECS, &mut Rng(rng)).map_err(|e| crypto(&e))?;
                        let leaf = x509::issue_client_certificate(&ca, &cn, now.secs(), CERTIFICATE_VALIDITY_SECS, &mut Rng(rng)).map_err(|e| crypto(&e))?;
                        m.generated.push("device CA");
                        m.device_ca = Some(ca);
                        leaf
                    } else {
                        x509::self_signed_client_certificate(&cn, now.secs(), CERTIFICATE_VALIDITY_SECS, &mut Rng(rng)).map_err(|e| crypto(&e))?
                    };
                    m.generated.push("client certificate");
                    m.certificate_key = Some(PrivateKey::parse(&issued.private_key_pem)?);
                    m.certificate_chain = Some(issued.certificate_pem);
                }
            },
            _ => {}
        }
        Ok(m)
    }

    /// The public parts, for display and for registering the client at a server.
    pub fn public(&self) -> PublicMaterial {
        PublicMaterial {
            assertion_public_jwk: self.assertion_key.as_ref().map(PrivateKey::public_jwk_value),
            certificate_chain: self.certificate_chain.clone(),
            certificate_pin: self.certificate_chain.as_deref().and_then(|c| x509::spki_sha256_pin(c).ok()),
            device_ca_certificate: self.device_ca.as_ref().map(|c| c.certificate_pem.clone()),
            generated: self.generated.clone(),
        }
    }
}

/// A certificate CN from a client id (RFC 5280 caps a CN at 64 characters).
fn certificate_cn(client_id: &str) -> String {
    client_id.chars().take(64).collect()
}

/// Adapts an unsized CSPRNG to the `Sized` bound of the key generators.
struct Rng<'a, R: ?Sized>(&'a mut R);

impl<R: rand_core::RngCore + ?Sized> rand_core::RngCore for Rng<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}
impl<R: rand_core::CryptoRng + ?Sized> rand_core::CryptoRng for Rng<'_, R> {}
