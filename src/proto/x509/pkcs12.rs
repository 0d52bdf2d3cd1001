//! PKCS#12 export (feature `tools`): a client certificate, its chain and its private key in one
//! password-protected file (`.p12` / `.pfx`), what browsers, NSS, macOS and OpenSSL import.
//!
//! The layout is the one OpenSSL 3's `openssl pkcs12 -export` writes by default (checked with
//! `openssl pkcs12 -info` on OpenSSL 3.0), so every tool that reads those reads this:
//!
//! * `PFX` version 3 (RFC 7292 §4) whose `authSafe` is `id-data` holding two `ContentInfo`s:
//!   the certificates in an `id-encryptedData` (RFC 7292 §4.1, RFC 2315 §13) and the key in a
//!   plain `id-data` as a `pkcs8ShroudedKeyBag` (RFC 7292 §4.2.2, an `EncryptedPrivateKeyInfo`,
//!   RFC 5958 §3);
//! * both encrypted with PBES2 (RFC 8018 §6.2): PBKDF2 (§5.2) with `hmacWithSHA256`, an 8-byte
//!   salt and 2048 iterations, then AES-256-CBC (RFC 8018 Appendix B.2.5 / RFC 3565) with a
//!   16-byte IV, PKCS#7 padding; the password is given to PBKDF2 as its UTF-8 bytes, as OpenSSL,
//!   NSS and macOS do;
//! * the integrity MAC (RFC 7292 §5.1 `MacData`): HMAC-SHA256 over the `authSafe` contents, its
//!   key from the PKCS#12 key derivation (RFC 7292 Appendix B.2, ID 3, SHA-256) of the password as
//!   a BMPString (UTF-16BE with two zero bytes at the end), an 8-byte salt and 2048 iterations.
//!   PBMAC1 (RFC 9579) is not used: OpenSSL writes it only when asked (`-pbmac1_pbkdf2`, 3.4+)
//!   and older readers refuse it;
//! * the leaf's certificate bag and the key bag carry `friendlyName` (the name a browser shows)
//!   and the same `localKeyId` (RFC 7292 §4.2, PKCS #9), which ties the key to its certificate.
//!
//! Salts and IVs come from the caller's generator (`proto::entropy` at the edges); nothing here
//! reads a clock or global randomness.

use super::*;
use crate::proto::der::{encode, INTEGER, NULL, OCTET_STRING, OID, SEQUENCE};
use crate::proto::jose::keys::PrivateKey;
use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut as _, KeyIvInit as _};
use hmac::{Hmac, Mac as _};
use rand_core::CryptoRngCore;

/// `SET` (X.690 §8.12).
const SET: u8 = 0x31;
/// `BMPString` (X.680 §41), the type of `friendlyName`.
const BMP_STRING: u8 = 0x1e;
/// `[0] EXPLICIT` (constructed, context-specific 0).
const EXPLICIT_0: u8 = 0xa0;
/// `[0] IMPLICIT OCTET STRING` (primitive, context-specific 0): `encryptedContent`.
const IMPLICIT_0: u8 = 0x80;

// Object identifiers, their DER contents.
/// `id-data` 1.2.840.113549.1.7.1 (RFC 2315 §14).
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// `id-encryptedData` 1.2.840.113549.1.7.6 (RFC 2315 §14).
const OID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
/// `id-PBES2` 1.2.840.113549.1.5.13 (RFC 8018 Appendix A.4).
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
/// `id-PBKDF2` 1.2.840.113549.1.5.12 (RFC 8018 Appendix A.2).
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
/// `id-hmacWithSHA256` 1.2.840.113549.2.9 (RFC 8018 Appendix B.1.2).
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
/// `aes256-CBC-PAD` 2.16.840.1.101.3.4.1.42 (RFC 8018 Appendix B.2.5, RFC 3565 §4.1).
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
/// `id-sha256` 2.16.840.1.101.3.4.2.1 (RFC 5754 §2.2), the MAC's digest algorithm.
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// `pkcs8ShroudedKeyBag` 1.2.840.113549.1.12.10.1.2 (RFC 7292 §4.2.2).
const OID_SHROUDED_KEY_BAG: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02];
/// `certBag` 1.2.840.113549.1.12.10.1.3 (RFC 7292 §4.2.3).
const OID_CERT_BAG: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03];
/// `x509Certificate` 1.2.840.113549.1.9.22.1 (RFC 7292 §4.2.3, PKCS #9).
const OID_X509_CERTIFICATE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
/// `friendlyName` 1.2.840.113549.1.9.20 (RFC 2985 §5.5.1).
const OID_FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
/// `localKeyId` 1.2.840.113549.1.9.21 (RFC 2985 §5.5.2).
const OID_LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];

