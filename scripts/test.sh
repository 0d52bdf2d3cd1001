#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this):
#
#   1. setup                  scripts/setup.sh (installs only what is missing)
#   2. format and lints       cargo fmt --check, clippy -D warnings (native and wasm32), and each
#                             feature built alone (the layering the compiler enforces)
#   3. native tests           cargo test --all-targets (unit, integration, benchmark smoke run)
#      doctests               cargo test --doc
#      light simulator        the library's unit tests built as pkg/sim-lite/ is (sim-core alone)
#      server tests           the local server over real sockets (tests/server_http.rs)
#   4. local server           builds and starts the lab's server (`server` feature) on 127.0.0.1,
#                             for the browser tests that talk to it over real HTTP + CORS
#   5. wasm tests             every tests/*.rs that runs in the browser (tests/wasm.rs, ...), in
#                             headless Chromium through wasm-bindgen-test-runner, then the same
#                             tests in headless Firefox ESR (geckodriver)
#   6. pkg/ build             the four release modules + the JS bindings the page imports
#   7. Node tests             tests/node/: the built modules in Node.js (node --test)
#   8. end-to-end tests       scripts/e2e.sh: the page in headless Chromium, driven by Playwright;
#                             then tests/e2e-firefox/: a whole fallback from a link in headless
#                             Firefox ESR, driven through geckodriver's W3C WebDriver API
#
# A failing step does not stop the later ones (except setup), so one run shows every failure;
# the script exits non-zero if any step failed, and ends with a summary.
set -euo pipefail
source "$(dirname "$0")/common.sh"

suite_started=$(date +%s)
LOG_DIR="$TARGET_DIR/test-logs"
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/test-$(date +%Y%m%d-%H%M%S).log"
: >"$LOG"

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# The runner's limit for the whole wasm test module (default 20 s); CI machines can be slow.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"

step_names=()
step_results=()
step_seconds=()
failed_steps=0

# run_step NAME COMMAND...: runs COMMAND, output to the terminal and the log, and records it.
run_step() {
  local name=$1
  shift
  local started status=0
  started=$(date +%s)
  printf '\n' | tee -a "$LOG"
  say "[$name] $*" | tee -a "$LOG"
  "$@" 2>&1 | tee -a "$LOG" || status=$?
  record_step "$name" "$status" "$(elapsed_since "$started")"
}

# record_step NAME EXIT_STATUS SECONDS
record_step() {
  step_names+=("$1")
  step_seconds+=("$3")
  if [ "$2" -eq 0 ]; then
    step_results+=(ok)
  else
    step_results+=("FAILED (exit $2)")
    failed_steps=$((failed_steps + 1))
    warn "step '$1' failed with exit code $2"
  fi
  return 0
}

skip_step() {
  step_names+=("$1")
  step_results+=("skipped: $2")
  step_seconds+=(-)
}

# 1. Setup: nothing else can work without it.
run_step "setup" bash scripts/setup.sh
if [ "${step_results[0]}" != ok ]; then
  die "setup failed; see the messages above"
fi
export HAAPI_LAB_SETUP_DONE=1

# 2. Format, lints, and the layering the compiler enforces: proto builds alone, and each of
#    client, sim and tools builds on proto alone (a module that reached across would not compile).
run_step "cargo fmt --check" cargo fmt --check
run_step "clippy (native)" cargo clippy --all-targets --features server,test-hooks -- -D warnings
# Everything at once (what the wasm tests build), then each module's own feature set as
# scripts/build-pkg.sh builds it (their cfg branches differ: a simulator compiled in or not).
clippy_wasm() {
  cargo clippy --target "$WASM_TARGET" --lib --tests --features wasm-client,wasm-sim,wasm-tools -- -D warnings || return
  local f
  for f in wasm-client wasm-client-sim wasm-sim-lite wasm-sim wasm-tools; do
    say "cargo clippy --target $WASM_TARGET --lib --no-default-features --features $f"
    cargo clippy --target "$WASM_TARGET" --lib --no-default-features --features "$f" -- -D warnings || return
  done
}
run_step "clippy (wasm32)" clippy_wasm
layering() {
  local f
  for f in "" client sim-core client,sim-core sim tools; do
    say "cargo check --lib --no-default-features ${f:+--features $f}"
    cargo check --lib --no-default-features ${f:+--features "$f"} || return
  done
}
run_step "layering (each feature alone)" layering

