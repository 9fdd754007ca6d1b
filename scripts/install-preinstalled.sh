#!/usr/bin/env bash
# Installs the packages Defender pre-installed in its action environment (axios, axios-retry,
# ethers 5.5.3, web3 1.9.0, graphql, graphql-request, fireblocks-sdk, the Datadog client) into
# defender-runtime/preinstalled/node_modules, exactly as its package-lock.json pins them. The
# runtime mounts that directory at /node_modules when the embedder configures none.
#
#   scripts/install-preinstalled.sh            # the pre-installed set
#   scripts/install-preinstalled.sh DIR...     # the same for other npm projects with a lock
#                                              # (the action corpus's bundlers, for instance)
#
# `npm ci --ignore-scripts`: no package's install script runs. What that leaves out is
# harmless here: the native builds of keccak, secp256k1, bufferutil and utf-8-validate (each
# falls back to its JavaScript implementation, and the sandbox loads no native addon anyway),
# and messages printed by web3-bzz, web3-shh, web3 and es5-ext.
#
# Idempotent: a directory whose node_modules was installed from the same lock file (its
# SHA-256 is recorded in node_modules/.defender-lock-sha256) is skipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

log() { printf '[install-preinstalled] %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  log "npm is needed (Node 20: apt-get install -y nodejs npm)"
  exit 1
fi

if [ "$#" = 0 ]; then
  set -- defender-runtime/preinstalled
fi

for dir in "$@"; do
  lock="$dir/package-lock.json"
  if [ ! -f "$lock" ]; then
    log "$lock is missing"
    exit 1
  fi
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  stamp="$dir/node_modules/.defender-lock-sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$dir/node_modules is up to date"
    continue
  fi
  log "npm ci --ignore-scripts in $dir"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
done
