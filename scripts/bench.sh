#!/usr/bin/env bash
# Benchmarks: figures, never pass/fail on time. Not part of scripts/test.sh or CI.
#
#   - native: `cargo bench --bench fallback` (benches/fallback.rs, release profile as shipped);
#   - wasm:   the same workloads in headless Chromium, release build (tests/bench_wasm.rs, whose
#             tests are #[ignore]d so that the test suite never runs them);
#   - size:   pkg/haapi_lab_bg.wasm (full, with the simulator) and the client-only module
#             (--no-default-features), raw and gzip -9.
#
# Prints one table at the end and keeps it in bench-results/latest.txt (not tracked by git).
# Figures depend on the machine and on what else it is doing: compare runs on one machine.
set -euo pipefail
source "$(dirname "$0")/common.sh"

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"

bash scripts/setup.sh

mkdir -p bench-results
raw_log=bench-results/raw.log
: >"$raw_log"

say "Native benchmark: cargo bench --bench fallback"
cargo bench --bench fallback 2>&1 | tee -a "$raw_log"

say "WebAssembly benchmark in headless Chromium (release build)"
run_own_group cargo test --release --target "$WASM_TARGET" --test bench_wasm -- --include-ignored --nocapture 2>&1 | tee -a "$raw_log"

say "Module sizes"
bash scripts/build-pkg.sh --client-only
client_wasm=$TARGET_DIR/pkg-client-only/haapi_lab_bg.wasm
client_raw=$(file_bytes "$client_wasm")
client_gz=$(gzip_bytes "$client_wasm")
bash scripts/build-pkg.sh
full_raw=$(file_bytes pkg/haapi_lab_bg.wasm)
full_gz=$(gzip_bytes pkg/haapi_lab_bg.wasm)

# One table from the "BENCH <platform> <id> <µs/op> <ops/s> <min> <max> <batches>x<ops>" lines.
table=$(
  {
    printf 'haapi-lab benchmarks, %s, %s, %s cores\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo 'no git')" "$(nproc)"
    printf 'median of 7 batches (~200 ms each, after warm-up); wasm = release build in %s\n\n' "$(chromium --version 2>/dev/null | awk '{ print $1, $2 }')"
    sed 's/\x1b\[[0-9;]*m//g' "$raw_log" | awk '
      $1 == "BENCH" { us[$2, $3] = $4; ops[$2, $3] = $5; if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
      END {
        label["assertion"] = "ES256 client assertion (claims + sign)"
        label["dpop"]      = "DPoP proof (build + ES256 sign)"
        label["verify"]    = "ES256 JWT verification"
        label["full-run"]  = "full run F1-F4 + authorize (SimLab)"
        printf "%-40s %14s %12s %14s %12s %8s\n", "operation", "native us/op", "native op/s", "wasm us/op", "wasm op/s", "wasm/nat"
        for (i = 1; i <= n; i++) {
          id = order[i]
          nu = us["native", id]; wu = us["wasm", id]
          ratio = (nu > 0 && wu > 0) ? sprintf("%.1fx", wu / nu) : "-"
          printf "%-40s %14s %12s %14s %12s %8s\n", (id in label ? label[id] : id),
            (nu == "" ? "-" : nu), (ops["native", id] == "" ? "-" : ops["native", id]),
            (wu == "" ? "-" : wu), (ops["wasm", id] == "" ? "-" : ops["wasm", id]), ratio
        }
      }'
    printf '\n%-40s %14s %12s\n' "module (after wasm-bindgen, no wasm-opt)" "bytes" "gzip -9"
    printf '%-40s %14s %12s\n' "pkg/haapi_lab_bg.wasm (with simulator)" "$full_raw" "$full_gz"
    printf '%-40s %14s %12s\n' "client only (--no-default-features)" "$client_raw" "$client_gz"
  }
)

printf '\n'
say "Results (also in bench-results/latest.txt)"
printf '%s\n' "$table" | tee bench-results/latest.txt
