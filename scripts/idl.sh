#!/usr/bin/env bash
# Generates the programs' IDLs natively (no SBF toolchain, no anchor-cli) into deploy/idl/
# with the workspace tool crates/idl (anchor-lang-idl's builder, what `anchor idl build`
# runs).
#   scripts/idl.sh          regenerate
#   scripts/idl.sh --check  fail if the committed IDLs differ from the sources
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cyxwiz-target}"
# The tool and the programs' idl-build builds use a target dir of their own (see
# crates/idl): other settings than the workspace's, and no waiting on its lock.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/idl" \
  cargo run --locked --quiet --manifest-path crates/idl/Cargo.toml -- "$@"
