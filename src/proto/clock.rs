//! Time, as a value. The core never reads a clock: every function that needs "now" takes a
//! [`Timestamp`], so runs repeat exactly under a fixed clock (and `SystemTime::now()`, which
//! panics on `wasm32-unknown-unknown`, is never called).

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Timestamp(secs * 1000)
    }
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }
    /// Whole seconds since the epoch (JWT `NumericDate`, RFC 7519 §2).
    pub const fn secs(self) -> u64 {
        self.0 / 1000
    }
    /// Milliseconds since the epoch.
    pub const fn millis(self) -> u64 {
        self.0
    }
    /// This instant moved forward by `secs` seconds.
    pub const fn plus_secs(self, secs: u64) -> Self {
        Timestamp(self.0 + secs * 1000)
    }
}
