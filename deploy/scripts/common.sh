#!/usr/bin/env bash
# Shared settings for the deploy scripts. CLUSTER is localnet, devnet or mainnet.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=${CLUSTER:-devnet}
case "$CLUSTER" in
  localnet) RPC_URL=${RPC_URL:-http://127.0.0.1:8899}; FEATURES="" ;;
  devnet)   RPC_URL=${RPC_URL:-https://api.devnet.solana.com}; FEATURES="devnet" ;;
  mainnet)  RPC_URL=${RPC_URL:-https://api.mainnet-beta.solana.com}; FEATURES="mainnet" ;;
  *) echo "CLUSTER must be localnet, devnet or mainnet" >&2; exit 2 ;;
esac
KEYS=${KEYS:-$root/deploy/keys/$CLUSTER}
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing tool: $1 ($2)" >&2; exit 1; }; }
