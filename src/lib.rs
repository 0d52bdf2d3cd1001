//! # haapi-lab
//!
//! The client side of Curity's HAAPI **attestation fallback** as a sans-IO library that compiles
//! to WebAssembly, and a simulated Curity Identity Server that verifies what it receives.
//!
//! ```text
//!  www/ (the page)  ──▶  wasm/ (bindings)  ──▶  client/  ◀──  lab  ──▶  sim/
//!                                                  │                      │
//!                                                  └────────▶ proto/ ◀────┘
//! ```
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`proto`] | always | words and tools both sides use: time, randomness, HTTP values, URLs, JOSE, the step vocabulary, redaction, X.509 |
//! | [`client`] | `client` | configuration, the flow, client authentication, DPoP, key material, trace, errors, the run loop |
//! | [`sim`] | `sim-core` (HS*, ES256) or `sim` (also RSA, P-384, X.509) | the simulated Curity: imports `proto` only |
//! | [`lab`] | `client` + `sim-core` | the glue: simulator settings derived from a configuration; the flow against the simulator in process |
//! | `wasm` | `wasm-client`, `wasm-sim-lite`, `wasm-sim`, `wasm-tools` | the JavaScript API of the four WebAssembly modules |
//!
//! The compiler keeps the arrows one way: `proto` is built without `client` or `sim`, and each
//! of `client`, `sim-core`, `sim` and `tools` builds alone (`scripts/test.sh` checks each).
//! The default features (`client`, `sim`, `tools`) are what native tests and tools use; the
//! WebAssembly modules are built with exactly one `wasm-*` feature each.
//!
//! ## A whole run, in process
//!
//! ```
//! use haapi_lab::client::config::Config;
//! use haapi_lab::lab::SimLab;
//! use haapi_lab::proto::clock::Timestamp;
//!
//! // private_key_jwt ES256 against the simulated Curity, logging in as its demo user.
//! let mut doc = Config::default().to_json();
//! doc["authentication"]["inputs"] = serde_json::json!({ "userName": "demo", "password": "Password1" });
//! let config = Config::from_value(&doc).unwrap();
//! let now = Timestamp::from_secs(1_700_000_000);
//! let mut lab = SimLab::new(&config, 7, now).unwrap();
//! let run = lab.run(&config, now).unwrap();
//! let steps: Vec<_> = run.trace.steps.iter().map(|s| s.name.name()).collect();
//! assert_eq!(steps[..7], ["discovery", "attestation", "dcr-token", "registration", "store", "haapi-token", "authorize"]);
//! assert_eq!(steps.last(), Some(&"code-exchange"));
//! assert_eq!(run.outcome.subject.as_deref(), Some("demo"));
//! // A second run reuses the dynamic client the device kept: F1 and F2 are skipped.
//! assert!(lab.run(&config, now.plus_secs(30)).unwrap().outcome.reused_stored_client);
//! ```

pub mod proto;

#[cfg(feature = "client")]
pub mod client;
#[cfg(all(feature = "client", feature = "sim-core"))]
pub mod lab;
#[cfg(feature = "sim-core")]
pub mod sim;

#[cfg(all(target_arch = "wasm32", any(feature = "wasm-client", feature = "wasm-sim", feature = "wasm-sim-lite", feature = "wasm-tools")))]
pub mod wasm;
