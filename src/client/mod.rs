//! The client side of the attestation fallback (feature `client`): the configuration document,
//! the flow as a sans-IO state machine, client authentication, DPoP, the key material, the trace
//! and its errors, and the one run loop.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the version-1 document: parsing, every problem at once, ignored fields |
//! | [`flow`] | discovery → … → authorize as `poll` / `on_response` / `on_signature` |
//! | [`client_auth`] | the six client authentication methods |
//! | [`dpop`] | proofs in two halves (RFC 9449) and the nonce memory |
//! | [`material`] | the main client's keys and certificates |
//! | [`trace`] | what happened, redacted when exported |
//! | [`error`] | errors with their evidence and a stable `code` |
//! | [`driver`] | the one loop, over any [`driver::Environment`] |

pub mod client_auth;
pub mod config;
pub mod dpop;
pub mod driver;
pub mod error;
pub mod flow;
pub mod material;
pub mod trace;