# 3. Native.
run_step "native tests" cargo test --all-targets --no-fail-fast
run_step "doctests" cargo test --doc
# The light simulator's build (what pkg/sim-lite/ is made of): its own refusals of RSA and P-384.
run_step "unit tests, light simulator" cargo test --lib --no-default-features --features client,sim-core
# The local server over real sockets (tests/server_http.rs, with the test-only panic route) and
# its own unit tests.
run_step "server tests" cargo test --features server,test-hooks --test server_http --bin haapi-lab-server

# 4. The local server, for browser tests that fetch from it. Its URL reaches those tests at
#    compile time (HAAPI_LAB_TEST_SERVER, read with option_env!), so the port stays the same
#    from run to run when it can, to keep that build cached.
SERVER_PID=
stop_test_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_test_server EXIT
trap 'exit 130' INT TERM

# Waits until URL answers (any HTTP status), for at most $2 seconds.
wait_for_http() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY
}

start_test_server() {
  local port=$1 url="http://127.0.0.1:$1"
  # The browser tests run on pages of wasm-bindgen-test-runner's and Playwright's own servers,
  # on loopback ports of their choosing: those origins may call the simulator (CORS).
  "$TARGET_DIR"/debug/haapi-lab-server --host 127.0.0.1 --port "$port" --root . \
    --allow-origin 'http://127.0.0.1:*' --allow-origin 'http://localhost:*' >"$LOG_DIR/server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  if wait_for_http "$url/oauth/v2/oauth-anonymous/.well-known/openid-configuration" 30 && kill -0 "$SERVER_PID" 2>/dev/null; then
    note "local server (pid $SERVER_PID) answers at $url; its log: $LOG_DIR/server.log"
    export HAAPI_LAB_TEST_SERVER="$url"
  else
    cat "$LOG_DIR/server.log" >&2 || true
    stop_test_server
    warn "the local server did not start on $url (see its log above)"
    return 1
  fi
}

