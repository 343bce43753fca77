#!/usr/bin/env bash
# Deploys the built programs to CLUSTER at the ids in Anchor.toml / crates/common/src/ids.rs.
#   CLUSTER=devnet KEYS=deploy/keys/devnet deploy/scripts/deploy.sh
# KEYS must hold <program>-keypair.json for each program (the keys behind the ids) and
# the payer's wallet as payer-keypair.json. Upgrade authority: hand it to the multisig
# afterwards with `solana program set-upgrade-authority` (see docs/deploy.md).
source "$(dirname "$0")/common.sh"
need solana "install the Solana CLI"
cd "$root"
for prog in node_registry job_escrow reputation_manager dispute_dao; do
  kp="$KEYS/${prog}-keypair.json"
  [ -f "$kp" ] || { echo "missing $kp" >&2; exit 1; }
  solana program deploy --url "$RPC_URL" --keypair "$KEYS/payer-keypair.json" \
    --program-id "$kp" "target/deploy/${prog}.so"
done
