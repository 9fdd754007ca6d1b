#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then runs
# the unit, integration and doc tests of every crate with every feature that a test uses.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-test-deps.sh
# anvil may have been installed into a project-local prefix.
export PATH="$root/.tools/bin:$HOME/.local/bin:$PATH"
# Every feature of every member (`pkg/feature,...`) but those named: the features the tests
# build with. Not `--all-features`, which adds the GCP KMS signer (its gRPC client is minutes
# of compiling, and no test uses it); clippy and rustdoc in .ci/run keep `--all-features`.
features_but() {
  cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
skip = set(sys.argv[1:]) | {"default"}
members = json.load(sys.stdin)["packages"]
print(",".join(p["name"] + "/" + f for p in members for f in sorted(p["features"]) if f not in skip))
' "$@"
}
# defender-benches holds no test, and its dev-dependencies (criterion, the peers it is
# compared with) would be built for nothing.
cargo test --workspace --exclude defender-benches --features "$(features_but gcp-kms)" \
  --no-fail-fast "$@"
# The runtime on published QuickJS (without its `quickjs-patches` feature): the sandbox's
# behaviour, limits and abuse corpus hold there too; and a Defender project run by
# defender-host on that same QuickJS. The same packages and features as above but that one,
# so that every dependency is the one built above and only the runtime, the host and these
# tests compile again. defender-kv and defender-notify, which have a `conformance` test too,
# are left out (which changes no dependency's features).
cargo test --workspace --exclude defender-benches --exclude defender-kv --exclude defender-notify \
  --features "$(features_but gcp-kms quickjs-patches)" --no-fail-fast \
  --test sandbox --test sandbox_contexts --test hardening --test abuse --test conformance \
  --test node_crypto --test node_crypto_limits --test node_http \
  --test node_zlib --test web_globals --test intl --test clients --test preinstalled --test node_builtins \
  --test esm --test warm_contexts --test crypto_substitution --test host --test cli --test workflows "$@"
