#!/usr/bin/env bash
# Benchmarks: figures, never pass/fail on time. Not part of scripts/test.sh or CI.
#
#   bash scripts/bench.sh                     # everything below
#   bash scripts/bench.sh --browser           # only the browser benchmark (builds pkg/ if stale)
#   bash scripts/bench.sh --browser --quick   # a short smoke run of it (figures not comparable)
#   bash scripts/bench.sh --server [ARGS]     # only the local server's benchmark (below)
#
#   - native:  `cargo bench --bench fallback` (benches/fallback.rs, release profile as shipped);
#   - wasm:    the same workloads in headless Chromium, release build with the three modules'
#              features (tests/bench_wasm.rs, whose tests are #[ignore]d so that the test suite
#              never runs them);
#   - size:    the three modules of scripts/build-pkg.sh (client, simulator, tools), raw and gzip -9;
#   - browser: tests/bench/run.mjs (Playwright + Debian's Chromium, pages in tests/bench/pages/,
#              served with the repository root by tests/bench/serve.mjs): module sizes; transfer
#              of the lab's first load in simulator and in http mode; cold loads to interactive
#              and to the first signed DPoP proof (ours vs jose), on the local network and under
#              Chromium's network emulation (1.6 Mbit/s down, 150 ms), uncompressed and gzip;
#              DPoP proofs/s with both key stores beside jose; whole runs against the simulator.
#              Arguments after --browser go to the runner (--quick, --loads N, --slow-loads N,
#              --conditions LIST, --batches N, --batch-ms N, --warm-up-ms N, --preload-experiment;
#              see node tests/bench/run.mjs --help).
#   - server:  the local server (release build, --profile server) under load from
#              examples/loadgen.rs: GET /healthz (the HTTP stack's ceiling), the token endpoint
#              with client_secret_basic, private_key_jwt ES256 (fresh assertion per request) and
#              DPoP (fresh proof per request) at 1, 16 and 64 connections (req/s, p50, p99), each
#              as a ratio to its ceiling: the trivial endpoint, and `openssl speed -seconds 3
#              -multi $(nproc) ecdsap256` verify/s measured in the same run; then registrations/s
#              and resident memory at 0, 10,000 and 100,000 registered clients. ARGS go to the
#              load generator (--seconds 10 --warmup 2 --connections 1,16,64 --pool 150000
#              --clients 10000,100000). Table in bench-results/server-latest.txt.
#
# Prints one table at the end and keeps it in bench-results/latest.txt, and the browser table in
# bench-results/browser-latest.txt (+ .json); bench-results/ is not tracked by git.
# Figures depend on the machine and on what else it is doing: compare runs on one machine.
set -euo pipefail
source "$(dirname "$0")/common.sh"

browser_only=0
browser_args=()
if [ "${1:-}" = "--server" ]; then
  shift
  mkdir -p bench-results
  say "Building the local server and the load generator (cargo build --profile server --features server)"
  cargo build --profile server --features server --bin haapi-lab-server --example loadgen
  say "Crypto ceiling: openssl speed -seconds 3 -multi $(nproc) ecdsap256"
  verify=$(openssl speed -seconds 3 -multi "$(nproc)" ecdsap256 2>/dev/null | awk '/nistp256/ { v = $NF } END { print v }')
  [ -n "$verify" ] || die "could not read ECDSA P-256 verify/s from openssl speed"
  note "$verify verify/s"
  "$TARGET_DIR"/server/examples/loadgen --server "$TARGET_DIR"/server/haapi-lab-server --crypto-limit "$verify" "$@" | tee bench-results/server-latest.txt
  exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = "--browser" ]; then
  browser_only=1
  shift
  browser_args=("$@")
elif [ $# -gt 0 ]; then
  case "$1" in
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --quick) die "--quick goes after --browser: bash scripts/bench.sh --browser --quick (the native and wasm halves have no quick mode)" ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
fi

# The browser benchmark: Node.js 20+, playwright-core and jose from package-lock.json, the three
# modules in pkg/ (with DpopProver) and no older than their sources. Prints its table; the caller
# shows it again at the end.
# Returns on the first failure (it may run where `set -e` does not apply: `browser_bench || ...`).
browser_bench() {
  command -v node >/dev/null 2>&1 || die "node not found: the browser benchmark needs Node.js 20 or later"
  command -v npm >/dev/null 2>&1 || die "npm not found: the browser benchmark installs playwright-core and jose with npm"
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: the browser benchmark needs 20 or later"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f node_modules/jose/package.json ]; then
    say "Installing the npm packages of package-lock.json (npm ci)"
    npm ci --no-audit --no-fund || return
  fi
  if [ ! -f pkg/haapi_lab_bg.wasm ] || [ ! -f pkg/haapi_lab_with_sim_bg.wasm ] || [ ! -f pkg/sim/haapi_lab_sim_bg.wasm ] || [ ! -f pkg/sim-lite/haapi_lab_sim_lite_bg.wasm ] || [ ! -f pkg/tools/haapi_lab_tools_bg.wasm ] \
    || ! grep -q 'class DpopProver' pkg/haapi_lab.d.ts 2>/dev/null \
    || [ -n "$(find src Cargo.toml Cargo.lock -newer pkg/haapi_lab_bg.wasm -print -quit 2>/dev/null)" ]; then
    bash scripts/build-pkg.sh || return
  fi
  say "Browser benchmark: node tests/bench/run.mjs${browser_args[*]:+ ${browser_args[*]}} (Chromium: ${CHROMIUM_PATH:-/usr/bin/chromium})"
  run_own_group node tests/bench/run.mjs "${browser_args[@]}"
}

if [ "$browser_only" = 1 ]; then
  bash scripts/setup.sh
  mkdir -p bench-results
  browser_bench
  exit 0
fi

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"

bash scripts/setup.sh

mkdir -p bench-results
raw_log=bench-results/raw.log
: >"$raw_log"

say "Native benchmark: cargo bench --bench fallback"
cargo bench --bench fallback 2>&1 | tee -a "$raw_log"

say "WebAssembly benchmark in headless Chromium (release build)"
run_own_group cargo test --release --target "$WASM_TARGET" --features wasm-client,wasm-sim,wasm-tools --test bench_wasm -- --include-ignored --nocapture 2>&1 | tee -a "$raw_log"

say "Module sizes"
bash scripts/build-pkg.sh
sizes=""
for m in pkg/haapi_lab_bg.wasm pkg/haapi_lab_with_sim_bg.wasm pkg/sim-lite/haapi_lab_sim_lite_bg.wasm pkg/sim/haapi_lab_sim_bg.wasm pkg/tools/haapi_lab_tools_bg.wasm; do
  sizes+=$(printf '%-40s %14s %12s' "$m" "$(file_bytes "$m")" "$(gzip_bytes "$m")")$'\n'
done

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
        label["full-run"]  = "full run to tokens (SimLab, login included)"
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
    printf '\n%-40s %14s %12s\n' "module (wasm-bindgen, wasm-opt -Oz)" "bytes" "gzip -9"
    printf '%s' "$sizes"
  }
)

printf '%s\n' "$table" >bench-results/latest.txt

browser_status=0
browser_bench || browser_status=$?

printf '\n'
say "Results (also in bench-results/latest.txt)"
cat bench-results/latest.txt
printf '\n'
if [ "$browser_status" -eq 0 ]; then
  say "Browser results (also in bench-results/browser-latest.txt and .json)"
  cat bench-results/browser-latest.txt
else
  warn "the browser benchmark failed (exit $browser_status): see its output above"
  exit "$browser_status"
fi
