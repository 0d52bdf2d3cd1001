//! Native figures for the attestation fallback's hot paths (see `benches/common/mod.rs`).
//!
//! `cargo bench --bench fallback` measures (release profile, as shipped: `opt-level = "s"`, LTO).
//! Without `--bench` (as `cargo test --all-targets` runs it) every workload runs once, untimed, as
//! a smoke test. `bash scripts/bench.sh` runs this and the same workloads in headless Chromium.

mod common;

use std::time::Instant;

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut workloads = common::workloads(); // runs each once, checked
    if !benchmarking {
        println!("benchmark smoke test: {} workloads ran once (time them with `cargo bench --bench fallback`)", workloads.len());
        return;
    }
    let epoch = Instant::now();
    let now_ms = move || epoch.elapsed().as_secs_f64() * 1000.0;
    println!(
        "native ({}), {} batches of ~{} ms after ~{} ms warm-up; median per operation",
        std::env::consts::ARCH,
        common::BATCHES,
        common::BATCH_MS,
        common::WARM_UP_MS
    );
    for w in workloads.iter_mut().filter(|w| filter.as_deref().is_none_or(|f| w.id.contains(f))) {
        let figures = common::measure(w, &now_ms);
        println!("{}", figures.pretty());
        println!("{}", figures.line("native"));
    }
}