/// PBKDF2 and MAC iterations: OpenSSL 3's default (`PKCS12_DEFAULT_ITER`).
pub const PKCS12_ITERATIONS: u32 = 2048;
/// Salt length, PBKDF2 and MAC alike (OpenSSL's `PKCS5_SALT_LEN`).
const SALT_LEN: usize = 8;
/// Longest `friendlyName` kept, in characters.
const MAX_FRIENDLY_NAME_CHARS: usize = 64;

/// A PKCS#12 file (DER) holding the leaf certificate of `chain_pem` with the rest of its chain
/// (any order; put in path order, leaf first) and `key_pem` (PKCS#8, SEC1, PKCS#1 PEM or a
/// JWK: P-256, P-384 or RSA), which must be the leaf's key, protected by `password` (not empty).
/// `friendly_name` is the name a browser shows for it (cut to 64 characters; empty: none).
pub fn pkcs12_export(chain_pem: &str, key_pem: &str, password: &str, friendly_name: &str, rng: &mut impl CryptoRngCore) -> Result<Vec<u8>, X509Error> {
    if password.is_empty() {
        return Err(X509Error::Key("a PKCS#12 file needs a password: browsers and macOS refuse to import one without".into()));
    }
    let certs = path_order(parse_pem_chain(chain_pem)?);
    let key = PrivateKey::parse(key_pem).map_err(|e| X509Error::Key(format!("the private key: {e}")))?;
    let leaf_der = certs[0].to_der().map_err(|e| X509Error::Der(format!("encoding the leaf certificate: {e}")))?;
    let leaf_spki = certs[0].tbs_certificate.subject_public_key_info.to_der().map_err(|e| X509Error::Der(format!("encoding SubjectPublicKeyInfo: {e}")))?;
    let key_spki = crate::proto::pem::parse_one(&key.public_key_pem()).map_err(|e| X509Error::Key(e.to_string()))?.der;
    if leaf_spki != key_spki {
        // The subject is not named: printing a Name brings in const-oid's table of attribute names
        // (about 30 KB gzip in the tools module).
        return Err(X509Error::Key(format!(
            "the private key ({}) is not the key of the leaf certificate (their public keys differ): export the key that belongs to it",
            key.family().name()
        )));
    }

    // localKeyId ties the key bag to the leaf's bag: a digest of the certificate, as OpenSSL uses.
    let local_key_id = Sha256::digest(&leaf_der).to_vec();
    let name: String = friendly_name.chars().take(MAX_FRIENDLY_NAME_CHARS).collect();
    let attributes = bag_attributes(&name, &local_key_id);

    let mut cert_bags = Vec::new();
    for (i, cert) in certs.iter().enumerate() {
        let der = if i == 0 { leaf_der.clone() } else { cert.to_der().map_err(|e| X509Error::Der(format!("encoding a certificate: {e}")))? };
        let cert_bag = seq(&[oid(OID_X509_CERTIFICATE), explicit0(&encode(OCTET_STRING, &der))]);
        let attrs = if i == 0 { attributes.clone() } else { Vec::new() };
        cert_bags.push(safe_bag(OID_CERT_BAG, &cert_bag, &attrs));
    }
    let cert_contents = seq(&cert_bags);
    let (algorithm, encrypted) = pbes2_encrypt(password, &cert_contents, rng);
    let encrypted_content_info = seq(&[oid(OID_DATA), algorithm, encode(IMPLICIT_0, &encrypted)]);
    let encrypted_data = seq(&[int(0), encrypted_content_info]);
    let certs_info = seq(&[oid(OID_ENCRYPTED_DATA), explicit0(&encrypted_data)]);

    let mut pkcs8 = key.to_pkcs8_der();
    let (algorithm, encrypted) = pbes2_encrypt(password, &pkcs8, rng);
    pkcs8.fill(0);
    let shrouded = seq(&[algorithm, encode(OCTET_STRING, &encrypted)]);
    let key_contents = seq(&[safe_bag(OID_SHROUDED_KEY_BAG, &shrouded, &attributes)]);
    let key_info = seq(&[oid(OID_DATA), explicit0(&encode(OCTET_STRING, &key_contents))]);

    let auth_safe = seq(&[certs_info, key_info]);
    let mut mac_salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut mac_salt);
    let mac_key = pkcs12_kdf_sha256(&bmp_password(password), &mac_salt, 3, PKCS12_ITERATIONS);
    let mut mac = Hmac::<Sha256>::new_from_slice(&mac_key).expect("HMAC takes a key of any length");
    mac.update(&auth_safe);
    let digest = mac.finalize().into_bytes();
    let mac_data =
        seq(&[seq(&[seq(&[oid(OID_SHA256), encode(NULL, &[])]), encode(OCTET_STRING, &digest)]), encode(OCTET_STRING, &mac_salt), int(PKCS12_ITERATIONS)]);
    Ok(seq(&[int(3), seq(&[oid(OID_DATA), explicit0(&encode(OCTET_STRING, &auth_safe))]), mac_data]))
}

