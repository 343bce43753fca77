#!/usr/bin/env bash
# Build the example training kernels to WebAssembly (job ABI v1, docs/job-abi.md).
#
#   bash jobs/build.sh           rebuild jobs/wasm/{logreg,mlp}.wasm
#   bash jobs/build.sh --check   rebuild into a temp dir, cmp against the committed
#                                files, and verify each module's imports/exports are
#                                exactly the ABI (CI mode; modifies nothing)
#
# Toolchain: Debian clang 14 + wasm-ld (lld 14).  Override with CLANG=...
set -euo pipefail

JOBS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLANG="${CLANG:-clang}"
KERNELS=(logreg mlp)

CFLAGS=(
  --target=wasm32 -std=c11 -O2
  -nostdlib -ffreestanding
  -ffp-contract=off -fno-math-errno   # no FMA contraction; sqrt inlines to f32/f64.sqrt
  -mbulk-memory                       # zeroing/copy loops may lower to memory.fill/copy
  -msimd128                           # wasm SIMD (not relaxed-simd): lane-exact IEEE ops, so results stay bit-identical
  -fvisibility=hidden                 # only export_name() functions are exported
  -Wall -Wextra -Werror
)
LDFLAGS=(
  -Wl,--no-entry
  -Wl,--stack-first -Wl,-z,stack-size=65536   # stack overflow traps instead of corrupting data
  -Wl,--strip-debug                           # keep the name section, drop DWARF
)

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if [[ $mode == check ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  out="$JOBS/wasm"
  mkdir -p "$out"
fi

"$CLANG" --version | head -n1
# Compile with paths relative to jobs/ so the output never depends on the checkout location.
cd "$JOBS"
for k in "${KERNELS[@]}"; do
  "$CLANG" "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "$out/$k.wasm" src/common.c "src/$k.c"
  chmod 644 "$out/$k.wasm"
  echo "built $k.wasm ($(wc -c <"$out/$k.wasm") bytes)"
done

# Exactly the ABI: these imports and exports, nothing else (no WASI, no libc).
files=()
for k in "${KERNELS[@]}"; do files+=("$out/$k.wasm"); done
python3 "$JOBS/tools/wasm_abi_check.py" "${files[@]}"

if [[ $mode == check ]]; then
  status=0
  for k in "${KERNELS[@]}"; do
    if cmp "$out/$k.wasm" "$JOBS/wasm/$k.wasm"; then
      echo "ok: wasm/$k.wasm is reproducible"
    else
      echo "FAIL: wasm/$k.wasm differs from a fresh build (run bash jobs/build.sh and commit)" >&2
      status=1
    fi
  done
  exit $status
fi
