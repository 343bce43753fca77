#!/usr/bin/env bash
# Anchor's TypeScript client against a fresh cyxwiz-localnet: starts the localnet binary on
# free ports, waits for its banner, runs anchor_client.test.mjs with node's test runner,
# and stops the localnet with SIGTERM. Needs node >= 18 and npm (the npm registry for
# `npm ci`). From the repository root:  bash crates/localnet/tests/js/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cyxwiz-target}"
state=$(mktemp -d)
log="$state/localnet.out"
cd "$root"
cargo build --locked --quiet -p cyxwiz-localnet --bin cyxwiz-localnet
"$CARGO_TARGET_DIR/debug/cyxwiz-localnet" --rpc-port 0 --ws-port 0 --state-dir "$state/net" \
  >"$log" 2>&1 &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$state"; }
trap stop EXIT
for _ in $(seq 1 600); do
  grep -q '^Ctrl-C to stop.$' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "cyxwiz-localnet exited during start-up" >&2; exit 1; }
  sleep 0.2
done
grep -q '^Ctrl-C to stop.$' "$log" || { cat "$log"; echo "cyxwiz-localnet did not start" >&2; exit 1; }
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
CYXWIZ_LOCALNET_STATE="$state/net" node --test anchor_client.test.mjs
# Nothing a program logged may have reached the localnet's stdout.
if grep -E 'Program log|Instruction:|AnchorError' "$log"; then
  echo "program output leaked to the localnet's stdout" >&2
  exit 1
fi
