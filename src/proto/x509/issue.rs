//! Issuing certificates (feature `tools`): a device CA, CA-issued client certificates
//! (`tls_client_auth`, RFC 8705 §2.1) and self-signed ones (`self_signed_tls_client_auth`,
//! RFC 8705 §2.2), every one ECDSA P-256 with SHA-256, built with `x509_cert`'s builder.

use super::*;
use der::asn1::{Any, GeneralizedTime, Ia5String, OctetString, SetOfVec};
use der::pem::LineEnding;
use der::{EncodePem, Tag};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand_core::CryptoRngCore;
use std::time::Duration;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// `id-at-commonName` (RFC 5280 Appendix A.1, X.520).
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// Upper bound on a commonName (`ub-common-name`, RFC 5280 Appendix A.1).
const MAX_COMMON_NAME_CHARS: usize = 64;

/// Generates a self-signed root CA certificate with a fresh P-256 key.
///
/// The certificate has basicConstraints `cA: TRUE` (critical, RFC 5280
/// §4.2.1.9), keyUsage `keyCertSign | cRLSign` (critical, RFC 5280 §4.2.1.3)
/// and a subjectKeyIdentifier (RFC 5280 §4.2.1.2). It is valid from `now`
/// through `now + validity_secs` (inclusive, RFC 5280 §4.1.2.5).
///
/// `common_name` must be 1 to 64 characters (`ub-common-name`).
pub fn generate_ca(common_name: &str, now: u64, validity_secs: u64, rng: &mut impl CryptoRngCore) -> Result<IssuedCertificate, X509Error> {
    let subject = common_name_to_name(common_name)?;
    let validity = validity(now, validity_secs)?;
    let serial = random_serial(rng)?;

    let secret = p256::SecretKey::random(rng);
    let signer = SigningKey::from(&secret);
    let spki = spki_of(&secret.public_key())?;

    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| X509Error::Build(format!("CA certificate builder: {e}")))?;
    let cert = builder.build_with_rng::<DerSignature>(rng).map_err(|e| X509Error::Build(format!("signing CA certificate: {e}")))?;

    Ok(IssuedCertificate { certificate_pem: cert_to_pem(&cert)?, private_key_pem: secret_to_pem(&secret)? })
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
    let certificate_pem = issue_client_certificate_for_key(ca, subject_cn, &secret.public_key(), now, validity_secs, rng)?;
    Ok(IssuedCertificate { certificate_pem, private_key_pem: secret_to_pem(&secret)? })
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
    let (ca_cert, ca_secret) = read_ca(ca)?;
    if !basic_constraints(&ca_cert)?.is_some_and(|bc| bc.ca) {
        return Err(X509Error::Build("the issuing certificate is not a CA (basicConstraints cA is not TRUE)".into()));
    }

    let subject = common_name_to_name(subject_cn)?;
    let issuer = ca_cert.tbs_certificate.subject.clone();
    let cert = build_leaf(issuer, subject, public_key, &SigningKey::from(&ca_secret), now, validity_secs, rng)?;
    cert_to_pem(&cert)
}

/// Generates a self-signed client certificate with a fresh P-256 key, for
/// `self_signed_tls_client_auth` (RFC 8705 §2.2).
///
/// Issuer = subject = `CN=<subject_cn>` (self-issued, RFC 5280 §3.2). It is an
/// end-entity certificate: basicConstraints `cA: FALSE`, keyUsage
/// `digitalSignature | nonRepudiation`, extKeyUsage `id-kp-clientAuth`. The
/// server recognises it by its SPKI pin ([`spki_sha256_pin`]), not by a chain.
pub fn self_signed_client_certificate(subject_cn: &str, now: u64, validity_secs: u64, rng: &mut impl CryptoRngCore) -> Result<IssuedCertificate, X509Error> {
    let subject = common_name_to_name(subject_cn)?;
    let secret = p256::SecretKey::random(rng);
    let signer = SigningKey::from(&secret);
    let cert = build_leaf(subject.clone(), subject, &secret.public_key(), &signer, now, validity_secs, rng)?;
    Ok(IssuedCertificate { certificate_pem: cert_to_pem(&cert)?, private_key_pem: secret_to_pem(&secret)? })
}

/// `id-kp-serverAuth` (RFC 5280 §4.2.1.12).
const OID_KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");

