//! Verifying a client certificate chain as an authorization server does for mutual-TLS client
//! authentication (feature `sim`).

use super::*;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};

/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
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

/// Verifies a client certificate chain the way an authorization server does
/// for RFC 8705 mutual-TLS client authentication, and returns a description
/// of the leaf.
///
/// The chain is the text a person pasted, so its order is not trusted: the
/// leaf and the path above it are found wherever they are ([`path_order`];
/// a TLS stack likewise takes intermediates in any order, RFC 8446 §4.4.2).
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
pub fn verify_client_chain(chain_pem: &str, anchors: &[TrustAnchor], now: u64) -> Result<CertificateInfo, X509Error> {
    let chain = path_order(parse_pem_chain(chain_pem)?);
    for (i, cert) in chain.iter().enumerate() {
        check_signature_algorithm(cert, &position_name(i))?;
        check_critical_extensions(cert, &position_name(i))?;
    }
    let leaf = &chain[0];
    let leaf_info = info_of(leaf)?;
    if now < leaf_info.not_before {
        return Err(X509Error::NotYetValid { not_before: leaf_info.not_before });
    }
    if now > leaf_info.not_after {
        return Err(X509Error::Expired { not_after: leaf_info.not_after });
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
        return Err(X509Error::Untrusted("no trust anchors are configured".into()));
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
                    Err(reason) => reasons.push(format!("CA anchor \"{}\": {reason}", ca.tbs_certificate.subject)),
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
    if let Some(eku) = leaf.tbs_certificate.get::<ExtendedKeyUsage>().map_err(|e| format!("leaf extKeyUsage is malformed: {e}"))? {
        if !eku.1 .0.iter().any(|o| *o == OID_KP_CLIENT_AUTH || *o == OID_ANY_EKU) {
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
            verify_signature(cert, anchor).map_err(|e| format!("{}'s signature does not verify with the CA anchor's key: {e}", position_name(i)))?;
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
        verify_signature(cert, next).map_err(|e| format!("{}'s signature does not verify with {next_name}'s key: {e}", position_name(i)))?;
    }
    unreachable!("the loop returns on its last iteration")
}

/// Checks that `issuer` may sign certificates at `now` (RFC 5280 §6.1.4 (k),
/// (l), (n) and §6.1.3 (a)(2)).
fn check_issuer(issuer: &Certificate, what: &str, now: u64, intermediates_below: usize) -> Result<(), String> {
    let bc = basic_constraints(issuer).map_err(|e| e.to_string())?;
    let Some(bc) = bc.filter(|bc| bc.ca) else {
        return Err(format!("{what} is not a CA (basicConstraints cA is not TRUE)"));
    };
    if let Some(max) = bc.path_len_constraint {
        if intermediates_below > usize::from(max) {
            return Err(format!("{what}'s pathLenConstraint {max} is exceeded ({intermediates_below} intermediates below it)"));
        }
    }
    if let Some((_, ku)) = issuer.tbs_certificate.get::<KeyUsage>().map_err(|e| format!("{what}'s keyUsage is malformed: {e}"))? {
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
    let tbs = cert.tbs_certificate.to_der().map_err(|e| format!("re-encoding tbsCertificate: {e}"))?;
    let sig_bytes = cert.signature.as_bytes().ok_or_else(|| "signature BIT STRING has unused bits".to_string())?;
    let sig = Signature::from_der(sig_bytes).map_err(|_| "signature is malformed".to_string())?;
    VerifyingKey::from(&key).verify(&tbs, &sig).map_err(|_| "signature is invalid".to_string())
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
        return Err(X509Error::Untrusted(format!("{what}: signatureAlgorithm differs from tbsCertificate.signature")));
    }
    Ok(())
}

fn check_critical_extensions(cert: &Certificate, what: &str) -> Result<(), X509Error> {
    const KNOWN: [ObjectIdentifier; 6] = [OID_SKI, OID_KEY_USAGE, OID_SAN, OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, OID_AKI];
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.critical && !KNOWN.contains(&ext.extn_id) {
            return Err(X509Error::Unsupported(format!("{what} has an unrecognised critical extension {}", ext.extn_id)));
        }
    }
    Ok(())
}

fn position_name(i: usize) -> String {
    match i {
        0 => "the leaf certificate".to_string(),
        n => format!("chain certificate #{}", n + 1),
    }
}
