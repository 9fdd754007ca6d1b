#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then runs
# the unit, integration and doc tests of every crate with every feature.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-test-deps.sh
# anvil may have been installed into a project-local prefix.
export PATH="$root/.tools/bin:$HOME/.local/bin:$PATH"
cargo test --workspace --all-features --no-fail-fast "$@"
