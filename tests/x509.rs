//! Tests for `haapi_lab::proto::x509`: issuing, describing and verifying mutual-TLS
//! client certificates (RFC 8705).

use der::{Decode, Encode};
use haapi_lab::proto::x509::{
    describe, generate_ca, issue_client_certificate, issue_client_certificate_for_key, parse_pem_chain, self_signed_client_certificate, spki_sha256_pin,
    spki_sha256_pin_for_key, verify_client_chain, IssuedCertificate, TrustAnchor, X509Error,
};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::{Digest, Sha256};

/// 2024-01-01T00:00:00Z.
const NOW: u64 = 1_704_067_200;
const DAY: u64 = 86_400;
const YEAR: u64 = 365 * DAY;

/// A tiny deterministic "CSPRNG" for tests: SHA-256 in counter mode.
struct SeededRng {
    seed: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    pos: usize,
}

impl SeededRng {
    fn new(seed: u64) -> Self {
        Self { seed: Sha256::digest(seed.to_be_bytes()).into(), counter: 0, buf: [0; 32], pos: 32 }
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.pos == 32 {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.buf = h.finalize().into();
                self.counter += 1;
                self.pos = 0;
            }
            *byte = self.buf[self.pos];
            self.pos += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SeededRng {}

fn ca(cn: &str) -> IssuedCertificate {
    generate_ca(cn, NOW, 10 * YEAR, &mut OsRng).expect("generate CA")
}

fn client(ca: &IssuedCertificate, cn: &str) -> IssuedCertificate {
    issue_client_certificate(ca, cn, NOW, YEAR, &mut OsRng).expect("issue client cert")
}

/// Re-encodes the DER of `pem`'s first certificate after applying `f`.
fn mutate_der(pem: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let (label, mut der) = der::pem::decode_vec(pem.as_bytes()).expect("pem");
    assert_eq!(label, "CERTIFICATE");
    f(&mut der);
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der).expect("encode")
}

#[test]
fn ca_issued_client_certificate_verifies_with_the_ca_anchor() {
    let ca = ca("Lab Root CA");
    let leaf = client(&ca, "client-one");
    let info = verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW + DAY).expect("trusted");
    assert_eq!(info.subject, "CN=client-one");
    assert_eq!(info.issuer, "CN=Lab Root CA");
    assert!(!info.is_ca);
    assert_eq!(info.spki_sha256, spki_sha256_pin(&leaf.certificate_pem).unwrap());
}

#[test]
fn chain_including_the_ca_itself_verifies() {
    let ca = ca("Lab Root CA");
    let leaf = client(&ca, "client-one");
    let chain = format!("{}{}", leaf.certificate_pem, ca.certificate_pem);
    assert_eq!(parse_pem_chain(&chain).unwrap().len(), 2);
    let info = verify_client_chain(&chain, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap();
    assert_eq!(info.subject, "CN=client-one");
}

/// Builds an intermediate CA signed by `parent` straight with x509-cert's
/// builder (the module under test only issues roots and leaves).
fn intermediate(parent: &IssuedCertificate, cn: &str, path_len: Option<u8>, validity: u64) -> IssuedCertificate {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    let parent_cert = parse_pem_chain(&parent.certificate_pem).unwrap().remove(0);
    let parent_key = p256::SecretKey::from_pkcs8_pem(&parent.private_key_pem).unwrap();
    let signer = p256::ecdsa::SigningKey::from(&parent_key);
    let secret = p256::SecretKey::random(&mut OsRng);
    let spki = spki::SubjectPublicKeyInfoOwned::from_key(secret.public_key()).unwrap();
    let t = |s: u64| x509_cert::time::Time::UtcTime(der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(s)).unwrap());
    let validity = x509_cert::time::Validity { not_before: t(NOW), not_after: t(NOW + validity) };
    let profile = Profile::SubCA { issuer: parent_cert.tbs_certificate.subject.clone(), path_len_constraint: path_len };
    let builder = CertificateBuilder::new(
        profile,
        x509_cert::serial_number::SerialNumber::from(rand_core::RngCore::next_u32(&mut OsRng) >> 1),
        validity,
        x509_cert::name::Name::from_str(&format!("CN={cn}")).unwrap(),
        spki,
        &signer,
    )
    .unwrap();
    let cert = builder.build::<p256::ecdsa::DerSignature>().unwrap();
    use der::EncodePem;
    use p256::pkcs8::EncodePrivateKey;
    IssuedCertificate {
        certificate_pem: cert.to_pem(der::pem::LineEnding::LF).unwrap(),
        private_key_pem: secret.to_pkcs8_pem(der::pem::LineEnding::LF).unwrap().to_string(),
    }
}

