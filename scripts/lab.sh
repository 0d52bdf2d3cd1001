#!/usr/bin/env bash
# Runs the lab: installs what is missing, builds pkg/ (release WebAssembly + ES-module bindings),
# says where it is, then serves the page with the lab's local server (which also hosts the
# simulated Curity over HTTP) until Ctrl+C.
#
#   bash scripts/lab.sh                 # build, then serve on http://127.0.0.1:8080/www/
#   PORT=9000 bash scripts/lab.sh       # another port
#   bash scripts/lab.sh --build-only    # build pkg/ and print how to serve it; do not serve
#   bash scripts/lab.sh -- ARGS...      # pass ARGS to the server (see haapi-lab-server --help)
#
# Until the page (www/) and the server (src/bin/server.rs) exist, it builds pkg/ and says how to
# serve it with Python's static file server instead.
set -euo pipefail
source "$(dirname "$0")/common.sh"

port="${PORT:-8080}"
serve=1
server_args=()
case "${1:-}" in
  "") ;;
  --build-only) serve=0 ;;
  --) shift; server_args=("$@") ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

have_page=0; [ -f www/index.html ] && have_page=1
have_server=0; [ -f src/bin/server.rs ] && grep -q '^server *=' Cargo.toml && have_server=1

bash scripts/setup.sh
bash scripts/build-pkg.sh

printf '\n'
say "The lab's WebAssembly modules are built (pkg/; their sizes and the size targets above)"
note "client:    pkg/haapi_lab_with_sim.js (with the light simulator) when the page opens in server.mode \"simulator\", pkg/haapi_lab.js otherwise"
note "simulator: pkg/sim/haapi_lab_sim.js for RSA, P-384, mutual TLS or server.simulator settings (pkg/sim-lite/ for workers, Node, a switch to simulator mode)"
note "tools:     pkg/tools/haapi_lab_tools.js, loaded for RSA/P-384 keys and certificates"
printf '\n'

if [ "$have_page" -eq 0 ] || [ "$have_server" -eq 0 ]; then
  [ "$have_page" -eq 1 ] || say "The lab's web page (www/) does not exist yet: it is a later piece of work."
  [ "$have_server" -eq 1 ] || say "The lab's local server does not exist yet: it is a later piece of work."
  note "To serve what exists, run from the repository root ($REPO_ROOT):"
  note ""
  note "  python3 -m http.server $port --bind 127.0.0.1"
  note ""
  if [ "$have_page" -eq 1 ]; then
    note "and open http://127.0.0.1:$port/www/ (the in-page simulator works without a server)."
  else
    note "and import http://127.0.0.1:$port/pkg/haapi_lab.js from a page served by it"
    note "(a file:// page cannot load WebAssembly modules)."
  fi
  exit 0
fi

# The optimised native build ([profile.server] in Cargo.toml: opt-level 3, panics unwind), not
# the debug build and not the release profile (which is tuned for small WebAssembly).
say "Building the local server (cargo build --profile server --features server)"
cargo build --profile server --features server --bin haapi-lab-server
if [ "$serve" -eq 0 ]; then
  note "Serve it with: $TARGET_DIR/server/haapi-lab-server --port $port   (then open http://127.0.0.1:$port/www/; --help for the options)"
  exit 0
fi
say "Serving the lab: open http://127.0.0.1:$port/www/ (Ctrl+C stops the server)"
# Registered clients are kept in .lab-data/ (not tracked by git) across restarts.
exec "$TARGET_DIR"/server/haapi-lab-server --host 127.0.0.1 --port "$port" --root "$REPO_ROOT" \
  --data-dir "$REPO_ROOT/.lab-data" "${server_args[@]}"
