#!/usr/bin/env bash
# Native test bench for the example kernels (no Rust, no wasm runtime required).
#
#   bash jobs/native/check.sh
#
# For each job: builds run.c + common.c + kernel natively (-O2 -ffp-contract=off),
# trains for the job's default epoch count with seed 42, and asserts
#   * held-out accuracy >= the job's quality bar,
#   * two runs give the same final weights hash,
#   * checkpoint/resume (cyx_set_weights after K epochs, continue) gives the same hash,
#   * a clang-built native binary gives the same hash as the gcc-built one (if clang exists),
#   * the committed jobs/wasm/*.wasm run under Node (if node exists) gives the same hash,
# and runs abi_test.c (every documented error code).  Exit status non-zero on any failure.
set -euo pipefail

JOBS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CC="${CC:-gcc}"
CFLAGS=(-std=c11 -O2 -ffp-contract=off -fno-math-errno -Wall -Wextra -Werror)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# job  kernel  data                 epochs  bar     unsupported-data (for abi_test)
JOBS_TABLE=(
  "logreg logreg breast_cancer.cyxd 30 0.94 digits.cyxd"
  "mlp    mlp    digits.cyxd        50 0.95 -"
)
SEED=42
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

cd "$JOBS"
for row in "${JOBS_TABLE[@]}"; do
  read -r job kernel data epochs bar other <<<"$row"
  echo "== $job: $data, $epochs epochs, seed $SEED, bar $bar"
  "$CC" "${CFLAGS[@]}" -o "$tmp/run_$kernel" native/run.c src/common.c "src/$kernel.c"
  "$CC" "${CFLAGS[@]}" -o "$tmp/abi_$kernel" native/abi_test.c src/common.c "src/$kernel.c"
  if [[ $other == - ]]; then "$tmp/abi_$kernel" "data/$data" || fail "$job abi_test"
  else "$tmp/abi_$kernel" "data/$data" "data/$other" || fail "$job abi_test"; fi

  "$tmp/run_$kernel" "data/$data" "$epochs" --seed "$SEED" --save-at $((epochs / 2)) "$tmp/$job.ckpt" >"$tmp/$job.log"
  grep -E '^epoch' "$tmp/$job.log" | sed -n "1p;$((epochs / 2))p;\$p"
  r1="$(tail -n1 "$tmp/$job.log")"; echo "$r1"
  r2="$("$tmp/run_$kernel" "data/$data" "$epochs" --seed "$SEED" --quiet)"
  r3="$("$tmp/run_$kernel" "data/$data" "$epochs" --seed "$SEED" --quiet --resume "$tmp/$job.ckpt" $((epochs / 2)))"
  acc="$(field test_acc "$r1")"; h1="$(field weights_fnv1a64 "$r1")"
  h2="$(field weights_fnv1a64 "$r2")"; h3="$(field weights_fnv1a64 "$r3")"
  python3 -c "import sys; sys.exit(0 if float('$acc') >= $bar else 1)" \
    && echo "ok: test accuracy $acc >= $bar" || fail "$job test accuracy $acc < $bar"
  [[ $h1 == "$h2" ]] && echo "ok: repeat run, same weights hash $h1" || fail "$job repeat run hash $h2 != $h1"
  [[ $h1 == "$h3" ]] && echo "ok: resume from epoch $((epochs / 2)) checkpoint, same hash" || fail "$job resumed hash $h3 != $h1"

  if [[ $CC != clang ]] && command -v clang >/dev/null; then
    clang "${CFLAGS[@]}" -o "$tmp/run_${kernel}_clang" native/run.c src/common.c "src/$kernel.c"
    hc="$(field weights_fnv1a64 "$("$tmp/run_${kernel}_clang" "data/$data" "$epochs" --seed "$SEED" --quiet)")"
    [[ $h1 == "$hc" ]] && echo "ok: clang-built native binary, same hash" || fail "$job clang native hash $hc != $h1"
  fi
  if command -v node >/dev/null && [[ -f wasm/$kernel.wasm ]]; then
    rw="$(node native/run_wasm.mjs "wasm/$kernel.wasm" "data/$data" "$epochs" "$SEED")"
    hw="$(field weights_fnv1a64 "$rw")"
    [[ $h1 == "$hw" ]] && echo "ok: wasm/$kernel.wasm under node $(node --version), same hash ($(field seconds "$rw")s)" \
      || fail "$job wasm hash $hw != native $h1"
  else
    echo "skip: wasm cross-check (node or wasm/$kernel.wasm missing)"
  fi
done
[[ $status == 0 ]] && echo "native/check.sh: all checks passed" || echo "native/check.sh: FAILED" >&2
exit $status
