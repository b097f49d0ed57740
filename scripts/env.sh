# shellcheck shell=bash
# Sourced by every entry script. Backstage 1.55 needs Node 22; machines may have only
# Node 20 and npm, so the repo brings its own Node (from the npm registry package
# node-linux-<arch>) into the git-ignored .tools/ and runs the committed Yarn release
# with it, bypassing corepack.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="22.23.3"
case "$(uname -m)" in
  x86_64) NODE_ARCH=x64 ;;
  aarch64 | arm64) NODE_ARCH=arm64 ;;
  *) echo "Unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
NODE_HOME="$REPO_ROOT/.tools/node-v$NODE_VERSION-linux-$NODE_ARCH"

if [ ! -x "$NODE_HOME/bin/node" ]; then
  echo "==> Bringing Node $NODE_VERSION into .tools/ (once)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-$NODE_ARCH@$NODE_VERSION" >/dev/null)
  mkdir -p "$NODE_HOME"
  tar xzf "$tmp"/node-linux-*.tgz -C "$NODE_HOME" --strip-components=1
  rm -rf "$tmp"
fi

mkdir -p "$REPO_ROOT/.tools/bin"
cat >"$REPO_ROOT/.tools/bin/yarn" <<SH
#!/bin/sh
exec "$NODE_HOME/bin/node" "$REPO_ROOT/.yarn/releases/yarn-4.13.0.cjs" "\$@"
SH
chmod +x "$REPO_ROOT/.tools/bin/yarn"

export PATH="$REPO_ROOT/.tools/bin:$NODE_HOME/bin:$PATH"
# node-gyp builds native modules (better-sqlite3) against these headers instead of downloading them.
export npm_config_nodedir="$NODE_HOME"
export COREPACK_ENABLE_STRICT=0

# Installs exactly what yarn.lock says; a no-op (a second or so) when nothing changed.
ensure_install() {
  if [ ! -f "$REPO_ROOT/node_modules/.yarn-state.yml" ] ||
    [ "$REPO_ROOT/yarn.lock" -nt "$REPO_ROOT/node_modules/.yarn-state.yml" ] ||
    [ -n "$(find "$REPO_ROOT" -maxdepth 3 -name package.json -newer "$REPO_ROOT/node_modules/.yarn-state.yml" -not -path '*/node_modules/*' -print -quit)" ]; then
    echo "==> yarn install --immutable"
    (cd "$REPO_ROOT" && yarn install --immutable)
  fi
}

# Debian packages the sandbox and the browser tests run: installed when missing and
# this user can (root with apt-get), otherwise a clear message.
ensure_debian_packages() {
  local missing=() pkg bin
  for pkg in "$@"; do
    case "$pkg" in
      chromium) bin=/usr/bin/chromium ;;
      docker-registry) bin=/usr/bin/docker-registry ;;
      *) bin="$(command -v "$pkg" || true)" ;;
    esac
    [ -n "$bin" ] && [ -x "$bin" ] || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${missing[*]}. Install them: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
}