# 8787 unless taken (then any free port; the browser tests are recompiled for the new URL).
pick_port() {
  python3 - "${HAAPI_LAB_TEST_PORT:-8787}" <<'PY'
import socket, sys
want = int(sys.argv[1])
for port in (want, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        continue
    finally:
        s.close()
PY
}

if [ -f src/bin/server.rs ] && grep -q '^server *=' Cargo.toml; then
  run_step "local server build" cargo build --features server --bin haapi-lab-server
  if [ "${step_results[-1]}" = ok ]; then
    # Not through run_step: its pipeline would start the server in a subshell.
    started=$(date +%s)
    printf '\n' | tee -a "$LOG"
    port=$(pick_port)
    say "[local server start] 127.0.0.1:$port" | tee -a "$LOG"
    status=0
    start_test_server "$port" || status=$?
    record_step "local server start" "$status" "$(elapsed_since "$started")"
  fi
else
  skip_step "local server" "no server yet (src/bin/server.rs, feature server)"
fi

# 5. WebAssembly in headless Chromium: every integration test that asks for the browser, except
#    the benchmark (scripts/bench.sh runs that one).
wasm_tests=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  [ "$name" != bench_wasm ] || continue
  if grep -q 'wasm_bindgen_test_configure!(run_in_browser)' "$f"; then
    wasm_tests+=(--test "$name")
  fi
done
# wasm_tests_in BROWSER COMMAND...: runs COMMAND (cargo test for the wasm target) and fails unless
# wasm-bindgen-test-runner ran every test file in BROWSER ("Chrome" or "Firefox", as the runner
# names them): it picks the browser from the environment (GECKODRIVER before CHROMEDRIVER), and
# the tests themselves only check that they run in one of the two.
wasm_tests_in() {
  local browser=$1 out status=0 runs files=$((${#wasm_tests[@]} / 2))
  shift
  out=$(mktemp)
  run_own_group "$@" 2>&1 | tee "$out" || status=$?
  runs=$(grep -c "^Running headless tests in $browser on " "$out" || true)
  rm -f "$out"
  if [ "$status" -eq 0 ] && [ "$runs" -ne "$files" ]; then
    warn "expected $files test file(s) to run in $browser; the runner reported $runs"
    return 1
  fi
  return "$status"
}
if [ ${#wasm_tests[@]} -gt 0 ]; then
  # The three modules' APIs compiled into one test module (the client then calls the simulator
  # and the tools directly instead of loading their modules).
  run_step "wasm tests (headless Chromium)" wasm_tests_in Chrome env -u GECKODRIVER -u GECKODRIVER_REMOTE -u CHROMEDRIVER_REMOTE \
    cargo test --no-fail-fast --target "$WASM_TARGET" --features wasm-client,wasm-sim,wasm-tools "${wasm_tests[@]}"
  # 5b. The same test files in headless Firefox ESR: the runner drives it through geckodriver when
  #     GECKODRIVER is set, with the capabilities of scripts/webdriver-firefox.json. Same command
  #     and features, so nothing is compiled again.
  run_step "wasm tests (headless Firefox)" wasm_tests_in Firefox env -u CHROMEDRIVER -u CHROMEDRIVER_REMOTE -u GECKODRIVER_REMOTE \
    GECKODRIVER="${GECKODRIVER:-$(command -v geckodriver || echo geckodriver)}" \
    WASM_BINDGEN_TEST_WEBDRIVER_JSON="$REPO_ROOT/scripts/webdriver-firefox.json" \
    cargo test --no-fail-fast --target "$WASM_TARGET" --features wasm-client,wasm-sim,wasm-tools "${wasm_tests[@]}"
else
  skip_step "wasm tests (headless Chromium)" "no tests/*.rs with run_in_browser"
  skip_step "wasm tests (headless Firefox)" "no tests/*.rs with run_in_browser"
fi

# 6. The five modules and the bindings the page imports.
run_step "pkg/ release build" bash scripts/build-pkg.sh

# 8. The module in Node.js (no browser): needs pkg/.
if [ -d tests/node ]; then
  run_step "Node tests" run_own_group node --test --test-reporter=spec tests/node/
else
  skip_step "Node tests" "no tests/node/"
fi

# 9. End-to-end tests of the page (Playwright, headless Chromium): scripts/e2e.sh installs its
#    npm packages and exits non-zero on failure. The local server is still running then: its URL
#    is in HAAPI_LAB_TEST_SERVER (unset if there is no server).
if [ -f scripts/e2e.sh ] && [ -d tests/e2e ]; then
  run_step "end-to-end tests (Playwright)" bash scripts/e2e.sh
else
  skip_step "end-to-end tests (Playwright)" "no tests/e2e/ yet"
fi

# 9b. One whole fallback from a #config=…&run=1 link in headless Firefox ESR, through geckodriver's
#     W3C WebDriver API (Playwright cannot drive Debian's Firefox): tests/e2e-firefox/.
if [ -d tests/e2e-firefox ]; then
  run_step "end-to-end run (Firefox, WebDriver)" run_own_group node --test --test-reporter=spec tests/e2e-firefox/
else
  skip_step "end-to-end run (Firefox, WebDriver)" "no tests/e2e-firefox/"
fi

# --- Summary -------------------------------------------------------------------------------------
# libtest and wasm-bindgen-test-runner end with "test result: ok. N passed; N failed; N ignored;
# ...", Node's runner with "ℹ pass N" / "ℹ fail N" / ... (spec) or "# pass N" (TAP): add them up.
read -r passed failed ignored < <(
  sed 's/\x1b\[[0-9;]*m//g' "$LOG" | awk '
    /^test result: / {
      for (i = 1; i <= NF; i++) {
        if ($(i) ~ /^passed;?$/)  p += $(i - 1)
        if ($(i) ~ /^failed;?$/)  f += $(i - 1)
        if ($(i) ~ /^ignored;?$/) s += $(i - 1)
      }
    }
    /^(ℹ|#) (pass|fail|cancelled|skipped) [0-9]+$/ {
      if ($2 == "pass") p += $3; else if ($2 == "skipped") s += $3; else f += $3
    }
    END { printf "%d %d %d\n", p, f, s }'
)

printf '\n'
say "Summary ($(elapsed_since "$suite_started")s in all; log: $LOG)"
for i in "${!step_names[@]}"; do
  secs=${step_seconds[$i]}
  [ "$secs" = - ] || secs="${secs}s"
  printf '    %-34s %6s  %s\n' "${step_names[$i]}" "$secs" "${step_results[$i]}"
done
for m in pkg/haapi_lab_bg.wasm pkg/haapi_lab_with_sim_bg.wasm; do
  [ ! -f "$m" ] || note "$m: $(file_bytes "$m") bytes, gzip -9 $(gzip_bytes "$m") bytes"
done
if [ "$failed_steps" -gt 0 ]; then
  warn "$failed_steps step(s) failed"
fi
echo "tests: $passed passed, $failed failed, $ignored skipped"
[ "$failed_steps" -eq 0 ]
