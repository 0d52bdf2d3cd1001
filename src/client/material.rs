//! The main client's key material: read from the configuration, or generated when it is null.
//!
//! Generated material only works with a server that learns it too: the simulator registers it
//! (see `crate::lab`); a real server must be given the pasted key or certificate instead, which
//! configuration validation insists on.
//!
//! The client core reads and makes P-256 keys itself. RSA and P-384 keys and certificates are
//! made elsewhere (natively by [`Material::prepare`] with the `tools` feature; in the browser by
//! the tools module) and handed in as [`AssertionKey::from_parts`] and [`MtlsMaterial`].

use super::config::{Config, Method};
use super::error::Error;
use crate::proto::jose::keytext::{read_private_key, KeyText};
use crate::proto::jose::p256::P256Key;
use crate::proto::jose::{thumbprint, KeyFamily};
use crate::proto::secret::Secret;
use serde_json::Value;

/// How long generated certificates are valid.
pub const CERTIFICATE_VALIDITY_SECS: u64 = 365 * 24 * 3600;

/// The `private_key_jwt` signing key: what the signer needs (PKCS#8) and what a server needs
/// (the public JWK). `Debug` never prints the private key.
#[derive(Clone, Debug)]
pub struct AssertionKey {
    /// What kind of key it is.
    pub family: KeyFamily,
    /// The private key as PKCS#8 PEM, the one form every signer reads.
    pub pkcs8_pem: Secret,
    /// The public JWK (no private members).
    pub public_jwk: Value,
    /// The `kid` the key carries itself (a JWK's own), if any.
    pub own_kid: Option<String>,
    p256: Option<P256Key>,
}

impl AssertionKey {
    /// A P-256 key, signed with in the client core.
    pub fn p256(key: P256Key, own_kid: Option<String>) -> Self {
        AssertionKey { family: KeyFamily::P256, pkcs8_pem: key.to_pkcs8_pem(), public_jwk: key.public_jwk().clone(), own_kid, p256: Some(key) }
    }

    /// A key read or made by another module (RSA, P-384): its PKCS#8 PEM and public JWK.
    pub fn from_parts(family: KeyFamily, pkcs8_pem: Secret, public_jwk: Value, own_kid: Option<String>) -> Result<Self, Error> {
        let p256 = if family == KeyFamily::P256 { Some(P256Key::parse(pkcs8_pem.expose())?) } else { None };
        Ok(AssertionKey { family, pkcs8_pem, public_jwk, own_kid, p256 })
    }

    /// The P-256 key, when the core can sign with it itself.
    pub fn as_p256(&self) -> Option<&P256Key> {
        self.p256.as_ref()
    }

    /// The `kid` of assertions: the configured one wins; else the key's own; else its RFC 7638
    /// thumbprint.
    pub fn kid(&self, configured: Option<&str>) -> Result<String, Error> {
        match (configured, &self.own_kid) {
            (Some(k), _) => Ok(k.to_owned()),
            (None, Some(k)) => Ok(k.clone()),
            (None, None) => Ok(thumbprint(&self.public_jwk)?),
        }
    }
}

/// The mutual-TLS client certificate and its key, and, when generated for `tls_client_auth`,
/// the device CA that issued it (a server must trust that CA).
#[derive(Clone, Debug)]
pub struct MtlsMaterial {
    /// The certificate chain, PEM, leaf first.
    pub chain_pem: String,
    /// The certificate's private key, PEM.
    pub key_pem: Secret,
    /// The issuing device CA's certificate (generated `tls_client_auth` only).
    pub device_ca_pem: Option<String>,
    /// The device CA's private key (kept so that the device can issue again).
    pub device_ca_key_pem: Option<Secret>,
}

/// Key material for the main client.
#[derive(Clone, Debug, Default)]
pub struct Material {
    /// The `private_key_jwt` signing key.
    pub assertion_key: Option<AssertionKey>,
    /// The mutual-TLS certificate.
    pub mtls: Option<MtlsMaterial>,
    /// Which parts were generated rather than configured.
    pub generated: Vec<&'static str>,
}

/// What a person may see of the material (public parts only); also what a simulated server
/// must learn to accept the credential.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublicMaterial {
    /// The assertion key's public JWK.
    pub assertion_public_jwk: Option<Value>,
    /// The `kid` assertions carry.
    pub assertion_kid: Option<String>,
    /// The client certificate chain.
    pub certificate_chain: Option<String>,
    /// The device CA certificate.
    pub device_ca_certificate: Option<String>,
    /// What was generated.
    pub generated: Vec<String>,
}

