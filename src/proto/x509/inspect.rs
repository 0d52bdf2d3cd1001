//! Reading certificates: PEM chains, summaries, SPKI pins.

use super::*;
use der::Decode;

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
    let der = spki_of(public_key)?.to_der().map_err(|e| X509Error::Key(format!("encoding SubjectPublicKeyInfo: {e}")))?;
    Ok(crate::proto::base64::encode_standard(&Sha256::digest(der)))
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
        let label_end = block[BEGIN.len()..].find("-----").ok_or_else(|| X509Error::Pem("unterminated PEM BEGIN line".into()))?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block.find(&end_marker).ok_or_else(|| X509Error::Pem(format!("PEM block \"{label}\" has no matching END line")))? + end_marker.len();
        if label != "CERTIFICATE" {
            return Err(X509Error::Pem(format!("expected only CERTIFICATE blocks, found a \"{label}\" block (block #{})", certs.len() + 1)));
        }
        let (_, der) = der::pem::decode_vec(&block.as_bytes()[..end]).map_err(|e| X509Error::Pem(format!("certificate block #{}: {e}", certs.len() + 1)))?;
        let cert = Certificate::from_der(&der).map_err(|e| X509Error::Der(format!("certificate #{}: {e}", certs.len() + 1)))?;
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