#[test]
fn chain_through_an_intermediate_ca_verifies() {
    let root = ca("Root");
    let inter = intermediate(&root, "Intermediate", None, YEAR);
    assert!(describe(&inter.certificate_pem).unwrap().is_ca);
    let leaf = client(&inter, "leaf");
    let anchors = [TrustAnchor::Ca(&root.certificate_pem)];

    let chain = format!("{}{}", leaf.certificate_pem, inter.certificate_pem);
    let info = verify_client_chain(&chain, &anchors, NOW).unwrap();
    assert_eq!(info.subject, "CN=leaf");
    assert_eq!(info.issuer, "CN=Intermediate");

    // Trusting the intermediate directly also works, without the rest.
    verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&inter.certificate_pem)], NOW).unwrap();

    // Without the intermediate, the path to the root cannot be built.
    let err = verify_client_chain(&leaf.certificate_pem, &anchors, NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");

    // An intermediate from another root does not help.
    let other_root = ca("Root");
    let other_inter = intermediate(&other_root, "Intermediate", None, YEAR);
    let chain = format!("{}{}", leaf.certificate_pem, other_inter.certificate_pem);
    let err = verify_client_chain(&chain, &anchors, NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");
}

#[test]
fn expired_intermediate_or_exceeded_path_length_is_untrusted() {
    let root = ca("Root");
    let anchors = [TrustAnchor::Ca(&root.certificate_pem)];

    let short = intermediate(&root, "Short", None, DAY);
    let leaf = client(&short, "leaf");
    let chain = format!("{}{}", leaf.certificate_pem, short.certificate_pem);
    verify_client_chain(&chain, &anchors, NOW + DAY).unwrap();
    let err = verify_client_chain(&chain, &anchors, NOW + 2 * DAY).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }

    // Root -> A (pathLen 0) -> B -> leaf: A may not have a CA below it.
    let a = intermediate(&root, "A", Some(0), YEAR);
    let b = intermediate(&a, "B", None, YEAR);
    let leaf = client(&b, "leaf");
    let chain = format!("{}{}{}", leaf.certificate_pem, b.certificate_pem, a.certificate_pem);
    let err = verify_client_chain(&chain, &anchors, NOW).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("pathLenConstraint"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
    // With A allowing one CA below it, the same shape verifies.
    let a = intermediate(&root, "A", Some(1), YEAR);
    let b = intermediate(&a, "B", None, YEAR);
    let leaf = client(&b, "leaf");
    let chain = format!("{}{}{}", leaf.certificate_pem, b.certificate_pem, a.certificate_pem);
    verify_client_chain(&chain, &anchors, NOW).unwrap();
}

#[test]
fn certificate_from_a_different_ca_is_untrusted() {
    let ca_a = ca("CA A");
    let ca_b = ca("CA B");
    let leaf = client(&ca_b, "client");
    let err = verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca_a.certificate_pem)], NOW).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("CN=CA B"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

#[test]
fn same_name_different_key_ca_is_untrusted() {
    // Issuer name matches, but the signature does not verify with the anchor key.
    let real = ca("Shared Name CA");
    let impostor = ca("Shared Name CA");
    let leaf = client(&impostor, "client");
    let err = verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&real.certificate_pem)], NOW).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("signature"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

#[test]
fn expired_leaf_is_rejected_with_not_after() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    let not_after = NOW + YEAR;
    // Inclusive bound: exactly notAfter is still valid (RFC 5280 §4.1.2.5).
    verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], not_after).unwrap();
    let err = verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], not_after + 1).unwrap_err();
    assert_eq!(err, X509Error::Expired { not_after });
}

#[test]
fn not_yet_valid_leaf_is_rejected_with_not_before() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    let err = verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW - 1).unwrap_err();
    assert_eq!(err, X509Error::NotYetValid { not_before: NOW });
}

