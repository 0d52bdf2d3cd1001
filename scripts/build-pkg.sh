#!/usr/bin/env bash
# Builds the release WebAssembly module and its JavaScript bindings (ES module, `--target web`).
#
#   bash scripts/build-pkg.sh                    # pkg/: the full module, simulator included
#   bash scripts/build-pkg.sh --client-only      # target/pkg-client-only/: without the simulator
#   bash scripts/build-pkg.sh --out-dir DIR      # somewhere else
#
# Does not run setup (scripts/lab.sh, test.sh and bench.sh do); needs the wasm32 target and
# wasm-bindgen at the Cargo.lock version. wasm-opt is not used (Debian's binaryen is broken).
set -euo pipefail
source "$(dirname "$0")/common.sh"

out_dir=pkg
features=()
variant="full (simulator included)"
while [ $# -gt 0 ]; do
  case "$1" in
    --client-only) features=(--no-default-features); variant="client only (--no-default-features)"; out_dir="$TARGET_DIR/pkg-client-only"; shift ;;
    --out-dir) [ $# -ge 2 ] || die "--out-dir needs a folder"; out_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

want=$(locked_wasm_bindgen_version)
have=$(tool_version wasm-bindgen)
[ "$have" = "$want" ] || die "wasm-bindgen is '${have:-missing}' but Cargo.lock pins $want: run 'bash scripts/setup.sh'"

say "Building the release wasm module: $variant"
cargo build --release --target "$WASM_TARGET" --lib "${features[@]}"

# Cargo copies the cdylib of the feature set it just built to this path, so bind it right away.
wasm_in="$TARGET_DIR/$WASM_TARGET/release/haapi_lab.wasm"
[ -f "$wasm_in" ] || die "$wasm_in was not produced"

say "Generating JavaScript bindings into $out_dir/"
rm -rf "$out_dir"
wasm-bindgen --target web --out-dir "$out_dir" --remove-name-section "$wasm_in"
# The bindings are ES modules: say so, for Node (no "reparsing as ES module" warning).
printf '{ "type": "module" }\n' >"$out_dir/package.json"

wasm_out="$out_dir/haapi_lab_bg.wasm"
[ -f "$wasm_out" ] || die "wasm-bindgen did not write $wasm_out"
raw=$(file_bytes "$wasm_out")
gz=$(gzip_bytes "$wasm_out")
note "$wasm_out: $raw bytes ($(kib "$raw")), gzip -9: $gz bytes ($(kib "$gz"))"
