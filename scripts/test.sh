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
# The runtime on published QuickJS (without its `quickjs-patches` feature): the sandbox's
# behaviour, limits and abuse corpus hold there too; and a Defender project run by
# defender-host on that same QuickJS. One invocation, so the published build compiles once.
cargo test -p defender-runtime -p defender-host --no-fail-fast --test sandbox --test hardening --test abuse --test conformance --test node_crypto --test node_http --test node_zlib --test web_globals --test intl \
  --test clients --test preinstalled --test node_builtins --test esm --test warm_contexts --test crypto_substitution \
  --test host --test cli "$@"
