#!/usr/bin/env bash
# Fails if any non-test build of a program or deployable crate enables job-escrow's
# `insecure-test-verifier` feature. (SBF builds with it refuse to compile anyway.)
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for pkg in job-escrow node-registry reputation-manager dispute-dao cyxwiz-deploy cyxwiz-chain cyxwiz-localnet \
  cyxwiz-coordinator cyxwiz-node-agent cyxwiz-engine-client cyxwiz-demo cyxwiz-circuits; do
  if cargo tree -p "$pkg" -e normal,build,features --prefix none 2>/dev/null | grep -q 'insecure-test-verifier'; then
    echo "ERROR: $pkg's normal dependency graph enables insecure-test-verifier" >&2
    bad=1
  fi
done
# The feature may be named only by the program defining it and by the program test crate
# (which drives the payment path without proving). The localnet, the main job and the
# end-to-end tests settle with real Groth16 proofs.
if grep -rn 'insecure-test-verifier' --include=Cargo.toml . | grep -v '^./tests/Cargo.toml' \
  | grep -v '^./programs/job-escrow/Cargo.toml' | grep -v '^./target' ; then
  echo "ERROR: insecure-test-verifier referenced outside the test crate" >&2
  bad=1
fi
[ $bad -eq 0 ] && echo "ok: insecure-test-verifier is test-only"
exit $bad