#[test]
fn expired_ca_makes_the_chain_untrusted() {
    let ca = generate_ca("Short CA", NOW, DAY, &mut OsRng).unwrap();
    let leaf = issue_client_certificate(&ca, "client", NOW, YEAR, &mut OsRng).unwrap();
    let anchors = [TrustAnchor::Ca(&ca.certificate_pem)];
    verify_client_chain(&leaf.certificate_pem, &anchors, NOW + DAY).unwrap();
    let err = verify_client_chain(&leaf.certificate_pem, &anchors, NOW + 2 * DAY).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

#[test]
fn self_signed_cert_is_accepted_by_its_pin_and_rejected_by_another() {
    let me = self_signed_client_certificate("self-signed-client", NOW, YEAR, &mut OsRng).unwrap();
    let other = self_signed_client_certificate("self-signed-client", NOW, YEAR, &mut OsRng).unwrap();
    let my_pin = spki_sha256_pin(&me.certificate_pem).unwrap();
    let other_pin = spki_sha256_pin(&other.certificate_pem).unwrap();
    assert_ne!(my_pin, other_pin);

    let info = verify_client_chain(&me.certificate_pem, &[TrustAnchor::PinnedSpki(&my_pin)], NOW).unwrap();
    assert_eq!(info.subject, "CN=self-signed-client");
    assert_eq!(info.issuer, info.subject);
    assert!(!info.is_ca);

    let err = verify_client_chain(&me.certificate_pem, &[TrustAnchor::PinnedSpki(&other_pin)], NOW).unwrap_err();
    assert_eq!(err, X509Error::PinMismatch);

    // Any accepting anchor is enough.
    verify_client_chain(&me.certificate_pem, &[TrustAnchor::PinnedSpki(&other_pin), TrustAnchor::PinnedSpki(&my_pin)], NOW).unwrap();
}

#[test]
fn pinned_cert_still_has_to_be_within_validity() {
    let me = self_signed_client_certificate("c", NOW, DAY, &mut OsRng).unwrap();
    let pin = spki_sha256_pin(&me.certificate_pem).unwrap();
    let err = verify_client_chain(&me.certificate_pem, &[TrustAnchor::PinnedSpki(&pin)], NOW + 2 * DAY).unwrap_err();
    assert_eq!(err, X509Error::Expired { not_after: NOW + DAY });
}

#[test]
fn self_signed_cert_is_not_accepted_by_a_ca_anchor() {
    let ca = ca("CA");
    let me = self_signed_client_certificate("client", NOW, YEAR, &mut OsRng).unwrap();
    let err = verify_client_chain(&me.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");

    // Using the self-signed cert itself as a "CA" anchor does not work either:
    // it is not a CA (basicConstraints cA: FALSE).
    let err = verify_client_chain(&me.certificate_pem, &[TrustAnchor::Ca(&me.certificate_pem)], NOW).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("not a CA"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

#[test]
fn mixed_anchors_accept_either_way_and_report_untrusted() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    let me = self_signed_client_certificate("client", NOW, YEAR, &mut OsRng).unwrap();
    let pin = spki_sha256_pin(&me.certificate_pem).unwrap();
    let anchors = [TrustAnchor::Ca(&ca.certificate_pem), TrustAnchor::PinnedSpki(&pin)];
    verify_client_chain(&leaf.certificate_pem, &anchors, NOW).unwrap();
    verify_client_chain(&me.certificate_pem, &anchors, NOW).unwrap();

    let stranger = self_signed_client_certificate("stranger", NOW, YEAR, &mut OsRng).unwrap();
    let err = verify_client_chain(&stranger.certificate_pem, &anchors, NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");

    let err = verify_client_chain(&stranger.certificate_pem, &[], NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");
}

#[test]
fn pin_is_44_char_base64_of_sha256_spki_and_stable() {
    let me = self_signed_client_certificate("client", NOW, YEAR, &mut OsRng).unwrap();
    let pin = spki_sha256_pin(&me.certificate_pem).unwrap();
    assert_eq!(pin.len(), 44);
    assert!(pin.ends_with('='));
    assert_eq!(pin, spki_sha256_pin(&me.certificate_pem).unwrap());

    // Independently computed: SHA-256 over the DER SubjectPublicKeyInfo.
    let cert = &parse_pem_chain(&me.certificate_pem).unwrap()[0];
    let spki_der = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
    let expected = haapi_lab::proto::base64::encode_standard(&Sha256::digest(&spki_der));
    assert_eq!(pin, expected);

    // Same key → same pin, from the key alone.
    let key = p256::SecretKey::from_pkcs8_pem(&me.private_key_pem).unwrap();
    assert_eq!(spki_sha256_pin_for_key(&key.public_key()).unwrap(), pin);
}

#[test]
fn tampered_signature_is_untrusted() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    // The DER certificate ends with the signature BIT STRING; the last byte
    // is inside the ECDSA `s` INTEGER.
    let tampered = mutate_der(&leaf.certificate_pem, |der| {
        let last = der.len() - 1;
        der[last] ^= 0x01;
    });
    assert_ne!(tampered, leaf.certificate_pem);
    let err = verify_client_chain(&tampered, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap_err();
    match err {
        X509Error::Untrusted(reason) => assert!(reason.contains("signature"), "{reason}"),
        other => panic!("expected Untrusted, got {other:?}"),
    }
}

#[test]
fn tampered_tbs_is_untrusted() {
    let ca = ca("CA");
    let leaf = client(&ca, "client-aaaa");
    // Change the subject CN inside tbsCertificate: "client-aaaa" -> "client-aaab".
    let tampered = mutate_der(&leaf.certificate_pem, |der| {
        let needle = b"client-aaaa";
        let pos = der.windows(needle.len()).position(|w| w == needle).expect("cn in der");
        der[pos + needle.len() - 1] = b'b';
    });
    let err = verify_client_chain(&tampered, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap_err();
    assert!(matches!(err, X509Error::Untrusted(_)), "{err:?}");
}

#[test]
fn non_ecdsa_sha256_signature_algorithm_is_unsupported() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    // Rewrite both AlgorithmIdentifiers from ecdsa-with-SHA256 (…4.3.2) to
    // ecdsa-with-SHA384 (…4.3.3).
    let mut cert = parse_pem_chain(&leaf.certificate_pem).unwrap().remove(0);
    let sha384 = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    cert.signature_algorithm.oid = sha384;
    cert.tbs_certificate.signature.oid = sha384;
    let der = cert.to_der().unwrap();
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der).unwrap();
    let err = verify_client_chain(&pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap_err();
    match err {
        X509Error::Unsupported(reason) => assert!(reason.contains("ecdsa-with-SHA256"), "{reason}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn describe_reports_names_validity_serial_and_ca_flag() {
    let ca = ca("Describe CA");
    let ca_info = describe(&ca.certificate_pem).unwrap();
    assert!(ca_info.subject.contains("Describe CA"));
    assert_eq!(ca_info.subject, ca_info.issuer);
    assert!(ca_info.is_ca);
    assert_eq!(ca_info.not_before, NOW);
    assert_eq!(ca_info.not_after, NOW + 10 * YEAR);
    assert!(!ca_info.serial_hex.is_empty() && ca_info.serial_hex.len() <= 32);
    assert!(ca_info.serial_hex.chars().all(|c| c.is_ascii_hexdigit()));

    let leaf = client(&ca, "describe-client");
    let info = describe(&leaf.certificate_pem).unwrap();
    assert!(info.subject.contains("describe-client"));
    assert_eq!(info.issuer, ca_info.subject);
    assert!(!info.is_ca);
    assert_ne!(info.serial_hex, ca_info.serial_hex);

    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["subject"], "CN=describe-client");
    assert_eq!(json["is_ca"], false);
}

#[test]
fn private_key_pem_matches_the_certificate_key() {
    let ca = ca("CA");
    let leaf = client(&ca, "client");
    let me = self_signed_client_certificate("me", NOW, YEAR, &mut OsRng).unwrap();
    for issued in [&ca, &leaf, &me] {
        assert!(issued.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let secret = p256::SecretKey::from_pkcs8_pem(&issued.private_key_pem).unwrap();
        let cert = &parse_pem_chain(&issued.certificate_pem).unwrap()[0];
        let spki_der = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
        let cert_key = p256::PublicKey::from_public_key_der(&spki_der).unwrap();
        assert_eq!(secret.public_key(), cert_key);
    }
}

#[test]
fn debug_redacts_the_private_key() {
    let me = self_signed_client_certificate("me", NOW, YEAR, &mut OsRng).unwrap();
    let dbg = format!("{me:?}");
    assert!(dbg.contains("[redacted]"));
    assert!(!dbg.contains("PRIVATE KEY"));
    assert!(dbg.contains("BEGIN CERTIFICATE"));
}

#[test]
fn issue_for_existing_key_certifies_that_key() {
    let ca = ca("CA");
    let secret = p256::SecretKey::random(&mut OsRng);
    let pem = issue_client_certificate_for_key(&ca, "bring-your-own-key", &secret.public_key(), NOW, YEAR, &mut OsRng).unwrap();
    let info = verify_client_chain(&pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap();
    assert_eq!(info.spki_sha256, spki_sha256_pin_for_key(&secret.public_key()).unwrap());
}

#[test]
fn issuing_with_a_mismatched_or_non_ca_issuer_fails() {
    let ca_a = ca("A");
    let ca_b = ca("B");
    let franken = IssuedCertificate { certificate_pem: ca_a.certificate_pem.clone(), private_key_pem: ca_b.private_key_pem.clone() };
    let err = issue_client_certificate(&franken, "c", NOW, YEAR, &mut OsRng).unwrap_err();
    assert!(matches!(err, X509Error::Key(_)), "{err:?}");

    let leaf = client(&ca_a, "leaf");
    let err = issue_client_certificate(&leaf, "c", NOW, YEAR, &mut OsRng).unwrap_err();
    assert!(matches!(err, X509Error::Build(_)), "{err:?}");

    let err = generate_ca("", NOW, YEAR, &mut OsRng).unwrap_err();
    assert!(matches!(err, X509Error::Build(_)), "{err:?}");
}

#[test]
fn seeded_rng_gives_reproducible_certificates() {
    let a = self_signed_client_certificate("det", NOW, YEAR, &mut SeededRng::new(7)).unwrap();
    let b = self_signed_client_certificate("det", NOW, YEAR, &mut SeededRng::new(7)).unwrap();
    let c = self_signed_client_certificate("det", NOW, YEAR, &mut SeededRng::new(8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.certificate_pem, c.certificate_pem);
    assert_ne!(a.private_key_pem, c.private_key_pem);

    let mut rng = SeededRng::new(1);
    let ca = generate_ca("Seeded CA", NOW, YEAR, &mut rng).unwrap();
    let leaf = issue_client_certificate(&ca, "seeded-client", NOW, DAY, &mut rng).unwrap();
    verify_client_chain(&leaf.certificate_pem, &[TrustAnchor::Ca(&ca.certificate_pem)], NOW).unwrap();
}

#[test]
fn parse_pem_chain_rejects_garbage_and_foreign_blocks() {
    assert!(matches!(parse_pem_chain("").unwrap_err(), X509Error::Pem(_)));
    assert!(matches!(parse_pem_chain("hello").unwrap_err(), X509Error::Pem(_)));
    let me = self_signed_client_certificate("me", NOW, YEAR, &mut OsRng).unwrap();
    let with_key = format!("{}{}", me.certificate_pem, me.private_key_pem);
    assert!(matches!(parse_pem_chain(&with_key).unwrap_err(), X509Error::Pem(_)));
    // Valid PEM armour around bytes that are not a certificate.
    let junk = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &[1, 2, 3]).unwrap();
    assert!(matches!(parse_pem_chain(&junk).unwrap_err(), X509Error::Der(_)));
    // Surrounding text (as printed by openssl) is ignored.
    let annotated = format!("subject=CN=me\n{}\n", me.certificate_pem);
    assert_eq!(parse_pem_chain(&annotated).unwrap().len(), 1);
    // Decoding back gives the same certificate.
    let cert = parse_pem_chain(&me.certificate_pem).unwrap().remove(0);
    let again = x509_cert::Certificate::from_der(&cert.to_der().unwrap()).unwrap();
    assert_eq!(cert, again);
}
