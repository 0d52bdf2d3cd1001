#!/usr/bin/env bash
# Installs what building and testing the lab needs on a Debian machine, and nothing that is
# already there:
#   - Chromium and its ChromeDriver (apt), for the wasm tests in a headless browser;
#   - Firefox ESR (apt) and geckodriver (cargo install, pinned in common.sh; a few minutes), for the
#     same wasm tests and one end-to-end run of the page in headless Firefox;
#   - the Rust target wasm32-unknown-unknown (rustup);
#   - wasm-bindgen-cli (wasm-bindgen, wasm-bindgen-test-runner) at exactly the version Cargo.lock
#     pins (cargo install, about two minutes; only when missing or a different version);
#   - the npm packages package-lock.json pins (npm ci): binaryen's wasm-opt, playwright-core, jose.
# Safe to run again: when everything is present it only checks, in a second or two.
set -euo pipefail
source "$(dirname "$0")/common.sh"

started=$(date +%s)
changed=0

# --- Rust --------------------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first (https://rustup.rs), then run this again"
command -v rustup >/dev/null 2>&1 || die "rustup not found: the wasm target is installed with rustup"

# --- System packages: Chromium + ChromeDriver, and the small tools the scripts use ---------------
apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || apt_packages+=(firefox-esr)
command -v gzip >/dev/null 2>&1 || apt_packages+=(gzip)
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl) # tests/keys_interop.rs makes keys with it
command -v python3 >/dev/null 2>&1 || apt_packages+=(python3)
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "Installing with apt: ${apt_packages[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${apt_packages[*]} by hand (this script knows Debian only)"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install ${apt_packages[*]} as root"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
  changed=1
fi
# Debian's chromium-driver installs /usr/bin/chromedriver; the browser matches it by construction.
note "chromium:     $(chromium --version 2>/dev/null | head -n1)"
note "chromedriver: $(chromedriver --version 2>/dev/null | awk '{ print $1, $2 }')"
note "firefox-esr:  $(firefox-esr --version 2>/dev/null | head -n1)"

# --- Rust target -------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$WASM_TARGET"; then
  say "Adding the Rust target $WASM_TARGET"
  rustup target add "$WASM_TARGET"
  changed=1
fi
note "rust:         $(rustc --version), target $WASM_TARGET"

# --- wasm-bindgen-cli at the version Cargo.lock pins --------------------------------------------
want=$(locked_wasm_bindgen_version)
[ -n "$want" ] || die "could not read the wasm-bindgen version from Cargo.lock"
have=$(tool_version wasm-bindgen)
have_runner=$(tool_version wasm-bindgen-test-runner)
if [ "$have" != "$want" ] || [ "$have_runner" != "$want" ]; then
  say "Installing wasm-bindgen-cli $want (found wasm-bindgen '${have:-none}', wasm-bindgen-test-runner '${have_runner:-none}'); this compiles for about two minutes"
  # Deliberately without --locked.
  cargo install wasm-bindgen-cli --version "$want" --force
  have=$(tool_version wasm-bindgen)
  [ "$have" = "$want" ] || die "wasm-bindgen is still '${have:-missing}' after installing $want; is $CARGO_BIN first on PATH?"
  changed=1
fi
note "wasm-bindgen: $want (matches Cargo.lock)"

# --- geckodriver: WebDriver for Firefox (Debian has no package of it) ---------------------------
# Mozilla's support table asks Firefox 128 ESR or later from geckodriver 0.36 on; Debian 12's
# firefox-esr is 140 ESR or later (tested with 153 ESR from bookworm-security).
if [ "$(tool_version geckodriver)" != "$GECKODRIVER_VERSION" ]; then
  say "Installing geckodriver $GECKODRIVER_VERSION (found '$(tool_version geckodriver)'); this compiles for a few minutes"
  # --locked: geckodriver's own Cargo.lock, so the build does not change under us.
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --force
  [ "$(tool_version geckodriver)" = "$GECKODRIVER_VERSION" ] || die "geckodriver is still '$(tool_version geckodriver)' after installing $GECKODRIVER_VERSION; is $CARGO_BIN first on PATH?"
  changed=1
fi
note "geckodriver:  $GECKODRIVER_VERSION"

# --- npm packages: binaryen (wasm-opt for scripts/build-pkg.sh), playwright-core and jose (tests) -
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 or later (Debian: apt-get install nodejs npm, or nodesource)"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm (it installs binaryen's wasm-opt and the test tools)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: the lab needs 20 or later"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -x node_modules/.bin/wasm-opt ]; then
  say "Installing the npm packages package-lock.json pins (npm ci)"
  npm ci --no-audit --no-fund
  changed=1
fi
note "wasm-opt:     $(node_modules/.bin/wasm-opt --version 2>/dev/null) (npm binaryen)"

if [ "$changed" -eq 0 ]; then
  say "Setup: everything already installed ($(elapsed_since "$started")s)"
else
  say "Setup: done ($(elapsed_since "$started")s)"
fi
