#!/usr/bin/env bash
# Installs anvil (Foundry's local Ethereum node, used by the defender-relay tests and bench)
# when it is missing, from the npm package @foundry-rs/anvil-linux-amd64 (a prebuilt
# linux x86-64 binary in bin/anvil), and prints its path.
#
#   scripts/install-anvil.sh            # global npm install (root), else a local prefix
#   ANVIL_PREFIX=/opt/anvil scripts/install-anvil.sh
#
# Without root, the package goes to $ANVIL_PREFIX (default ~/.local/share/defender-anvil) and
# anvil is symlinked into ~/.local/bin. The tests also find it at
# $ANVIL_PREFIX/lib/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil, or through
# DEFENDER_ANVIL=/path/to/anvil.
set -euo pipefail

PACKAGE="@foundry-rs/anvil-linux-amd64"
VERSION="${ANVIL_VERSION:-1.7.1}"

log() { printf '[install-anvil] %s\n' "$*" >&2; }

if [ -n "${DEFENDER_ANVIL:-}" ] && [ -x "$DEFENDER_ANVIL" ]; then
  echo "$DEFENDER_ANVIL"
  exit 0
fi
if command -v anvil >/dev/null 2>&1; then
  command -v anvil
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) log "the npm package $PACKAGE is for linux x86-64 only; install Foundry another way"; exit 1 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
  log "npm is needed (apt-get install -y nodejs npm)"
  exit 1
fi

if [ "$(id -u)" = 0 ] && [ -z "${ANVIL_PREFIX:-}" ]; then
  log "npm install -g $PACKAGE@$VERSION"
  npm install -g --silent "$PACKAGE@$VERSION" >&2
  bin="$(npm root -g)/$PACKAGE/bin/anvil"
  if ! command -v anvil >/dev/null 2>&1; then
    ln -sf "$bin" /usr/local/bin/anvil
  fi
else
  prefix="${ANVIL_PREFIX:-$HOME/.local/share/defender-anvil}"
  log "npm install --prefix $prefix $PACKAGE@$VERSION"
  mkdir -p "$prefix"
  npm install -g --silent --prefix "$prefix" "$PACKAGE@$VERSION" >&2
  bin="$prefix/lib/node_modules/$PACKAGE/bin/anvil"
  mkdir -p "$HOME/.local/bin"
  ln -sf "$bin" "$HOME/.local/bin/anvil"
  log "linked $HOME/.local/bin/anvil (add ~/.local/bin to PATH, or set DEFENDER_ANVIL=$bin)"
fi

chmod +x "$bin" 2>/dev/null || true
"$bin" --version >&2
echo "$bin"
