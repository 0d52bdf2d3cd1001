//! The workloads and the measuring loop shared by the native benchmark (`benches/fallback.rs`) and
//! the same benchmark in headless Chromium (`tests/bench_wasm.rs`), so both report the same thing
//! the same way. Run both with `bash scripts/bench.sh`.
//!
//! Measuring: a warm-up of about [`WARM_UP_MS`], which also estimates the cost of one operation;
//! then [`BATCHES`] batches of as many operations as fill about [`BATCH_MS`] each. The figure is
//! the median batch's time per operation. No assertion depends on a time: these are figures, not
//! tests.

#![allow(dead_code)] // each of the two benchmarks uses its own part of this module

use haapi_lab::client::client_auth::assertion_claims;
use haapi_lab::client::config::Config;
use haapi_lab::client::dpop::{self, ProofInput};
use haapi_lab::lab::SimLab;
use haapi_lab::proto::clock::Timestamp;
use haapi_lab::proto::entropy::SeededEntropy;
use haapi_lab::proto::jose::keys::PrivateKey;
use haapi_lab::proto::jose::p256::P256Key;
use haapi_lab::proto::jose::verify::{verify_jws, VerifyKey};
use haapi_lab::proto::jose::{self, Alg};
use std::hint::black_box;

/// Warm-up time per workload, ms.
pub const WARM_UP_MS: f64 = 300.0;
/// Target duration of one batch, ms.
pub const BATCH_MS: f64 = 200.0;
/// Batches per workload (the median is reported).
pub const BATCHES: usize = 7;

const T0: u64 = 1_800_000_000;
const CLIENT_ID: &str = "haapi-android-client";
const TOKEN_ENDPOINT: &str = "https://localhost:8443/oauth/v2/oauth-token";

/// One thing to measure.
pub struct Workload {
    /// Short stable id (the key bench.sh joins native and wasm figures on).
    pub id: &'static str,
    /// What one operation is.
    pub label: &'static str,
    /// One operation. Panics if the operation fails, so a broken path is never timed as fast.
    pub op: Box<dyn FnMut()>,
}

/// The workloads, set up and each checked once.
pub fn workloads() -> Vec<Workload> {
    let mut rng = SeededEntropy::new(1);
    let key = PrivateKey::generate_for(Alg::ES256, &mut rng).unwrap();

    let assertion = {
        let key = key.clone();
        let mut rng = SeededEntropy::new(2);
        move || {
            let claims = assertion_claims(CLIENT_ID, TOKEN_ENDPOINT, Timestamp::from_secs(T0), &mut rng);
            let jwt = key.sign_jwt(Alg::ES256, None, None, &claims, &mut rng).expect("ES256 client assertion");
            black_box(jwt);
        }
    };

    let dpop_proof = {
        let dpop_key = P256Key::generate(&mut rng);
        let jwk = dpop_key.public_jwk().clone();
        let mut rng = SeededEntropy::new(3);
        move || {
            let input = ProofInput { method: "POST", url: TOKEN_ENDPOINT, access_token: None, nonce: None };
            let unsigned = dpop::unsigned_proof("ES256", &jwk, &input, T0, &mut rng);
            let signature = dpop_key.sign(unsigned.as_bytes());
            black_box(jose::compact(&unsigned, &signature));
        }
    };

    let verify = {
        let claims = assertion_claims(CLIENT_ID, TOKEN_ENDPOINT, Timestamp::from_secs(T0), &mut rng);
        let jwt = key.sign_jwt(Alg::ES256, None, None, &claims, &mut rng).expect("ES256 JWT");
        let verify_key = VerifyKey::from_jwk(&key.public_jwk()).expect("a P-256 JWK");
        move || {
            black_box(verify_jws(&jwt, &verify_key, &[Alg::ES256]).expect("the JWT verifies"));
        }
    };

    let full_run = {
        // The whole login to tokens, as the simulator's demo user.
        let mut doc = Config::default().to_json();
        doc["authentication"]["inputs"] = serde_json::json!({ "userName": "demo", "password": "Password1" });
        let config = Config::from_value(&doc).expect("a valid configuration");
        let mut seed = 0u64;
        move || {
            seed += 1;
            let now = Timestamp::from_secs(T0);
            let mut lab = SimLab::new(&config, seed, now).expect("the simulated lab starts");
            let run = lab.run(&config, now).expect("the fallback succeeds against the simulator");
            assert!(run.outcome.tokens.is_some(), "the run ends with tokens");
            black_box(run);
        }
    };

    let mut all = vec![
        Workload { id: "assertion", label: "client assertion: claims + ES256 sign", op: Box::new(assertion) },
        Workload { id: "dpop", label: "DPoP proof: build + ES256 sign", op: Box::new(dpop_proof) },
        Workload { id: "verify", label: "ES256 JWT verify (what the simulator does)", op: Box::new(verify) },
        Workload { id: "full-run", label: "full run: SimLab::new + discovery..code-exchange (login to tokens)", op: Box::new(full_run) },
    ];
    for w in &mut all {
        (w.op)(); // fails here, before any timing, if the path is broken
    }
    all
}

/// A workload's figures.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The workload's id.
    pub id: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Median over the batches of the time per operation, µs.
    pub median_us: f64,
    /// Fastest batch, µs per operation.
    pub min_us: f64,
    /// Slowest batch, µs per operation.
    pub max_us: f64,
    /// Operations per batch.
    pub per_batch: u64,
}

impl Figures {
    /// Operations per second at the median.
    pub fn ops_per_sec(&self) -> f64 {
        1e6 / self.median_us
    }

    /// The machine-readable line scripts/bench.sh collects:
    /// `BENCH <platform> <id> <median µs/op> <ops/s> <min µs/op> <max µs/op> <batches>x<ops>`.
    pub fn line(&self, platform: &str) -> String {
        format!(
            "BENCH {platform} {} {:.2} {:.1} {:.2} {:.2} {}x{}",
            self.id,
            self.median_us,
            self.ops_per_sec(),
            self.min_us,
            self.max_us,
            BATCHES,
            self.per_batch
        )
    }

    /// A human-readable line.
    pub fn pretty(&self) -> String {
        format!(
            "{:<46} {:>11.1} µs/op {:>10.1} ops/s   (batches {:.1}..{:.1} µs, {}x{})",
            self.label,
            self.median_us,
            self.ops_per_sec(),
            self.min_us,
            self.max_us,
            BATCHES,
            self.per_batch
        )
    }
}

/// Measures `workload` with `now_ms`, a monotonic clock in milliseconds.
pub fn measure(workload: &mut Workload, now_ms: &dyn Fn() -> f64) -> Figures {
    // Warm-up, and an estimate of one operation's cost.
    let start = now_ms();
    let mut warm_ops = 0u64;
    while warm_ops < 3 || now_ms() - start < WARM_UP_MS {
        (workload.op)();
        warm_ops += 1;
    }
    let per_op_ms = ((now_ms() - start) / warm_ops as f64).max(1e-6);
    let per_batch = ((BATCH_MS / per_op_ms).ceil() as u64).max(1);

    let mut per_op_us: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = now_ms();
            for _ in 0..per_batch {
                (workload.op)();
            }
            (now_ms() - t) * 1000.0 / per_batch as f64
        })
        .collect();
    per_op_us.sort_by(f64::total_cmp);
    Figures { id: workload.id, label: workload.label, median_us: per_op_us[BATCHES / 2], min_us: per_op_us[0], max_us: per_op_us[BATCHES - 1], per_batch }
}