impl PublicMaterial {
    /// Why this configuration and material need the whole simulated server (RSA and P-384
    /// verification, X.509 for mutual TLS), or `None` when the light one (`sim-lite`: HS* and
    /// ES256, no certificates) serves them exactly as the whole one would. The client module loads
    /// `pkg/sim-lite/` or `pkg/sim/` by this answer; `server.simulator` settings may name any
    /// algorithm or key, so they always take the whole one.
    pub fn full_simulator_reason(&self, config: &Config) -> Option<String> {
        if config.server.simulator.is_some() {
            return Some("server.simulator settings".into());
        }
        let method = config.credential.method;
        if method.is_mtls() {
            return Some(format!("{} (X.509 certificates)", method.name()));
        }
        if let Some(alg) = config.credential.alg.as_deref().filter(|a| !matches!(*a, "ES256" | "HS256" | "HS384" | "HS512")) {
            if matches!(method, Method::PrivateKeyJwt | Method::ClientSecretJwt) {
                return Some(format!("client assertions signed with {alg}"));
            }
        }
        if let Some(jwk) = &self.assertion_public_jwk {
            let (kty, crv) = (jwk.get("kty").and_then(Value::as_str), jwk.get("crv").and_then(Value::as_str));
            if (kty, crv) != (Some("EC"), Some("P-256")) {
                return Some(format!("an assertion key of type {} {}", kty.unwrap_or("?"), crv.unwrap_or("")).trim_end().to_owned());
            }
        }
        if config.dpop.alg != "ES256" {
            return Some(format!("DPoP proofs signed with {}", config.dpop.alg));
        }
        None
    }

    /// `{assertionPublicJwk, assertionKid, certificateChain, deviceCaCertificate, generated}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "assertionPublicJwk": self.assertion_public_jwk,
            "assertionKid": self.assertion_kid,
            "certificateChain": self.certificate_chain,
            "deviceCaCertificate": self.device_ca_certificate,
            "generated": self.generated,
        })
    }

    /// Reads what [`PublicMaterial::to_json`] wrote (another module hands it over).
    pub fn from_json(v: &Value) -> PublicMaterial {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        PublicMaterial {
            assertion_public_jwk: v.get("assertionPublicJwk").filter(|j| j.is_object()).cloned(),
            assertion_kid: s("assertionKid"),
            certificate_chain: s("certificateChain"),
            device_ca_certificate: s("deviceCaCertificate"),
            generated: v
                .get("generated")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        }
    }
}

/// What a configuration needs from outside the client core before a run: the private key it
/// names (when the core cannot read it: RSA, P-384), a key to generate, certificates to issue.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyNeed {
    /// Nothing (no assertion key, or a P-256 key the core reads itself).
    None,
    /// Read this pasted key (not P-256): its PKCS#8 PEM and public JWK.
    Read(KeyText),
    /// Make a key for this algorithm (not ES256).
    Generate(crate::proto::jose::Alg),
}

