//! X.509 certificates for mutual-TLS client authentication (RFC 8705).
//!
//! Everything here is ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`,
//! RFC 5758 §3.2) and is *pure*: there is no I/O, no clock and no global
//! randomness. The current time is always passed in as `now` (Unix seconds)
//! and randomness comes from a caller-supplied
//! [`rand_core::CryptoRngCore`].
//!
//! Two RFC 8705 client authentication methods are supported:
//!
//! * `tls_client_auth` (RFC 8705 §2.1): the client certificate chains up to a
//!   trusted CA — see [`generate_ca`], [`issue_client_certificate`] and
//!   [`TrustAnchor::Ca`].
//! * `self_signed_tls_client_auth` (RFC 8705 §2.2): the client presents a
//!   self-signed certificate whose key was registered in advance; the server
//!   compares a SHA-256 pin of the SubjectPublicKeyInfo — see
//!   [`self_signed_client_certificate`], [`spki_sha256_pin`] and
//!   [`TrustAnchor::PinnedSpki`].
//!
//! Certificates are built with `x509_cert`'s [`CertificateBuilder`]; this
//! module never hand-assembles DER.

mod inspect;
#[cfg(feature = "tools")]
mod issue;
#[cfg(feature = "tools")]
mod pkcs12;
#[cfg(feature = "sim")]
mod verify;

pub use inspect::*;
#[cfg(feature = "tools")]
pub use issue::*;
#[cfg(feature = "tools")]
pub use pkcs12::*;
#[cfg(feature = "sim")]
pub use verify::*;

use core::fmt;
use der::asn1::ObjectIdentifier;
use der::Encode;
use p256::pkcs8::DecodePublicKey as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

/// `id-kp-clientAuth` (RFC 5280 §4.2.1.12): TLS WWW client authentication.
pub(super) const OID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// Errors produced while building, parsing or verifying certificates.
///
/// Every variant carries enough context to tell a person what went wrong;
/// payloads are plain `String`s so the error is `Clone + PartialEq`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// The input is not valid PEM, or contains no `CERTIFICATE` block.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A PEM block decoded, but its DER content is not a valid X.509
    /// certificate (RFC 5280 §4.1).
    #[error("invalid DER certificate: {0}")]
    Der(String),
    /// The certificate's notAfter is in the past (RFC 5280 §4.1.2.5).
    #[error("certificate expired: its notAfter is {not_after} (unix seconds)")]
    Expired {
        /// The certificate's notAfter, Unix seconds.
        not_after: u64,
    },
    /// The certificate's notBefore is in the future (RFC 5280 §4.1.2.5).
    #[error("certificate not yet valid: its notBefore is {not_before} (unix seconds)")]
    NotYetValid {
        /// The certificate's notBefore, Unix seconds.
        not_before: u64,
    },
    /// The chain does not lead to any configured CA trust anchor
    /// (RFC 5280 §6.1; RFC 8705 §2.1 `tls_client_auth`).
    #[error("certificate chain is not trusted: {0}")]
    Untrusted(String),
    /// The certificate's SubjectPublicKeyInfo SHA-256 pin matches none of the
    /// registered pins (RFC 8705 §2.2 `self_signed_tls_client_auth`).
    #[error("certificate public key does not match any registered SPKI SHA-256 pin")]
    PinMismatch,
    /// The certificate uses an algorithm or a critical extension this module
    /// does not support (only ecdsa-with-SHA256 over P-256 is supported).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A private or public key could not be decoded or encoded, or does not
    /// match its certificate.
    #[error("key error: {0}")]
    Key(String),
    /// The certificate could not be built (bad input or builder failure).
    #[error("could not build certificate: {0}")]
    Build(String),
}

