#!/usr/bin/env bash
# End-to-end tests of the page (www/) in Debian's headless Chromium, driven by Playwright
# (playwright-core from npm, which downloads no browser): tests/e2e/*.test.mjs, with Node's test
# runner. They serve the repository root themselves, so pkg/ must be built (done here if missing).
#
#   bash scripts/e2e.sh                 # all of them
#   bash scripts/e2e.sh tests/e2e/device.test.mjs
#
# scripts/test.sh runs this as its last step. Needs Node.js 20 or later and npm (on the machine).
set -euo pipefail
source "$(dirname "$0")/common.sh"

[ "${HAAPI_LAB_SETUP_DONE:-}" = 1 ] || bash scripts/setup.sh

command -v node >/dev/null 2>&1 || die "node not found: the end-to-end tests need Node.js 20 or later"
command -v npm >/dev/null 2>&1 || die "npm not found: the end-to-end tests install playwright-core with npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: the end-to-end tests need 20 or later"


[ -f pkg/haapi_lab_bg.wasm ] || bash scripts/build-pkg.sh

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/e2e/)
say "End-to-end tests: node --test ${files[*]} (Chromium: ${CHROMIUM_PATH:-/usr/bin/chromium})"
run_own_group node --test --test-reporter=spec "${files[@]}"
