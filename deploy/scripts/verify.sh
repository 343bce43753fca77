#!/usr/bin/env bash
# Reads back every config, the programs and the mint of a deployment and compares them
# with the expected roles and the spec's parameters.
#   CLUSTER=devnet ADMIN=... COORDINATOR=... UPDATER=... MINT=... deploy/scripts/verify.sh
source "$(dirname "$0")/common.sh"
cd "$root"
: "${ADMIN:?}" "${COORDINATOR:?}" "${UPDATER:?}" "${MINT:?}"
feat=(--features rpc)
[ -n "$FEATURES" ] && feat=(--features "rpc,cyxwiz-common/$FEATURES")
cargo run --release -p cyxwiz-deploy "${feat[@]}" --bin cyxwiz-deploy -- --url "$RPC_URL" verify \
  --admin "$ADMIN" --coordinator "$COORDINATOR" --updater "$UPDATER" --mint "$MINT"
