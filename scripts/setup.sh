#!/usr/bin/env bash
# Installs what GRID needs to run and test on a fresh Debian machine:
# deno (from npm) and nats-server (from Debian). Safe to run again.
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }

if ! command -v deno >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed to install deno (apt-get install -y npm)"; exit 1; }
  say "installing deno from npm"
  npm install -g deno >&2
fi

nats_found=""
for p in /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
  [ -x "$p" ] && nats_found="$p" && break
done
if [ -z "$nats_found" ]; then
  say "installing nats-server from Debian"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nats-server >&2
fi

say "deno $(deno --version | head -n1 | cut -d' ' -f2), $(nats-server --version 2>/dev/null || /usr/sbin/nats-server --version)"
say "fetching the locked npm packages"
cd "$(dirname "$0")/.."
deno install --frozen >&2
