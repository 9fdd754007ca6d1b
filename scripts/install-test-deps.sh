#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine of this kind (Rust, npm, apt as
# root), skipping whatever is already there. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

log() { printf '[install] %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# anvil: from the npm package @foundry-rs/anvil-linux-amd64.
if [ -x scripts/install-anvil.sh ]; then
  scripts/install-anvil.sh
fi

# redis-server: from Debian's packages.
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi

# An SMTP server for the email tests: aiosmtpd for Debian's python3, from apt.
if ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  apt_install python3-aiosmtpd
fi

# JavaScript fixtures of the runtime tests (ethers v5 and v6), and the npm defender-sdk
# relayer client that defender-host/tests/relayer_api.rs drives, from their lock files.
for dir in defender-runtime/tests/node defender-host/tests/relayer-sdk; do
  if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules" ]; then
    log "npm ci in $dir"
    if [ -f "$dir/package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
  fi
done

# The contracts of the proposal tests (Safe, OpenZeppelin, solc-js) from their lock file, and
# the test Governor compiled once with solc-js (tests/proposals.rs also compiles it if missing).
dir=defender-engine/tests/proposals
if [ ! -d "$dir/node_modules" ]; then
  log "npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f "$dir/node_modules/.compiled/TestGovernor.json" ]; then
  log "compiling the test Governor in $dir"
  node "$dir/compile.js"
fi

# Defender's pre-installed packages (axios, ethers 5.5.3, web3 1.9.0...), the runtime's default
# node_modules, and the bundlers and libraries of the action corpus; each from its lock file.
scripts/install-preinstalled.sh defender-runtime/preinstalled defender-engine/tests/corpus

log "done"
