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

use core::fmt;
use std::time::Duration;

use base64::Engine as _;
use der::asn1::{Any, GeneralizedTime, ObjectIdentifier, SetOfVec};
use der::pem::LineEnding;
use der::{Decode, Encode, EncodePem, Tag};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use rand_core::CryptoRngCore;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

/// `id-at-commonName` (RFC 5280 Appendix A.1, X.520).
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `id-kp-clientAuth` (RFC 5280 §4.2.1.12): TLS WWW client authentication.
const OID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// `anyExtendedKeyUsage` (RFC 5280 §4.2.1.12).
const OID_ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
/// `id-ce-subjectKeyIdentifier` (RFC 5280 §4.2.1.2).
const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// `id-ce-keyUsage` (RFC 5280 §4.2.1.3).
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6).
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// `id-ce-basicConstraints` (RFC 5280 §4.2.1.9).
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// `id-ce-extKeyUsage` (RFC 5280 §4.2.1.12).
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-ce-authorityKeyIdentifier` (RFC 5280 §4.2.1.1).
const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// Upper bound on a commonName (`ub-common-name`, RFC 5280 Appendix A.1).
const MAX_COMMON_NAME_CHARS: usize = 64;

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
        f.debug_struct("IssuedCertificate")
            .field("certificate_pem", &self.certificate_pem)
            .field("private_key_pem", &"[redacted]")
            .finish()
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

// ---------------------------------------------------------------------------
// Issuing
// ---------------------------------------------------------------------------

/// Generates a self-signed root CA certificate with a fresh P-256 key.
///
/// The certificate has basicConstraints `cA: TRUE` (critical, RFC 5280
/// §4.2.1.9), keyUsage `keyCertSign | cRLSign` (critical, RFC 5280 §4.2.1.3)
/// and a subjectKeyIdentifier (RFC 5280 §4.2.1.2). It is valid from `now`
/// through `now + validity_secs` (inclusive, RFC 5280 §4.1.2.5).
///
/// `common_name` must be 1 to 64 characters (`ub-common-name`).
pub fn generate_ca(
    common_name: &str,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<IssuedCertificate, X509Error> {
    let subject = common_name_to_name(common_name)?;
    let validity = validity(now, validity_secs)?;
    let serial = random_serial(rng)?;

    let secret = p256::SecretKey::random(rng);
    let signer = SigningKey::from(&secret);
    let spki = spki_of(&secret.public_key())?;

    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| X509Error::Build(format!("CA certificate builder: {e}")))?;
    let cert = builder
        .build_with_rng::<DerSignature>(rng)
        .map_err(|e| X509Error::Build(format!("signing CA certificate: {e}")))?;

    Ok(IssuedCertificate {
        certificate_pem: cert_to_pem(&cert)?,
        private_key_pem: secret_to_pem(&secret)?,
    })
}

/// Issues an end-entity client certificate, signed by `ca`, for a fresh
/// P-256 key (`tls_client_auth`, RFC 8705 §2.1).
///
/// The leaf has basicConstraints `cA: FALSE` (RFC 5280 §4.2.1.9), keyUsage
/// `digitalSignature | nonRepudiation` (RFC 5280 §4.2.1.3), extKeyUsage
/// `id-kp-clientAuth` (RFC 5280 §4.2.1.12), subject and authority key
/// identifiers (RFC 5280 §4.2.1.1–2), and issuer = the CA's subject
/// (RFC 5280 §4.1.2.4).
///
/// Fails with [`X509Error::Key`] if the CA's private key does not match its
/// certificate, and [`X509Error::Build`] if the CA certificate is not a CA.
pub fn issue_client_certificate(
    ca: &IssuedCertificate,
    subject_cn: &str,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<IssuedCertificate, X509Error> {
    let secret = p256::SecretKey::random(rng);
    let certificate_pem = issue_client_certificate_for_key(
        ca,
        subject_cn,
        &secret.public_key(),
        now,
        validity_secs,
        rng,
    )?;
    Ok(IssuedCertificate {
        certificate_pem,
        private_key_pem: secret_to_pem(&secret)?,
    })
}

/// Like [`issue_client_certificate`], but certifies an existing public key
/// (e.g. one whose private half never leaves the client). Returns the
/// certificate PEM only.
pub fn issue_client_certificate_for_key(
    ca: &IssuedCertificate,
    subject_cn: &str,
    public_key: &p256::PublicKey,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<String, X509Error> {
    let ca_cert = first_certificate(&ca.certificate_pem)?;
    let ca_secret = p256::SecretKey::from_pkcs8_pem(&ca.private_key_pem)
        .map_err(|e| X509Error::Key(format!("CA private key is not a PKCS#8 P-256 key: {e}")))?;
    let ca_cert_key = cert_public_key(&ca_cert)
        .map_err(|e| X509Error::Key(format!("CA certificate key: {e}")))?;
    if ca_cert_key != ca_secret.public_key() {
        return Err(X509Error::Key(
            "CA private key does not match the CA certificate's public key".into(),
        ));
    }
    if !basic_constraints(&ca_cert)?.is_some_and(|bc| bc.ca) {
        return Err(X509Error::Build(
            "the issuing certificate is not a CA (basicConstraints cA is not TRUE)".into(),
        ));
    }

    let subject = common_name_to_name(subject_cn)?;
    let issuer = ca_cert.tbs_certificate.subject.clone();
    let cert = build_leaf(
        issuer,
        subject,
        public_key,
        &SigningKey::from(&ca_secret),
        now,
        validity_secs,
        rng,
    )?;
    cert_to_pem(&cert)
}

/// Generates a self-signed client certificate with a fresh P-256 key, for
/// `self_signed_tls_client_auth` (RFC 8705 §2.2).
///
/// Issuer = subject = `CN=<subject_cn>` (self-issued, RFC 5280 §3.2). It is an
/// end-entity certificate: basicConstraints `cA: FALSE`, keyUsage
/// `digitalSignature | nonRepudiation`, extKeyUsage `id-kp-clientAuth`. The
/// server recognises it by its SPKI pin ([`spki_sha256_pin`]), not by a chain.
pub fn self_signed_client_certificate(
    subject_cn: &str,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<IssuedCertificate, X509Error> {
    let subject = common_name_to_name(subject_cn)?;
    let secret = p256::SecretKey::random(rng);
    let signer = SigningKey::from(&secret);
    let cert = build_leaf(
        subject.clone(),
        subject,
        &secret.public_key(),
        &signer,
        now,
        validity_secs,
        rng,
    )?;
    Ok(IssuedCertificate {
        certificate_pem: cert_to_pem(&cert)?,
        private_key_pem: secret_to_pem(&secret)?,
    })
}

fn build_leaf(
    issuer: Name,
    subject: Name,
    public_key: &p256::PublicKey,
    signer: &SigningKey,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<x509_cert::Certificate, X509Error> {
    let validity = validity(now, validity_secs)?;
    let serial = random_serial(rng)?;
    let spki = spki_of(public_key)?;
    let profile = Profile::Leaf {
        issuer,
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, signer)
        .map_err(|e| X509Error::Build(format!("client certificate builder: {e}")))?;
    builder
        .add_extension(&ExtendedKeyUsage(vec![OID_KP_CLIENT_AUTH]))
        .map_err(|e| X509Error::Build(format!("extKeyUsage clientAuth: {e}")))?;
    builder
        .build_with_rng::<DerSignature>(rng)
        .map_err(|e| X509Error::Build(format!("signing client certificate: {e}")))
}

// ---------------------------------------------------------------------------
// Inspecting
// ---------------------------------------------------------------------------

/// Computes the SPKI pin of a certificate: standard base64 (with padding, 44
/// characters) of SHA-256 over the DER SubjectPublicKeyInfo
/// (RFC 5280 §4.1.2.7), in the style of RFC 7469 §2.4 `pin-sha256`.
///
/// This is what a server registers for `self_signed_tls_client_auth`
/// (RFC 8705 §2.2). If `cert_pem` holds several certificates, the first
/// (the leaf) is used.
pub fn spki_sha256_pin(cert_pem: &str) -> Result<String, X509Error> {
    let cert = first_certificate(cert_pem)?;
    spki_pin_of_cert(&cert)
}

/// Computes the same pin as [`spki_sha256_pin`] directly from a P-256 public
/// key (useful to register a client's key before it has a certificate).
pub fn spki_sha256_pin_for_key(public_key: &p256::PublicKey) -> Result<String, X509Error> {
    let der = spki_of(public_key)?
        .to_der()
        .map_err(|e| X509Error::Key(format!("encoding SubjectPublicKeyInfo: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der)))
}

/// Parses one or more PEM `CERTIFICATE` blocks (RFC 7468 §5), leaf first,
/// as sent in a TLS Certificate message (RFC 8446 §4.4.2).
///
/// Text outside the blocks (e.g. OpenSSL's `subject=` lines) is ignored;
/// blocks with any other label are rejected, and so is input with no
/// certificate at all.
pub fn parse_pem_chain(pem: &str) -> Result<Vec<Certificate>, X509Error> {
    const BEGIN: &str = "-----BEGIN ";
    let mut certs = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label_end = block[BEGIN.len()..]
            .find("-----")
            .ok_or_else(|| X509Error::Pem("unterminated PEM BEGIN line".into()))?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block.find(&end_marker).ok_or_else(|| {
            X509Error::Pem(format!("PEM block \"{label}\" has no matching END line"))
        })? + end_marker.len();
        if label != "CERTIFICATE" {
            return Err(X509Error::Pem(format!(
                "expected only CERTIFICATE blocks, found a \"{label}\" block (block #{})",
                certs.len() + 1
            )));
        }
        let (_, der) = der::pem::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| X509Error::Pem(format!("certificate block #{}: {e}", certs.len() + 1)))?;
        let cert = Certificate::from_der(&der)
            .map_err(|e| X509Error::Der(format!("certificate #{}: {e}", certs.len() + 1)))?;
        certs.push(cert);
        rest = &block[end..];
    }
    if certs.is_empty() {
        return Err(X509Error::Pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Summarises a certificate (the first one if `cert_pem` holds a chain) for
/// traces and pages: names (RFC 5280 §4.1.2.4, §4.1.2.6), validity
/// (§4.1.2.5), serial (§4.1.2.2), SPKI pin and basicConstraints cA (§4.2.1.9).
pub fn describe(cert_pem: &str) -> Result<CertificateInfo, X509Error> {
    let cert = first_certificate(cert_pem)?;
    info_of(&cert)
}

// ---------------------------------------------------------------------------
// Verifying (server side)
// ---------------------------------------------------------------------------

/// Verifies a client certificate chain (PEM, leaf first) the way an
/// authorization server does for RFC 8705 mutual-TLS client authentication,
/// and returns a description of the leaf.
///
/// 1. Every certificate must be signed with `ecdsa-with-SHA256`
///    (RFC 5758 §3.2), else [`X509Error::Unsupported`]; so must unrecognised
///    critical extensions (RFC 5280 §4.2).
/// 2. The leaf must be within its validity period at `now`, inclusive
///    (RFC 5280 §4.1.2.5), else [`X509Error::Expired`] /
///    [`X509Error::NotYetValid`].
/// 3. It is accepted if **any** anchor accepts it:
///    * [`TrustAnchor::Ca`] (RFC 8705 §2.1): walking from the leaf, each
///      certificate must be signed by the next one in the chain or by the CA
///      anchor; a signer must have issuer name == its subject name, be a CA
///      (basicConstraints `cA: TRUE`, keyUsage `keyCertSign` if present,
///      pathLenConstraint respected) and be within its validity period
///      (RFC 5280 §6.1.3–6.1.4). If the leaf has extKeyUsage it must allow
///      `id-kp-clientAuth` (RFC 5280 §4.2.1.12).
///    * [`TrustAnchor::PinnedSpki`] (RFC 8705 §2.2): the leaf's SPKI SHA-256
///      pin must equal the registered pin exactly.
///
/// When no anchor accepts: [`X509Error::PinMismatch`] if all anchors are
/// pins, otherwise [`X509Error::Untrusted`] with every anchor's reason.
/// A malformed CA anchor PEM is reported as [`X509Error::Pem`] /
/// [`X509Error::Der`] since it is a configuration error.
pub fn verify_client_chain(
    chain_pem: &str,
    anchors: &[TrustAnchor],
    now: u64,
) -> Result<CertificateInfo, X509Error> {
    let chain = parse_pem_chain(chain_pem)?;
    for (i, cert) in chain.iter().enumerate() {
        check_signature_algorithm(cert, &position_name(i))?;
        check_critical_extensions(cert, &position_name(i))?;
    }
    let leaf = &chain[0];
    let leaf_info = info_of(leaf)?;
    if now < leaf_info.not_before {
        return Err(X509Error::NotYetValid {
            not_before: leaf_info.not_before,
        });
    }
    if now > leaf_info.not_after {
        return Err(X509Error::Expired {
            not_after: leaf_info.not_after,
        });
    }

    // Parse the CA anchors up front: a broken anchor is a configuration bug.
    let mut ca_anchors = Vec::new();
    for anchor in anchors {
        if let TrustAnchor::Ca(pem) = anchor {
            let cert = first_certificate(pem)?;
            check_signature_algorithm(&cert, "CA anchor")?;
            ca_anchors.push(cert);
        }
    }

    if anchors.is_empty() {
        return Err(X509Error::Untrusted(
            "no trust anchors are configured".into(),
        ));
    }

    let mut reasons = Vec::new();
    let mut any_ca = false;
    let mut ca_iter = ca_anchors.iter();
    for anchor in anchors {
        match anchor {
            TrustAnchor::PinnedSpki(pin) => {
                if leaf_info.spki_sha256 == *pin {
                    return Ok(leaf_info);
                }
                reasons.push("the leaf's SPKI SHA-256 does not match the pinned key".to_string());
            }
            TrustAnchor::Ca(_) => {
                any_ca = true;
                let ca = ca_iter.next().expect("one parsed anchor per Ca entry");
                match chain_to_anchor(&chain, ca, now) {
                    Ok(()) => return Ok(leaf_info),
                    Err(reason) => reasons.push(format!(
                        "CA anchor \"{}\": {reason}",
                        ca.tbs_certificate.subject
                    )),
                }
            }
        }
    }

    if any_ca {
        Err(X509Error::Untrusted(reasons.join("; ")))
    } else {
        Err(X509Error::PinMismatch)
    }
}

/// Tries to build a path from `chain[0]` to `anchor` (RFC 5280 §6.1, reduced
/// to what a client-auth chain needs). Returns a human-readable reason on
/// failure.
fn chain_to_anchor(chain: &[Certificate], anchor: &Certificate, now: u64) -> Result<(), String> {
    let leaf = &chain[0];
    if let Some(eku) = leaf
        .tbs_certificate
        .get::<ExtendedKeyUsage>()
        .map_err(|e| format!("leaf extKeyUsage is malformed: {e}"))?
    {
        if !eku
            .1
             .0
            .iter()
            .any(|o| *o == OID_KP_CLIENT_AUTH || *o == OID_ANY_EKU)
        {
            return Err("the leaf's extKeyUsage does not allow TLS client authentication".into());
        }
    }

    for i in 0..chain.len() {
        let cert = &chain[i];
        // Number of intermediate CA certificates between `cert`'s issuer and
        // the leaf, for pathLenConstraint (RFC 5280 §4.2.1.9).
        let intermediates_below = i;

        // Does the anchor itself sign this certificate?
        if cert.tbs_certificate.issuer == anchor.tbs_certificate.subject {
            check_issuer(anchor, "the CA anchor", now, intermediates_below)?;
            verify_signature(cert, anchor).map_err(|e| {
                format!(
                    "{}'s signature does not verify with the CA anchor's key: {e}",
                    position_name(i)
                )
            })?;
            return Ok(());
        }

        // Otherwise the next certificate in the chain must be its issuer.
        let Some(next) = chain.get(i + 1) else {
            return Err(format!(
                "{} was issued by \"{}\", which is neither the CA anchor \"{}\" nor in the chain",
                position_name(i),
                cert.tbs_certificate.issuer,
                anchor.tbs_certificate.subject
            ));
        };
        if cert.tbs_certificate.issuer != next.tbs_certificate.subject {
            return Err(format!(
                "{}'s issuer \"{}\" does not match the subject \"{}\" of the next certificate",
                position_name(i),
                cert.tbs_certificate.issuer,
                next.tbs_certificate.subject
            ));
        }
        let next_name = position_name(i + 1);
        check_issuer(next, &next_name, now, intermediates_below)?;
        verify_signature(cert, next).map_err(|e| {
            format!(
                "{}'s signature does not verify with {next_name}'s key: {e}",
                position_name(i)
            )
        })?;
    }
    unreachable!("the loop returns on its last iteration")
}

/// Checks that `issuer` may sign certificates at `now` (RFC 5280 §6.1.4 (k),
/// (l), (n) and §6.1.3 (a)(2)).
fn check_issuer(
    issuer: &Certificate,
    what: &str,
    now: u64,
    intermediates_below: usize,
) -> Result<(), String> {
    let bc = basic_constraints(issuer).map_err(|e| e.to_string())?;
    let Some(bc) = bc.filter(|bc| bc.ca) else {
        return Err(format!(
            "{what} is not a CA (basicConstraints cA is not TRUE)"
        ));
    };
    if let Some(max) = bc.path_len_constraint {
        if intermediates_below > usize::from(max) {
            return Err(format!(
                "{what}'s pathLenConstraint {max} is exceeded ({intermediates_below} intermediates below it)"
            ));
        }
    }
    if let Some((_, ku)) = issuer
        .tbs_certificate
        .get::<KeyUsage>()
        .map_err(|e| format!("{what}'s keyUsage is malformed: {e}"))?
    {
        if !ku.key_cert_sign() {
            return Err(format!("{what}'s keyUsage does not include keyCertSign"));
        }
    }
    let (not_before, not_after) = validity_secs_of(issuer);
    if now < not_before {
        return Err(format!("{what} is not yet valid (notBefore {not_before})"));
    }
    if now > not_after {
        return Err(format!("{what} has expired (notAfter {not_after})"));
    }
    Ok(())
}

/// Verifies `cert`'s ECDSA P-256 SHA-256 signature over the DER
/// tbsCertificate (RFC 5280 §4.1.1.3) with `issuer`'s public key.
fn verify_signature(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let key = cert_public_key(issuer)?;
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("re-encoding tbsCertificate: {e}"))?;
    let sig_bytes = cert
        .signature
        .as_bytes()
        .ok_or_else(|| "signature BIT STRING has unused bits".to_string())?;
    let sig = Signature::from_der(sig_bytes).map_err(|_| "signature is malformed".to_string())?;
    VerifyingKey::from(&key)
        .verify(&tbs, &sig)
        .map_err(|_| "signature is invalid".to_string())
}

fn check_signature_algorithm(cert: &Certificate, what: &str) -> Result<(), X509Error> {
    let outer = &cert.signature_algorithm;
    if outer.oid != OID_ECDSA_WITH_SHA256 {
        return Err(X509Error::Unsupported(format!(
            "{what} is signed with algorithm {}; only ecdsa-with-SHA256 ({OID_ECDSA_WITH_SHA256}) is supported",
            outer.oid
        )));
    }
    // RFC 5280 §4.1.1.2: must equal the signature field in tbsCertificate.
    if cert.tbs_certificate.signature != *outer {
        return Err(X509Error::Untrusted(format!(
            "{what}: signatureAlgorithm differs from tbsCertificate.signature"
        )));
    }
    Ok(())
}

fn check_critical_extensions(cert: &Certificate, what: &str) -> Result<(), X509Error> {
    const KNOWN: [ObjectIdentifier; 6] = [
        OID_SKI,
        OID_KEY_USAGE,
        OID_SAN,
        OID_BASIC_CONSTRAINTS,
        OID_EXT_KEY_USAGE,
        OID_AKI,
    ];
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.critical && !KNOWN.contains(&ext.extn_id) {
            return Err(X509Error::Unsupported(format!(
                "{what} has an unrecognised critical extension {}",
                ext.extn_id
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn position_name(i: usize) -> String {
    match i {
        0 => "the leaf certificate".to_string(),
        n => format!("chain certificate #{}", n + 1),
    }
}

fn first_certificate(pem: &str) -> Result<Certificate, X509Error> {
    Ok(parse_pem_chain(pem)?.swap_remove(0))
}

fn info_of(cert: &Certificate) -> Result<CertificateInfo, X509Error> {
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

fn validity_secs_of(cert: &Certificate) -> (u64, u64) {
    let v = &cert.tbs_certificate.validity;
    (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    )
}

fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>, X509Error> {
    cert.tbs_certificate
        .get::<BasicConstraints>()
        .map(|o| o.map(|(_, bc)| bc))
        .map_err(|e| X509Error::Der(format!("basicConstraints extension: {e}")))
}

fn spki_pin_of_cert(cert: &Certificate) -> Result<String, X509Error> {
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| X509Error::Der(format!("encoding SubjectPublicKeyInfo: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der)))
}

/// The certificate's subject public key as a P-256 key (RFC 5480 §2).
fn cert_public_key(cert: &Certificate) -> Result<p256::PublicKey, String> {
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("encoding SubjectPublicKeyInfo: {e}"))?;
    p256::PublicKey::from_public_key_der(&der)
        .map_err(|e| format!("public key is not an EC P-256 key: {e}"))
}

fn spki_of(public_key: &p256::PublicKey) -> Result<SubjectPublicKeyInfoOwned, X509Error> {
    SubjectPublicKeyInfoOwned::from_key(*public_key)
        .map_err(|e| X509Error::Key(format!("encoding SubjectPublicKeyInfo: {e}")))
}

fn secret_to_pem(secret: &p256::SecretKey) -> Result<String, X509Error> {
    secret
        .to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| X509Error::Key(format!("encoding PKCS#8 private key: {e}")))
}

fn cert_to_pem(cert: &Certificate) -> Result<String, X509Error> {
    cert.to_pem(LineEnding::LF)
        .map_err(|e| X509Error::Build(format!("encoding certificate PEM: {e}")))
}

/// `CN=<cn>` as a single-RDN name with a UTF8String value (RFC 5280 §4.1.2.4
/// recommends UTF8String).
fn common_name_to_name(cn: &str) -> Result<Name, X509Error> {
    let chars = cn.chars().count();
    if chars == 0 || chars > MAX_COMMON_NAME_CHARS {
        return Err(X509Error::Build(format!(
            "common name must be 1 to {MAX_COMMON_NAME_CHARS} characters (RFC 5280 ub-common-name), got {chars}"
        )));
    }
    let value = Any::new(Tag::Utf8String, cn.as_bytes())
        .map_err(|e| X509Error::Build(format!("common name value: {e}")))?;
    let atv = AttributeTypeAndValue {
        oid: OID_COMMON_NAME,
        value,
    };
    let rdn = SetOfVec::try_from(vec![atv])
        .map_err(|e| X509Error::Build(format!("common name RDN: {e}")))?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(rdn)]))
}

/// Validity from `now` through `now + validity_secs` (RFC 5280 §4.1.2.5). The
/// builder re-encodes dates before 2050 as UTCTime, as RFC 5280 requires.
fn validity(now: u64, validity_secs: u64) -> Result<Validity, X509Error> {
    let not_after = now
        .checked_add(validity_secs)
        .ok_or_else(|| X509Error::Build("now + validity_secs overflows".into()))?;
    let time = |secs: u64| {
        GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
            .map(Time::GeneralTime)
            .map_err(|e| X509Error::Build(format!("time {secs} is not representable: {e}")))
    };
    Ok(Validity {
        not_before: time(now)?,
        not_after: time(not_after)?,
    })
}

/// A positive 128-bit random serial number (RFC 5280 §4.1.2.2).
fn random_serial(rng: &mut impl CryptoRngCore) -> Result<SerialNumber, X509Error> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    if bytes.iter().all(|b| *b == 0) {
        bytes[15] = 1;
    }
    SerialNumber::new(&bytes).map_err(|e| X509Error::Build(format!("serial number: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
