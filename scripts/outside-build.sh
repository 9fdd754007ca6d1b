#!/usr/bin/env bash
# Builds and runs examples/outside, a project outside the workspace that depends on the
# `defender` facade by path with no `[patch]` section, as a user's project would. It shares the
# main target directory, so the crates it has in common with the workspace are built once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
manifest="$root/examples/outside/Cargo.toml"
# A first build starts from the workspace's lock file, so that both resolve the same versions
# and share what is built; cargo drops what the project does not use.
if [ ! -f "$root/examples/outside/Cargo.lock" ]; then
    cp "$root/Cargo.lock" "$root/examples/outside/Cargo.lock"
fi
echo "== examples/outside: cargo fmt --check"
cargo fmt --manifest-path "$manifest" -- --check
echo "== examples/outside: cargo build (target dir $CARGO_TARGET_DIR)"
cargo build --manifest-path "$manifest" "$@"
echo "== examples/outside: cargo run"
cargo run --quiet --manifest-path "$manifest" "$@"
