//! ES256 signing with a table of multiples of the P-256 base point.
//!
//! An ECDSA signature is mostly one scalar multiplication, `R = k×G` (SEC 1 §4.1.3, RFC 6979
//! §2.4). `p256` 0.13 computes it like any other point's, doubling 256 times; its base point
//! never changes, so this module precomputes `j·16ⁱ·G` for every 4-bit window `i` (64 of them)
//! and digit `j` (0 to 15) once, and then `k×G = Σᵢ table[i][kᵢ]` is 64 additions and no
//! doubling. Everything else is `p256`'s and `rfc6979`'s, as `p256`'s own `SigningKey` does it
//! (`ecdsa` 0.16 `hazmat::sign_prehashed`): the nonce `k` of RFC 6979 §3.2 from the key and the
//! message's SHA-256, `r = x(R) mod n`, `s = k⁻¹(z + r·d) mod n`. So a signature is the same bytes
//! `SigningKey::sign` gives, which the tests check for random keys and messages and against RFC
//! 6979's own vectors (Appendix A.2.5).
//!
//! Constant time, as `p256`'s multiplication is: each window reads all 16 entries and keeps the
//! one it needs with `conditional_assign`, the secret digit never indexes memory or decides a
//! branch, and the additions are `p256`'s complete formulas (the entry for digit 0 is the point at
//! infinity, which they handle without a branch).
//!
//! The table (1,024 projective points, 96 KB) is built on the first signature (1,024 additions,
//! about what four plain signatures cost) and kept for the module's life; nothing of it is in the
//! binary. (Affine entries would allow cheaper mixed additions, but `p256` 0.13 has no batched
//! inversion for its field elements, and 1,024 single inversions cost more than they save.)

use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use p256::elliptic_curve::{Curve, FieldBytesEncoding, PrimeField};
use p256::{FieldBytes, NistP256, ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// 4-bit windows in a 256-bit scalar.
const WINDOWS: usize = 64;
/// Digits of a window.
const DIGITS: usize = 16;

/// `table[i * DIGITS + j] = j·16ⁱ·G`.
fn table() -> &'static [ProjectivePoint] {
    static TABLE: OnceLock<Box<[ProjectivePoint]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut points = Box::new([ProjectivePoint::IDENTITY; WINDOWS * DIGITS]);
        let mut base = ProjectivePoint::GENERATOR;
        for window in points.chunks_exact_mut(DIGITS) {
            let mut multiple = ProjectivePoint::IDENTITY;
            for point in window {
                *point = multiple;
                multiple += base;
            }
            // 16 times this window's base: the next window's.
            base = multiple;
        }
        points
    })
}

/// `k×G`, in constant time.
pub(super) fn mul_by_generator(k: &Scalar) -> ProjectivePoint {
    let table = table();
    let bytes = k.to_bytes(); // big-endian
    let mut sum = ProjectivePoint::IDENTITY;
    for (i, window) in table.chunks_exact(DIGITS).enumerate() {
        let byte = bytes[31 - i / 2];
        let digit = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        let mut entry = ProjectivePoint::IDENTITY;
        for (j, candidate) in window.iter().enumerate() {
            entry.conditional_assign(candidate, (j as u8).ct_eq(&digit));
        }
        sum += entry;
    }
    sum
}

/// The ES256 signature (`r || s`, 64 bytes) of `input` by the private scalar `d` (not zero): the
/// bytes `p256::ecdsa::SigningKey::sign` gives.
///
/// Where that one fails, `r` or `s` zero (SEC 1 §4.1.3 says to draw another `k`; the probability
/// is about 2⁻²⁵⁶ and RFC 6979's `k` for a key and message is fixed), this gives `s = 0` or `r = 0`
/// rather than panicking, and every verifier refuses it.
pub(super) fn sign(d: &Scalar, input: &[u8]) -> [u8; 64] {
    let z: FieldBytes = Sha256::digest(input);
    let order = <U256 as FieldBytesEncoding<NistP256>>::encode_field_bytes(&NistP256::ORDER);
    // generate_k returns a scalar in [1, n - 1] (RFC 6979 §3.2 h.3), so these never fall back.
    let k = Scalar::from_repr(rfc6979::generate_k::<Sha256, _>(&d.to_repr(), &order, &z, &[])).unwrap_or(Scalar::ONE);
    let k_inverse = k.invert().unwrap_or(Scalar::ZERO);
    let big_r = mul_by_generator(&k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let s = k_inverse * (<Scalar as Reduce<U256>>::reduce_bytes(&z) + r * d);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r.to_bytes());
    out[32..].copy_from_slice(&s.to_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::entropy::SeededEntropy;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use rand_core::RngCore;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn scalar(bytes: &[u8]) -> Scalar {
        let bytes: [u8; 32] = bytes.try_into().unwrap();
        Option::from(Scalar::from_repr(FieldBytes::from(bytes))).unwrap()
    }

    /// RFC 6979 Appendix A.2.5 (P-256, SHA-256): the private key and the signatures of
    /// "sample" and "test", as the RFC prints them.
    #[test]
    fn rfc6979_vectors() {
        let d = scalar(&hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"));
        let sample = hex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
             F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
        let test = hex("F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367
             019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083");
        assert_eq!(sign(&d, b"sample").to_vec(), sample);
        assert_eq!(sign(&d, b"test").to_vec(), test);
    }

    /// The same bytes as `p256`'s own signer, for random keys and messages of every length up to
    /// a few SHA-256 blocks.
    #[test]
    fn same_signatures_as_p256() {
        let mut rng = SeededEntropy::new(7);
        for n in 0..200 {
            let key = SigningKey::random(&mut rng);
            let mut input = vec![0u8; n % 150];
            rng.fill_bytes(&mut input);
            let expected: Signature = key.sign(&input);
            let d: Scalar = *key.as_nonzero_scalar().as_ref();
            assert_eq!(sign(&d, &input).to_vec(), expected.to_bytes().to_vec(), "key {n}");
        }
    }

    /// `k×G` for scalars whose digits are all zero, all fifteen, or one window only: every
    /// table entry's row and the carries between windows, against `p256`'s multiplication.
    #[test]
    fn edge_scalars() {
        let mut cases = vec![Scalar::ONE, -Scalar::ONE, Scalar::from(15u64), Scalar::from(16u64), Scalar::from(u64::MAX)];
        for i in 0..32 {
            let mut bytes = [0u8; 32];
            bytes[i] = 0xff;
            cases.push(scalar(&bytes));
            bytes[i] = 0x10;
            cases.push(scalar(&bytes));
        }
        for k in cases {
            assert_eq!(mul_by_generator(&k).to_affine(), (ProjectivePoint::GENERATOR * k).to_affine());
        }
        assert_eq!(mul_by_generator(&Scalar::ZERO), ProjectivePoint::IDENTITY);
    }
}
