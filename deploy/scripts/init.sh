#!/usr/bin/env bash
# Creates the CYXWIZ token and its distribution, the treasuries and insurance vault, and
# initialises the four program configs with a multisig admin, then verifies by reading
# everything back. Runs the same plan (cyxwiz_deploy::network) the localnet and tests use.
#   CLUSTER=devnet ADMIN=<multisig> COORDINATOR=<key> UPDATER=<key> \
#   TREASURY_OWNER=<multisig> INSURANCE_OWNER=<multisig> DISTRIBUTION_OWNER=<multisig> \
#   deploy/scripts/init.sh
source "$(dirname "$0")/common.sh"
cd "$root"
: "${ADMIN:?multisig admin address}" "${COORDINATOR:?coordinator key}" "${UPDATER:?reputation updater key}"
: "${TREASURY_OWNER:?}" "${INSURANCE_OWNER:?}" "${DISTRIBUTION_OWNER:?}"
feat=(--features rpc)
[ -n "$FEATURES" ] && feat=(--features "rpc,cyxwiz-common/$FEATURES")
cargo run --release -p cyxwiz-deploy "${feat[@]}" --bin cyxwiz-deploy -- --url "$RPC_URL" init \
  --payer "$KEYS/payer-keypair.json" --deployer "$KEYS/deployer-keypair.json" \
  --admin "$ADMIN" --coordinator "$COORDINATOR" --updater "$UPDATER" \
  --treasury-owner "$TREASURY_OWNER" --insurance-owner "$INSURANCE_OWNER" \
  --distribution-owner "$DISTRIBUTION_OWNER" --out "deploy/deployment-$CLUSTER.json"
