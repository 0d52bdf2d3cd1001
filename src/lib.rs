//! # haapi-lab
//!
//! The client side of Curity's HAAPI **attestation fallback**, as a sans-IO library that compiles
//! to WebAssembly, and a simulated Curity Identity Server that verifies what it receives.

pub mod clock;
pub mod entropy;
pub mod http;
pub mod jose;
pub mod secret;
pub mod x509;
pub mod client_auth;
pub mod config;
pub mod dpop;
pub mod driver;
pub mod error;
pub mod flow;
pub mod material;
pub mod trace;
#[cfg(feature = "sim")] pub mod sim;
#[cfg(feature = "sim")]
pub mod lab;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
