#!/usr/bin/env bash
# The main job: installs what the demo needs, then runs the demo through the host:
# `defender-host run examples/project` (a defender-as-code project) against anvil, driven and
# printed step by step by examples/project/demo.mjs. The embedded-SDK demo stays runnable as
# `cargo run -p defender-examples --bin demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ -x scripts/install-anvil.sh ]; then
  scripts/install-anvil.sh
fi
# Defender's pre-installed packages, which the demo's actions may require.
scripts/install-preinstalled.sh
export PATH="$root/.tools/bin:$HOME/.local/bin:$PATH"
cargo build -p defender-host
DEFENDER_HOST_BIN="$root/target/debug/defender-host" node examples/project/demo.mjs "$@"
