//! Words and tools both sides of the protocol use: the client and the simulated server import
//! these, and these import nothing above them.
//!
//! | module | what |
//! |---|---|
//! | [`clock`] | time as a value (`Timestamp`) |
//! | [`entropy`] | the one edge module for randomness |
//! | [`secret`] | values whose `Debug` is redacted |
//! | [`base64`], [`pem`], [`der`], [`url`] | encodings, narrowly and strictly |
//! | [`http`] | plain request and response values |
//! | [`json`] | JSON text to values, with a nesting limit |
//! | [`step`] | the step vocabulary |
//! | [`redact`] | what a trace or a log may show |
//! | [`haapi`] | the HAAPI representation model |
//! | [`jose`] | JWS, JWK, keys |
//! | [`x509`] | certificates (features `sim`, `tools`) |

pub mod base64;
pub mod clock;
pub mod der;
pub mod entropy;
pub mod haapi;
pub mod http;
pub mod jose;
pub mod json;
pub mod pem;
pub mod redact;
pub mod secret;
pub mod step;
pub mod url;
#[cfg(any(feature = "sim", feature = "tools"))]
pub mod x509;
