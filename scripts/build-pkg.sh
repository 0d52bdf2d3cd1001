#!/usr/bin/env bash
# Builds the five WebAssembly modules and their JavaScript bindings (ES modules, --target web):
#
#   pkg/haapi_lab.js, pkg/haapi_lab_bg.wasm                the client (feature wasm-client): the
#                                                           page in http mode, workers, Node
#   pkg/haapi_lab_with_sim.js, ..._bg.wasm                  the client with the light simulator
#                                                           compiled in (wasm-client-sim): the
#                                                           page in simulator mode, one download
#   pkg/sim-lite/haapi_lab_sim_lite.js, ..._bg.wasm         the simulated Curity verifying HS* and
#                                                           ES256 only, no X.509 (wasm-sim-lite):
#                                                           what most configurations load
#   pkg/sim/haapi_lab_sim.js, haapi_lab_sim_bg.wasm         the whole simulated Curity (wasm-sim)
#   pkg/tools/haapi_lab_tools.js, haapi_lab_tools_bg.wasm   RSA/P-384 keys, certificates (wasm-tools)
#
#   bash scripts/build-pkg.sh               # all five into pkg/, then prints their sizes
#   bash scripts/build-pkg.sh --out-dir DIR # somewhere else
#   bash scripts/build-pkg.sh --no-opt      # without wasm-opt (faster; bigger modules)
#
# Each module: cargo build --release --target wasm32-unknown-unknown --lib --no-default-features
# --features wasm-<module>; wasm-bindgen --remove-name-section; then wasm-opt -Oz (with --converge
# for the first three) from npm's binaryen (pinned in package-lock.json; Debian's binaryen 108
# breaks the module). Does not run
# setup (scripts/lab.sh, test.sh and bench.sh do); needs the wasm32 target, wasm-bindgen at the
# Cargo.lock version and node_modules (npm ci).
set -euo pipefail
source "$(dirname "$0")/common.sh"

out_dir=pkg
optimise=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out-dir) [ $# -ge 2 ] || die "--out-dir needs a folder"; out_dir="$2"; shift 2 ;;
    --no-opt) optimise=0; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

want=$(locked_wasm_bindgen_version)
have=$(tool_version wasm-bindgen)
[ "$have" = "$want" ] || die "wasm-bindgen is '${have:-missing}' but Cargo.lock pins $want: run 'bash scripts/setup.sh'"
wasm_opt="$REPO_ROOT/node_modules/.bin/wasm-opt"
if [ "$optimise" -eq 1 ] && [ ! -x "$wasm_opt" ]; then
  die "node_modules/.bin/wasm-opt is missing: run 'npm ci' (or bash scripts/setup.sh), or pass --no-opt"
fi

staging="$TARGET_DIR/wasm-modules"
mkdir -p "$staging"
rm -rf "$out_dir"
mkdir -p "$out_dir"

# strip_glue_docs FILE: drops the JSDoc blocks wasm-bindgen copies from the Rust docs into the
# bindings (about 2 KB gzip of every first load); the same documentation stays in the .d.ts beside
# them, which editors and TypeScript read. The result is checked to parse.
strip_glue_docs() {
  node -e '
    const fs = require("fs");
    const file = process.argv[1];
    const text = fs.readFileSync(file, "utf8");
    const stripped = text.replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, "");
    if (stripped === text) throw new Error(`${file}: no JSDoc block found (did wasm-bindgen change its output?)`);
    fs.writeFileSync(file, stripped);
  ' "$1" || die "could not drop the JSDoc blocks of $1"
  node --input-type=module --check <"$1" || die "$1 does not parse after its JSDoc blocks were dropped"
}

# build_module FEATURE NAME SUBDIR [CARGO ARGS...]
build_module() {
  local feature=$1 name=$2 sub=$3
  shift 3
  say "Building the $name module (--features $feature)"
  cargo build --release --target "$WASM_TARGET" --lib --no-default-features --features "$feature" "$@"
  # Cargo writes every feature set's cdylib to the same path: keep this one under its own name.
  cp "$TARGET_DIR/$WASM_TARGET/release/haapi_lab.wasm" "$staging/$name.wasm"
  local dir="$out_dir${sub:+/$sub}"
  wasm-bindgen --target web --out-dir "$dir" --out-name "$name" --remove-name-section "$staging/$name.wasm"
  strip_glue_docs "$dir/$name.js"
  if [ "$optimise" -eq 1 ]; then
    "$wasm_opt" -Oz ${converge:+--converge} --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
      --enable-reference-types --enable-multivalue -o "$dir/${name}_bg.wasm" "$dir/${name}_bg.wasm"
  fi
}

