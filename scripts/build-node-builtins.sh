#!/usr/bin/env bash
# Regenerates defender-runtime/js/generated/node-builtins.js (Node's core modules for the action
# sandbox) from the npm packages pinned in defender-runtime/js/node-builtins/package-lock.json.
# The output is checked in (the crate builds from crates.io without npm); a rebuild from the same
# lock file is byte-identical. `METAFILE=1` prints what takes room in the bundle.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../defender-runtime/js/node-builtins" && pwd)"
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
