# Shared by the scripts in this folder: `source "$(dirname "$0")/common.sh"`.
# Puts the shell at the repository root, makes cargo's bin folder visible, and defines logging.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# rustup installs cargo, and `cargo install` puts wasm-bindgen, into ~/.cargo/bin; a fresh
# non-login shell (CI) may not have it on PATH.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
  *":$CARGO_BIN:"*) ;;
  *) [ -d "$CARGO_BIN" ] && export PATH="$CARGO_BIN:$PATH" ;;
esac

WASM_TARGET=wasm32-unknown-unknown
# geckodriver (crates.io), the WebDriver server for Firefox ESR; scripts/setup.sh installs it.
GECKODRIVER_VERSION=0.37.1
# Where cargo builds (honours CARGO_TARGET_DIR, as cargo does).
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen version Cargo.lock pins. The CLI must match it exactly: the test runner and
# `wasm-bindgen` refuse modules built by another version of the crate.
locked_wasm_bindgen_version() {
  [ -f Cargo.lock ] || die "Cargo.lock is missing; it pins the wasm-bindgen version (run 'cargo generate-lockfile')"
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

# Version of an installed wasm-bindgen tool ("wasm-bindgen 0.2.130" -> "0.2.130"), or empty.
tool_version() {
  command -v "$1" >/dev/null 2>&1 || return 0
  "$1" --version 2>/dev/null | awk '{ print $2; exit }'
}

# Size of a file in bytes, and gzip -9 of it.
file_bytes() { wc -c <"$1" | tr -d ' '; }
gzip_bytes() { gzip -9c "$1" | wc -c | tr -d ' '; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

# Seconds since `start` (an integer from `date +%s`).
elapsed_since() { echo $(( $(date +%s) - $1 )); }

# run_own_group COMMAND...: runs COMMAND in a session and process group of its own and, when it
# has finished, ends whatever it left behind in that group. wasm-bindgen-test-runner kills
# ChromeDriver when a test times out, and the browser it started (a hung renderer can spin a core)
# would otherwise outlive the run. Only processes started by COMMAND are in that group.
# Call it in a pipeline or subshell: it sets and then clears traps for INT and TERM.
run_own_group() {
  local pid status=0
  setsid "$@" </dev/null &
  pid=$!
  # In its own session the command no longer gets the terminal's Ctrl+C: pass it on.
  trap 'kill -TERM -- "-'"$pid"'" 2>/dev/null || true' INT TERM
  wait "$pid" || status=$?
  trap - INT TERM
  # Zombies (exited, waiting for init to reap them) do not count.
  if ps -eo pgid=,stat= | awk -v g="$pid" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; then
    note "ending processes left behind by '$1' (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  return "$status"
}
