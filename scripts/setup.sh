#!/usr/bin/env bash
# Installs what GRID needs to run and test on a fresh Debian machine:
# deno (from npm), nats-server and chromium (from Debian). Safe to run again.
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }

if ! command -v deno >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed to install deno (apt-get install -y npm)"; exit 1; }
  say "installing deno from npm"
  npm install -g deno >&2
fi

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    $sudo_cmd apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >&2
}

nats_found=""
for p in /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
  [ -x "$p" ] && nats_found="$p" && break
done
if [ -z "$nats_found" ]; then
  say "installing nats-server from Debian"
  apt_install nats-server
fi

# The dashboard's browser tests drive Debian's Chromium with playwright-core
# (an npm package fetched below); they fail, not skip, without it.
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium from Debian (for the web dashboard tests)"
  apt_install chromium
fi

say "deno $(deno --version | head -n1 | cut -d' ' -f2), $(nats-server --version 2>/dev/null || /usr/sbin/nats-server --version), $(/usr/bin/chromium --version 2>/dev/null || echo 'no chromium')"
say "fetching the locked npm packages"
cd "$(dirname "$0")/.."
deno install --frozen >&2