# The modules a page loads first go through -Oz until it changes nothing (--converge): 0.7 KB gzip
# off the client, 1.3 KB off the client with the light simulator, 0.5 KB off the light simulator,
# about 10 s more each; it gains nothing on the whole simulator and adds 0.3 KB to the tools
# (measured with node_modules/.bin/wasm-opt on these modules).
converge=1
build_module wasm-client haapi_lab ""
# The simulator verifies a P-256 signature on nearly every request of a login: its elliptic-curve
# and hash crates are optimised for speed (opt-level 3; everything else, and the other two modules,
# for size). Measured with `node tests/bench/run.mjs --quick --conditions local`: a new device's
# whole run to tokens about 20% faster, the module about 10 KB gzip larger (README, Benchmarks).
sim_speed=()
for crate in p256 primeorder elliptic-curve crypto-bigint ecdsa sha2; do
  sim_speed+=(--config "profile.release.package.$crate.opt-level=3")
done
build_module wasm-client-sim haapi_lab_with_sim "" "${sim_speed[@]}"
build_module wasm-sim-lite haapi_lab_sim_lite sim-lite "${sim_speed[@]}"
converge=
build_module wasm-sim haapi_lab_sim sim "${sim_speed[@]}"
build_module wasm-tools haapi_lab_tools tools
# The bindings are ES modules: say so, for Node (no "reparsing as ES module" warning).
for d in "$out_dir" "$out_dir/sim-lite" "$out_dir/sim" "$out_dir/tools"; do printf '{ "type": "module" }\n' >"$d/package.json"; done

say "Module sizes (gzip -9)"
for f in "$out_dir/haapi_lab_bg.wasm" "$out_dir/haapi_lab_with_sim_bg.wasm" "$out_dir/sim-lite/haapi_lab_sim_lite_bg.wasm" "$out_dir/sim/haapi_lab_sim_bg.wasm" "$out_dir/tools/haapi_lab_tools_bg.wasm"; do
  raw=$(file_bytes "$f")
  gz=$(gzip_bytes "$f")
  note "$(printf '%-40s %9s bytes  gzip -9 %8s bytes (%s)' "$f" "$raw" "$gz" "$(kib "$gz")")"
done

# The targets of the structure-and-size issue, from the files themselves: the client module, and
# what the page fetches on its first load (www/: the page and its whole static module graph; the
# client module the page picks, its bindings and their snippets), each file gzip -9 on its own.
# `bash scripts/bench.sh --browser` measures the same loads in Chromium (every response).
if [ "$out_dir" = pkg ]; then
  # page_modules: www/main.js and every page module it imports statically, at any depth (a
  # module the page imports on first use, `import()`, is not part of the first load).
  page_modules() {
    node -e '
      const fs = require("fs");
      const seen = new Set();
      const walk = (file) => {
        if (seen.has(file)) return;
        seen.add(file);
        const text = fs.readFileSync(file, "utf8");
        for (const m of text.matchAll(/^\s*import\s[^"'"'"']*?from\s*"\.\/([\w.-]+\.js)"/gm)) walk(`www/${m[1]}`);
      };
      walk("www/main.js");
      console.log([...seen].join("\n"));
    '
  }
  # first_load MODULE: gzip -9 bytes of the page's first load with pkg/MODULE.js as its module.
  first_load() {
    local total=0 f
    for f in www/index.html www/*.css $(page_modules) "pkg/$1.js" "pkg/$1_bg.wasm" pkg/snippets/*/src/js/*.js; do
      total=$((total + $(gzip_bytes "$f")))
    done
    echo "$total"
  }
  verdict() { if [ "$1" -le "$2" ]; then echo "met"; else echo "NOT met"; fi; }
  client=$(gzip_bytes pkg/haapi_lab_bg.wasm)
  sim_mode=$(first_load haapi_lab_with_sim)
  http_mode=$(first_load haapi_lab)
  say "Size targets (gzip -9)"
  note "$(printf '%-40s %9s bytes (target <= 102,400: %s)' "client module (.wasm)" "$client" "$(verdict "$client" 102400)")"
  note "$(printf '%-40s %9s bytes (target <= 307,200: %s)' "first load, simulator mode" "$sim_mode" "$(verdict "$sim_mode" 307200)")"
  note "$(printf '%-40s %9s bytes' "first load, http mode" "$http_mode")"
fi
