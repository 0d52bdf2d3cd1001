//! Reading certificates: PEM chains, summaries, SPKI pins.

use super::*;
use der::Decode;
use x509_cert::ext::pkix::ExtendedKeyUsage;

/// Computes the SPKI pin of a certificate: standard base64 (with padding, 44
/// characters) of SHA-256 over the DER SubjectPublicKeyInfo
/// (RFC 5280 §4.1.2.7), in the style of RFC 7469 §2.4 `pin-sha256`.
///
/// This is what a server registers for `self_signed_tls_client_auth`
/// (RFC 8705 §2.2). If `cert_pem` holds several certificates, the leaf is
/// used, wherever it is (see [`path_order`]).
pub fn spki_sha256_pin(cert_pem: &str) -> Result<String, X509Error> {
    let cert = leaf_certificate(cert_pem)?;
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

/// Summarises a certificate (the leaf if `cert_pem` holds a chain, wherever it
/// is: see [`path_order`]) for traces and pages: names (RFC 5280 §4.1.2.4,
/// §4.1.2.6), validity (§4.1.2.5), serial (§4.1.2.2), SPKI pin and
/// basicConstraints cA (§4.2.1.9).
pub fn describe(cert_pem: &str) -> Result<CertificateInfo, X509Error> {
    let cert = leaf_certificate(cert_pem)?;
    info_of(&cert)
}

/// A chain's certificates in path order, whatever order they were pasted in
/// (tools write CA first as often as leaf first): the leaf, then its issuer,
/// that one's issuer, and so on; certificates off that path follow in their
/// given order.
///
/// The leaf is a certificate that issued none of the others; among several,
/// a client certificate first: one that is not a CA, then one whose
/// extKeyUsage names TLS client authentication (`openssl req -x509` marks a
/// self-signed client certificate as a CA too, and a root pasted before it is
/// not the leaf). Among equals the earlier one wins, so a chain that is
/// already leaf first keeps its order. Issuers are matched by name (issuer ==
/// subject, RFC 5280 §6.1); signatures are the verifier's to check.
pub fn path_order(mut certs: Vec<Certificate>) -> Vec<Certificate> {
    let name = |c: &Certificate| (c.tbs_certificate.subject.clone(), c.tbs_certificate.issuer.clone());
    let names: Vec<_> = certs.iter().map(name).collect();
    let issues_another = |i: usize| names.iter().enumerate().any(|(j, (_, issuer))| j != i && *issuer == names[i].0);
    let client_like = |c: &Certificate| {
        let not_ca = !basic_constraints(c).ok().flatten().is_some_and(|bc| bc.ca);
        let client_auth = c.tbs_certificate.get::<ExtendedKeyUsage>().ok().flatten().is_some_and(|(_, eku)| eku.0.contains(&OID_KP_CLIENT_AUTH));
        (not_ca, client_auth)
    };
    let leaf = (0..certs.len()).filter(|&i| !issues_another(i)).max_by_key(|&i| (client_like(&certs[i]), std::cmp::Reverse(i)));
    let Some(leaf) = leaf else {
        return certs;
    };
    let mut path = vec![certs.remove(leaf)];
    loop {
        let last = &path[path.len() - 1].tbs_certificate;
        if last.issuer == last.subject {
            break;
        }
        let Some(next) = certs.iter().position(|c| c.tbs_certificate.subject == last.issuer) else { break };
        path.push(certs.remove(next));
    }
    path.extend(certs);
    path
}

/// The leaf of a PEM chain, wherever it is (see [`path_order`]).
pub(super) fn leaf_certificate(pem: &str) -> Result<Certificate, X509Error> {
    Ok(path_order(parse_pem_chain(pem)?).swap_remove(0))
}

/// A PEM chain in path order (see [`path_order`]), one PEM block per
/// certificate: the leaf first, the top of its path last among those on it.
pub fn pem_chain_in_path_order(pem: &str) -> Result<Vec<String>, X509Error> {
    path_order(parse_pem_chain(pem)?)
        .iter()
        .map(|c| c.to_der().map(|der| crate::proto::pem::encode("CERTIFICATE", &der)).map_err(|e| X509Error::Der(format!("encoding a certificate: {e}"))))
        .collect()
}