impl Material {
    /// The public parts, for display and for registering the client at a server.
    pub fn public(&self, config: &Config) -> PublicMaterial {
        PublicMaterial {
            assertion_public_jwk: self.assertion_key.as_ref().map(|k| k.public_jwk.clone()),
            assertion_kid: self.assertion_key.as_ref().and_then(|k| k.kid(config.credential.kid.as_deref()).ok()),
            certificate_chain: self.mtls.as_ref().map(|m| m.chain_pem.clone()),
            device_ca_certificate: self.mtls.as_ref().and_then(|m| m.device_ca_pem.clone()),
            generated: self.generated.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// What the core can do alone for the assertion key: a pasted or generated P-256 key is
    /// read or made here; anything else is a [`KeyNeed`] for the caller.
    pub fn assertion_key_in_core(config: &Config, rng: &mut dyn crate::proto::entropy::Entropy) -> Result<(Option<AssertionKey>, KeyNeed), Error> {
        let cr = &config.credential;
        if cr.method != Method::PrivateKeyJwt {
            return Ok((None, KeyNeed::None));
        }
        match &cr.private_key {
            Some(text) => {
                let key = read_private_key(text, cr.kid.as_deref())?;
                if key.family == KeyFamily::P256 {
                    let own = key.kid.clone();
                    Ok((Some(AssertionKey::p256(P256Key::from_key_text(&key)?, own)), KeyNeed::None))
                } else {
                    Ok((None, KeyNeed::Read(key)))
                }
            }
            None => {
                let alg = config.assertion_alg().ok_or_else(|| Error::State("private_key_jwt without an algorithm".into()))?;
                if alg.family() == KeyFamily::P256 {
                    Ok((Some(AssertionKey::p256(P256Key::generate(&mut Rng(rng)), None)), KeyNeed::None))
                } else {
                    Ok((None, KeyNeed::Generate(alg)))
                }
            }
        }
    }

    /// Reads the configured key material and generates what is missing, every kind of key and
    /// certificate included (native builds with the `tools` feature; the browser uses modules).
    #[cfg(feature = "tools")]
    pub fn prepare(config: &Config, now: crate::proto::clock::Timestamp, rng: &mut dyn crate::proto::entropy::Entropy) -> Result<Material, Error> {
        use crate::proto::jose::keys::PrivateKey;
        let cr = &config.credential;
        let mut m = Material::default();
        let (key, need) = Self::assertion_key_in_core(config, rng)?;
        if key.is_some() && cr.private_key.is_none() {
            m.generated.push("assertion key");
        }
        m.assertion_key = match need {
            KeyNeed::None => key,
            KeyNeed::Read(text) => {
                let k = PrivateKey::from_key_text(&text)?;
                Some(AssertionKey::from_parts(k.family(), k.to_pkcs8_pem(), k.public_jwk(), text.kid.clone())?)
            }
            KeyNeed::Generate(alg) => {
                m.generated.push("assertion key");
                let k = PrivateKey::generate_for(alg, &mut Rng(rng))?;
                Some(AssertionKey::from_parts(k.family(), k.to_pkcs8_pem(), k.public_jwk(), None)?)
            }
        };
        if cr.method.is_mtls() {
            m.mtls = Some(match (&cr.certificate, &cr.private_key) {
                (Some(chain), Some(key)) => {
                    MtlsMaterial { chain_pem: chain.clone(), key_pem: Secret::new(key.clone()), device_ca_pem: None, device_ca_key_pem: None }
                }
                _ => {
                    m.generated.push("client certificate");
                    if cr.method == Method::TlsClientAuth {
                        m.generated.push("device CA");
                    }
                    issue_certificates(cr.method, &config.client.client_id, now.secs(), rng)?
                }
            });
        }
        Ok(m)
    }
}

/// Makes a client certificate for a mutual-TLS method: `tls_client_auth` issued by a new device
/// CA, `self_signed_tls_client_auth` self-signed (feature `tools`).
#[cfg(feature = "tools")]
pub fn issue_certificates(method: Method, client_id: &str, now_secs: u64, rng: &mut dyn crate::proto::entropy::Entropy) -> Result<MtlsMaterial, Error> {
    let (leaf, ca) = crate::proto::x509::client_certificates(method == Method::TlsClientAuth, client_id, now_secs, CERTIFICATE_VALIDITY_SECS, &mut Rng(rng))
        .map_err(|e| Error::Crypto(e.to_string()))?;
    Ok(MtlsMaterial {
        chain_pem: leaf.certificate_pem,
        key_pem: Secret::new(leaf.private_key_pem),
        device_ca_pem: ca.as_ref().map(|c| c.certificate_pem.clone()),
        device_ca_key_pem: ca.map(|c| Secret::new(c.private_key_pem)),
    })
}

/// Adapts an unsized CSPRNG to the `Sized` bound of the key generators.
pub struct Rng<'a, R: ?Sized>(pub &'a mut R);

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(edit: impl FnOnce(&mut Value)) -> Config {
        let mut doc = Config::default().to_json();
        edit(&mut doc);
        Config::from_value(&doc).expect("a valid configuration")
    }

    fn p256_material() -> PublicMaterial {
        PublicMaterial { assertion_public_jwk: Some(json!({ "kty": "EC", "crv": "P-256", "x": "x", "y": "y" })), ..PublicMaterial::default() }
    }

    #[test]
    fn the_light_simulator_serves_hmac_es256_and_secrets_and_nothing_else() {
        assert_eq!(p256_material().full_simulator_reason(&Config::default()), None, "the default configuration (private_key_jwt ES256)");
        for method in ["client_secret_basic", "client_secret_post"] {
            assert_eq!(
                PublicMaterial::default().full_simulator_reason(&config(|d| d["credential"] = json!({ "method": method, "secret": "Password1" }))),
                None
            );
        }
        let hs = config(|d| {
            d["credential"] =
                json!({ "method": "client_secret_jwt", "secret": "a-long-enough-secret-for-hs512-0123456789abcdef0123456789abcdef", "alg": "HS512" })
        });
        assert_eq!(PublicMaterial::default().full_simulator_reason(&hs), None);

        let reason = |c: &Config, m: &PublicMaterial| m.full_simulator_reason(c).unwrap_or_else(|| panic!("the whole simulator for {:?}", c.credential.method));
        let rsa = PublicMaterial { assertion_public_jwk: Some(json!({ "kty": "RSA", "n": "n", "e": "AQAB" })), ..PublicMaterial::default() };
        assert!(reason(&config(|d| d["credential"]["alg"] = json!("RS256")), &rsa).contains("RS256"));
        assert!(reason(&Config::default(), &rsa).contains("RSA"), "an RSA key whatever the alg says");
        let p384 = PublicMaterial { assertion_public_jwk: Some(json!({ "kty": "EC", "crv": "P-384", "x": "x", "y": "y" })), ..PublicMaterial::default() };
        assert!(reason(&Config::default(), &p384).contains("P-384"));
        for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
            assert!(reason(&config(|d| d["credential"] = json!({ "method": method })), &PublicMaterial::default()).contains(method));
        }
        assert!(reason(&config(|d| d["server"]["simulator"] = json!({ "dpopNonce": "off" })), &p256_material()).contains("server.simulator"));
    }
}