/// `SafeBag` (RFC 7292 §4.2): bag id, `[0] EXPLICIT` value, attributes if any.
fn safe_bag(bag_id: &[u8], value: &[u8], attributes: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(bag_id), explicit0(value)];
    if !attributes.is_empty() {
        parts.push(attributes.to_vec());
    }
    seq(&parts)
}

/// `SET OF PKCS12Attribute`: `friendlyName` (if any) and `localKeyId`, in DER order.
fn bag_attributes(name: &str, local_key_id: &[u8]) -> Vec<u8> {
    let mut attrs = vec![seq(&[oid(OID_LOCAL_KEY_ID), encode(SET, &encode(OCTET_STRING, local_key_id))])];
    if !name.is_empty() {
        let bmp: Vec<u8> = name.encode_utf16().flat_map(u16::to_be_bytes).collect();
        attrs.push(seq(&[oid(OID_FRIENDLY_NAME), encode(SET, &encode(BMP_STRING, &bmp))]));
    }
    // DER sorts the elements of a SET OF by their encodings (X.690 §11.6).
    attrs.sort();
    encode(SET, &attrs.concat())
}

/// PBES2 (RFC 8018 §6.2.1) with PBKDF2-HMAC-SHA256 and AES-256-CBC: the `AlgorithmIdentifier`
/// and the ciphertext. The password goes to PBKDF2 as UTF-8.
fn pbes2_encrypt(password: &str, plain: &[u8], rng: &mut impl CryptoRngCore) -> (Vec<u8>, Vec<u8>) {
    let mut salt = [0u8; SALT_LEN];
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, PKCS12_ITERATIONS, &mut key);
    let encrypted = cbc::Encryptor::<aes::Aes256Enc>::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
    key.fill(0);
    let pbkdf2_params = seq(&[encode(OCTET_STRING, &salt), int(PKCS12_ITERATIONS), seq(&[oid(OID_HMAC_SHA256), encode(NULL, &[])])]);
    let params = seq(&[seq(&[oid(OID_PBKDF2), pbkdf2_params]), seq(&[oid(OID_AES256_CBC), encode(OCTET_STRING, &iv)])]);
    (seq(&[oid(OID_PBES2), params]), encrypted)
}

/// The password as the PKCS#12 key derivation wants it (RFC 7292 Appendix B.1): a BMPString,
/// UTF-16 big-endian, with two zero bytes at the end.
fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    out.extend([0, 0]);
    out
}

/// The PKCS#12 key derivation (RFC 7292 Appendix B.2) with SHA-256 (u = 32, v = 64 bytes): 32
/// bytes of key material for purpose `id` (1 key, 2 IV, 3 MAC key).
fn pkcs12_kdf_sha256(password: &[u8], salt: &[u8], id: u8, iterations: u32) -> [u8; 32] {
    const V: usize = 64;
    let stretch = |s: &[u8]| -> Vec<u8> {
        if s.is_empty() {
            return Vec::new();
        }
        let len = V * s.len().div_ceil(V);
        s.iter().copied().cycle().take(len).collect()
    };
    let d = [id; V];
    let i: Vec<u8> = [stretch(salt), stretch(password)].concat();
    // n = 32 <= u = 32: one block A_1 is the whole output, so I need not be updated (step 6C).
    let mut a: [u8; 32] = Sha256::new().chain_update(d).chain_update(&i).finalize().into();
    for _ in 1..iterations.max(1) {
        a = Sha256::digest(a).into();
    }
    a
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    encode(SEQUENCE, &parts.concat())
}

