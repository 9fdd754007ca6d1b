#!/usr/bin/env bash
# The main job: installs what the demo needs, then runs the end-to-end demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ -x scripts/install-anvil.sh ]; then
  scripts/install-anvil.sh
fi
export PATH="$root/.tools/bin:$HOME/.local/bin:$PATH"
cargo run -p defender-examples --bin demo "$@"
