//! The one edge module for randomness.
//!
//! Everything random in the crate (key generation, `jti` values, registered client ids and
//! secrets in the simulator) draws from an [`Entropy`] passed in by the caller. Two sources exist:
//! [`OsEntropy`] (the platform CSPRNG through `getrandom`: `crypto.getRandomValues` in the browser)
//! and [`SeededEntropy`] (deterministic, for tests and repeatable demos).

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// A source of random bytes that is also usable as a `rand_core` CSPRNG (for key generation).
pub trait Entropy: RngCore + CryptoRng {
    /// `n` random bytes, base64url without padding (for `jti`, ids and secrets).
    fn token(&mut self, n: usize) -> String {
        let mut buf = vec![0u8; n];
        self.fill_bytes(&mut buf);
        super::base64::url_encode(&buf)
    }
}

impl<T: RngCore + CryptoRng> Entropy for T {}

/// The platform's CSPRNG (`getrandom`). Panics only if the platform has none, as `rand` does.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl RngCore for OsEntropy {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::getrandom(dest).expect("the platform has no secure random number generator");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        getrandom::getrandom(dest).map_err(rand_core::Error::from)
    }
}
impl CryptoRng for OsEntropy {}

/// A deterministic generator: SHA-256 over `seed || counter`, block after block.
///
/// Repeatable by design: anyone who knows the seed knows every value. Use it for tests and for
/// demos that must look the same on every run, never to protect anything.
#[derive(Clone)]
pub struct SeededEntropy {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededEntropy {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Self {
        let seed: [u8; 32] = Sha256::digest(seed.to_be_bytes()).into();
        SeededEntropy { seed, counter: 0, block: [0; 32], used: 32 }
    }
}

impl std::fmt::Debug for SeededEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeededEntropy").field("counter", &self.counter).finish_non_exhaustive()
    }
}

impl RngCore for SeededEntropy {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.block = h.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
// Deterministic on purpose (see the type's docs); the marker lets p256 generate keys from it.
impl CryptoRng for SeededEntropy {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_entropy_repeats_and_differs_by_seed() {
        let (mut a, mut b, mut c) = (SeededEntropy::new(7), SeededEntropy::new(7), SeededEntropy::new(8));
        let (ta, tb, tc) = (a.token(40), b.token(40), c.token(40));
        assert_eq!(ta, tb);
        assert_ne!(ta, tc);
        assert_ne!(a.token(16), ta[..22].to_string());
    }
}