fn oid(content: &[u8]) -> Vec<u8> {
    encode(OID, content)
}

fn explicit0(inner: &[u8]) -> Vec<u8> {
    encode(EXPLICIT_0, inner)
}

/// A non-negative `INTEGER`, minimally encoded.
fn int(n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(3);
    let mut content = bytes[first..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    encode(INTEGER, &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::der::oid_string;
    use crate::proto::entropy::SeededEntropy;

    #[test]
    fn object_identifiers_are_the_standard_ones() {
        for (bytes, dotted) in [
            (OID_DATA, "1.2.840.113549.1.7.1"),
            (OID_ENCRYPTED_DATA, "1.2.840.113549.1.7.6"),
            (OID_PBES2, "1.2.840.113549.1.5.13"),
            (OID_PBKDF2, "1.2.840.113549.1.5.12"),
            (OID_HMAC_SHA256, "1.2.840.113549.2.9"),
            (OID_AES256_CBC, "2.16.840.1.101.3.4.1.42"),
            (OID_SHA256, "2.16.840.1.101.3.4.2.1"),
            (OID_SHROUDED_KEY_BAG, "1.2.840.113549.1.12.10.1.2"),
            (OID_CERT_BAG, "1.2.840.113549.1.12.10.1.3"),
            (OID_X509_CERTIFICATE, "1.2.840.113549.1.9.22.1"),
            (OID_FRIENDLY_NAME, "1.2.840.113549.1.9.20"),
            (OID_LOCAL_KEY_ID, "1.2.840.113549.1.9.21"),
        ] {
            assert_eq!(oid_string(bytes).unwrap(), dotted);
        }
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(3), [2, 1, 3]);
        assert_eq!(int(128), [2, 2, 0, 128]);
        assert_eq!(int(2048), [2, 2, 8, 0]);
    }

    /// A known answer of the PKCS#12 key derivation with SHA-256 from OpenSSL 3.0 (ID 3, the
    /// BMPString of "Password1" with its two zero bytes, salt 01..08, 2048 iterations): `openssl
    /// kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt
    /// hexpass:00500061007300730077006f0072006400310000 -kdfopt hexsalt:0102030405060708 -kdfopt
    /// iter:2048 -kdfopt id:3 PKCS12KDF`.
    #[test]
    fn pkcs12_kdf_known_answer() {
        let key = pkcs12_kdf_sha256(&bmp_password("Password1"), &[1, 2, 3, 4, 5, 6, 7, 8], 3, 2048);
        assert_eq!(hex(&key), PKCS12KDF_KNOWN_ANSWER);
    }
    const PKCS12KDF_KNOWN_ANSWER: &str = "ad3dd941f05aef39feed372c6d50465071b318a335a6d10b9d5e2ea2ee98c1a9";

    #[test]
    fn refuses_an_empty_password_and_a_key_of_another_certificate() {
        let mut rng = SeededEntropy::new(1);
        let a = self_signed_client_certificate("a", 1_700_000_000, 86_400, &mut rng).unwrap();
        let b = self_signed_client_certificate("b", 1_700_000_000, 86_400, &mut rng).unwrap();
        let e = pkcs12_export(&a.certificate_pem, &a.private_key_pem, "", "a", &mut rng).unwrap_err();
        assert!(e.to_string().contains("needs a password"), "{e}");
        let e = pkcs12_export(&a.certificate_pem, &b.private_key_pem, "pw", "a", &mut rng).unwrap_err();
        assert!(e.to_string().contains("is not the key of the leaf certificate"), "{e}");
        assert!(pkcs12_export(&a.certificate_pem, &a.private_key_pem, "pw", "a", &mut rng).is_ok());
    }

    #[test]
    fn salts_and_ivs_come_from_the_generator() {
        let mut rng = SeededEntropy::new(2);
        let a = self_signed_client_certificate("a", 1_700_000_000, 86_400, &mut rng).unwrap();
        let one = pkcs12_export(&a.certificate_pem, &a.private_key_pem, "pw", "a", &mut SeededEntropy::new(9)).unwrap();
        let same = pkcs12_export(&a.certificate_pem, &a.private_key_pem, "pw", "a", &mut SeededEntropy::new(9)).unwrap();
        let other = pkcs12_export(&a.certificate_pem, &a.private_key_pem, "pw", "a", &mut SeededEntropy::new(10)).unwrap();
        assert_eq!(one, same);
        assert_ne!(one, other);
    }
}
