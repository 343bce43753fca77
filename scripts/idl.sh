#!/usr/bin/env bash
# Generates the programs' IDLs natively (no SBF toolchain needed) into deploy/idl/.
#   scripts/idl.sh          regenerate
#   scripts/idl.sh --check  fail if the committed IDLs differ from the sources
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cyxwiz-target}"

if ! command -v anchor >/dev/null 2>&1 || ! anchor --version 2>/dev/null | grep -q '1\.2\.2'; then
  echo "installing anchor-cli 1.2.2 (one-time, a few minutes)"
  cargo install anchor-cli --version 1.2.2 --locked
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for prog in node-registry job-escrow reputation-manager dispute-dao; do
  name=${prog//-/_}
  (cd "programs/$prog" && anchor idl build -o "$out/$name.json" >/dev/null)
done

if [ "${1:-}" = "--check" ]; then
  status=0
  for f in "$out"/*.json; do
    name=$(basename "$f")
    if ! diff -q "$f" "deploy/idl/$name" >/dev/null 2>&1; then
      echo "IDL drift: deploy/idl/$name is out of date; run scripts/idl.sh and commit" >&2
      diff -u "deploy/idl/$name" "$f" | head -40 >&2 || true
      status=1
    fi
  done
  exit $status
fi
mkdir -p deploy/idl
cp "$out"/*.json deploy/idl/
echo "IDLs written to deploy/idl/"
