//! The benchmark of `benches/fallback.rs`, in WebAssembly in headless Chromium: same workloads,
//! same measuring loop (`benches/common/mod.rs`), timed with `performance.now()`.
//!
//! Benchmarks, not tests: every test here is `#[ignore]`d, so `cargo test` (and scripts/test.sh)
//! never runs them. `bash scripts/bench.sh` runs them, in release mode:
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=600 \
//!   cargo test --release --target wasm32-unknown-unknown --test bench_wasm -- --include-ignored --nocapture
//! ```
#![cfg(all(target_arch = "wasm32", feature = "sim"))]

#[path = "../benches/common/mod.rs"]
mod common;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `performance.now()` (sub-millisecond, monotonic), or `Date.now()` where there is none.
fn now_ms() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).unwrap_or(JsValue::UNDEFINED);
    let now = js_sys::Reflect::get(&performance, &JsValue::from_str("now")).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match now {
        Some(now) => now.call0(&performance).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
        None => js_sys::Date::now(),
    }
}

fn bench(id: &str) {
    let mut workloads = common::workloads();
    let workload = workloads.iter_mut().find(|w| w.id == id).unwrap_or_else(|| panic!("no workload {id:?}"));
    let figures = common::measure(workload, &now_ms);
    console_log!("{}", figures.pretty());
    console_log!("{}", figures.line("wasm"));
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh"]
fn bench_1_client_assertion() {
    bench("assertion");
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh"]
fn bench_2_dpop_proof() {
    bench("dpop");
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh"]
fn bench_3_verify() {
    bench("verify");
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh"]
fn bench_4_full_run() {
    bench("full-run");
}
