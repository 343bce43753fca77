#!/usr/bin/env bash
# Builds the four programs for SBF with the cluster's program ids baked in.
#   CLUSTER=devnet deploy/scripts/build.sh
# Needs the Solana toolchain (cargo-build-sbf) and anchor-cli 1.2.2.
source "$(dirname "$0")/common.sh"
need anchor "cargo install anchor-cli --version 1.2.2 --locked"
need cargo-build-sbf "install the Solana CLI: https://solana.com/docs/intro/installation"
cd "$root"
args=()
[ -n "$FEATURES" ] && args+=(-- --features "$FEATURES")
anchor build "${args[@]}"
# The deployable artifacts must not contain the test-only verifier.
bash scripts/check-deploy-features.sh
ls -l target/deploy/*.so