/// A freshly issued certificate together with its private key.
///
/// The `Debug` output redacts the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate as a single PEM `CERTIFICATE` block (RFC 7468 §5).
    pub certificate_pem: String,
    /// The P-256 private key as a PKCS#8 PEM `PRIVATE KEY` block
    /// (RFC 5208 / RFC 7468 §10).
    pub private_key_pem: String,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate").field("certificate_pem", &self.certificate_pem).field("private_key_pem", &"[redacted]").finish()
    }
}

/// A human-oriented summary of a certificate, for traces and pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Subject distinguished name in RFC 4514 string form, e.g. `CN=client`
    /// (RFC 5280 §4.1.2.6).
    pub subject: String,
    /// Issuer distinguished name in RFC 4514 string form (RFC 5280 §4.1.2.4).
    pub issuer: String,
    /// notBefore, Unix seconds (RFC 5280 §4.1.2.5).
    pub not_before: u64,
    /// notAfter, Unix seconds (RFC 5280 §4.1.2.5).
    pub not_after: u64,
    /// Serial number as lowercase hex, leading zeros stripped
    /// (RFC 5280 §4.1.2.2).
    pub serial_hex: String,
    /// Standard base64 of SHA-256 over the DER SubjectPublicKeyInfo
    /// (see [`spki_sha256_pin`]).
    pub spki_sha256: String,
    /// Whether basicConstraints says `cA: TRUE` (RFC 5280 §4.2.1.9).
    pub is_ca: bool,
}

/// A server-side trust anchor for [`verify_client_chain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAnchor<'a> {
    /// A CA certificate (PEM). The client chain must be signed by it
    /// (`tls_client_auth`, RFC 8705 §2.1; path validation as in RFC 5280 §6.1).
    Ca(&'a str),
    /// A registered SPKI SHA-256 pin, standard base64 as produced by
    /// [`spki_sha256_pin`] (`self_signed_tls_client_auth`, RFC 8705 §2.2).
    PinnedSpki(&'a str),
}

// Shared by issuing, inspecting and verifying.

pub(super) fn first_certificate(pem: &str) -> Result<Certificate, X509Error> {
    Ok(parse_pem_chain(pem)?.swap_remove(0))
}

pub(super) fn info_of(cert: &Certificate) -> Result<CertificateInfo, X509Error> {
    let tbs = &cert.tbs_certificate;
    let (not_before, not_after) = validity_secs_of(cert);
    Ok(CertificateInfo {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        not_before,
        not_after,
        serial_hex: hex(tbs.serial_number.as_bytes()),
        spki_sha256: spki_pin_of_cert(cert)?,
        is_ca: basic_constraints(cert)?.is_some_and(|bc| bc.ca),
    })
}

pub(super) fn validity_secs_of(cert: &Certificate) -> (u64, u64) {
    let v = &cert.tbs_certificate.validity;
    (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
}

pub(super) fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>, X509Error> {
    cert.tbs_certificate.get::<BasicConstraints>().map(|o| o.map(|(_, bc)| bc)).map_err(|e| X509Error::Der(format!("basicConstraints extension: {e}")))
}

pub(super) fn spki_pin_of_cert(cert: &Certificate) -> Result<String, X509Error> {
    let der = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| X509Error::Der(format!("encoding SubjectPublicKeyInfo: {e}")))?;
    Ok(crate::proto::base64::encode_standard(&Sha256::digest(der)))
}

pub(super) fn cert_public_key(cert: &Certificate) -> Result<p256::PublicKey, String> {
    let der = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| format!("encoding SubjectPublicKeyInfo: {e}"))?;
    p256::PublicKey::from_public_key_der(&der).map_err(|e| format!("public key is not an EC P-256 key: {e}"))
}

pub(super) fn spki_of(public_key: &p256::PublicKey) -> Result<SubjectPublicKeyInfoOwned, X509Error> {
    SubjectPublicKeyInfoOwned::from_key(*public_key).map_err(|e| X509Error::Key(format!("encoding SubjectPublicKeyInfo: {e}")))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