/// Issues a TLS server certificate, signed by `ca`, for a fresh P-256 key: subject
/// `CN=<common_name>`, subjectAltName with each of `dns_names` and `ips` (RFC 5280 §4.2.1.6, what
/// TLS clients match the host against), extKeyUsage `id-kp-serverAuth`. For the local server's
/// HTTPS listeners.
pub fn issue_server_certificate(
    ca: &IssuedCertificate,
    common_name: &str,
    dns_names: &[&str],
    ips: &[std::net::IpAddr],
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<IssuedCertificate, X509Error> {
    let (ca_cert, ca_secret) = read_ca(ca)?;
    let mut names = Vec::new();
    for dns in dns_names {
        names.push(GeneralName::DnsName(Ia5String::new(dns).map_err(|e| X509Error::Build(format!("DNS name {dns:?}: {e}")))?));
    }
    for ip in ips {
        let bytes = match ip {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        names.push(GeneralName::IpAddress(OctetString::new(bytes).map_err(|e| X509Error::Build(format!("IP address {ip}: {e}")))?));
    }
    let secret = p256::SecretKey::random(rng);
    let signer = SigningKey::from(&ca_secret);
    let profile = Profile::Leaf { issuer: ca_cert.tbs_certificate.subject.clone(), enable_key_agreement: false, enable_key_encipherment: false };
    let spki = spki_of(&secret.public_key())?;
    let mut builder = CertificateBuilder::new(profile, random_serial(rng)?, validity(now, validity_secs)?, common_name_to_name(common_name)?, spki, &signer)
        .map_err(|e| X509Error::Build(format!("server certificate builder: {e}")))?;
    builder.add_extension(&ExtendedKeyUsage(vec![OID_KP_SERVER_AUTH])).map_err(|e| X509Error::Build(format!("extKeyUsage serverAuth: {e}")))?;
    builder.add_extension(&SubjectAltName(names)).map_err(|e| X509Error::Build(format!("subjectAltName: {e}")))?;
    let cert = builder.build_with_rng::<DerSignature>(rng).map_err(|e| X509Error::Build(format!("signing server certificate: {e}")))?;
    Ok(IssuedCertificate { certificate_pem: cert_to_pem(&cert)?, private_key_pem: secret_to_pem(&secret)? })
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
    let profile = Profile::Leaf { issuer, enable_key_agreement: false, enable_key_encipherment: false };
    let mut builder =
        CertificateBuilder::new(profile, serial, validity, subject, spki, signer).map_err(|e| X509Error::Build(format!("client certificate builder: {e}")))?;
    builder.add_extension(&ExtendedKeyUsage(vec![OID_KP_CLIENT_AUTH])).map_err(|e| X509Error::Build(format!("extKeyUsage clientAuth: {e}")))?;
    builder.build_with_rng::<DerSignature>(rng).map_err(|e| X509Error::Build(format!("signing client certificate: {e}")))
}

fn secret_to_pem(secret: &p256::SecretKey) -> Result<String, X509Error> {
    secret.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).map_err(|e| X509Error::Key(format!("encoding PKCS#8 private key: {e}")))
}

fn cert_to_pem(cert: &Certificate) -> Result<String, X509Error> {
    cert.to_pem(LineEnding::LF).map_err(|e| X509Error::Build(format!("encoding certificate PEM: {e}")))
}

fn common_name_to_name(cn: &str) -> Result<Name, X509Error> {
    let chars = cn.chars().count();
    if chars == 0 || chars > MAX_COMMON_NAME_CHARS {
        return Err(X509Error::Build(format!("common name must be 1 to {MAX_COMMON_NAME_CHARS} characters (RFC 5280 ub-common-name), got {chars}")));
    }
    let value = Any::new(Tag::Utf8String, cn.as_bytes()).map_err(|e| X509Error::Build(format!("common name value: {e}")))?;
    let atv = AttributeTypeAndValue { oid: OID_COMMON_NAME, value };
    let rdn = SetOfVec::try_from(vec![atv]).map_err(|e| X509Error::Build(format!("common name RDN: {e}")))?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(rdn)]))
}

fn validity(now: u64, validity_secs: u64) -> Result<Validity, X509Error> {
    let not_after = now.checked_add(validity_secs).ok_or_else(|| X509Error::Build("now + validity_secs overflows".into()))?;
    let time = |secs: u64| {
        GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
            .map(Time::GeneralTime)
            .map_err(|e| X509Error::Build(format!("time {secs} is not representable: {e}")))
    };
    Ok(Validity { not_before: time(now)?, not_after: time(not_after)? })
}

fn random_serial(rng: &mut impl CryptoRngCore) -> Result<SerialNumber, X509Error> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    if bytes.iter().all(|b| *b == 0) {
        bytes[15] = 1;
    }
    SerialNumber::new(&bytes).map_err(|e| X509Error::Build(format!("serial number: {e}")))
}

/// A client certificate for mutual TLS and its key; with `ca_issued`, issued by a new device CA
/// (`tls_client_auth`, RFC 8705 §2.1, the CA returned too), otherwise self-signed
/// (`self_signed_tls_client_auth`, §2.2). `common_name` is cut to 64 characters.
pub fn client_certificates(
    ca_issued: bool,
    common_name: &str,
    now: u64,
    validity_secs: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<(IssuedCertificate, Option<IssuedCertificate>), X509Error> {
    let cn: String = common_name.chars().take(MAX_COMMON_NAME_CHARS).collect();
    if ca_issued {
        let ca = generate_ca("haapi-lab device CA", now, validity_secs, rng)?;
        let leaf = issue_client_certificate(&ca, &cn, now, validity_secs, rng)?;
        Ok((leaf, Some(ca)))
    } else {
        Ok((self_signed_client_certificate(&cn, now, validity_secs, rng)?, None))
    }
}

/// The CA's certificate and private key, checked to belong together.
fn read_ca(ca: &IssuedCertificate) -> Result<(Certificate, p256::SecretKey), X509Error> {
    let ca_cert = first_certificate(&ca.certificate_pem)?;
    let ca_secret =
        p256::SecretKey::from_pkcs8_pem(&ca.private_key_pem).map_err(|e| X509Error::Key(format!("CA private key is not a PKCS#8 P-256 key: {e}")))?;
    if cert_public_key(&ca_cert).map_err(|e| X509Error::Key(format!("CA certificate key: {e}")))? != ca_secret.public_key() {
        return Err(X509Error::Key("CA private key does not match the CA certificate's public key".into()));
    }
    Ok((ca_cert, ca_secret))
}
