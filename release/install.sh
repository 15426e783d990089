#!/bin/sh
# Installs the GRID release in the directory this script is in.
#
#   ./install.sh [--prefix DIR] [--node-name NAME] [--nats-url URL] [--no-verify]
#
# - grid, gridw, gridc, nats-server and release.json into /opt/grid/bin, with
#   links to the three programs in /usr/local/bin (grid finds the nats-server
#   beside it, and its permissions allow exactly /opt/grid/bin/nats-server);
# - /etc/grid/grid.yaml and /etc/grid/gridw.yaml from the examples, only where
#   no such file exists: an existing config is never overwritten (the examples
#   are also kept in /opt/grid/share);
# - the units grid.service and gridw.service into /etc/systemd/system;
# - the system user grid (the controller's), /var/lib/grid (its state) and
#   /opt/grid/rke2 (where the worker's rke2 installer may live).
# It enables and starts nothing: that is left to you (see the end).
#
# --prefix DIR   install under DIR instead of / (a test root, an image): no
#                user is created, no owner is changed, systemd is not told.
# --node-name    nats.name for a new gridw.yaml (default: this host's short name)
# --nats-url     nats.client.urls for a new gridw.yaml (default: nats://127.0.0.1:4222)
# --no-verify    skip checking the files against SHA256SUMS
set -eu

say() { printf '==> %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

PREFIX=/
NODE_NAME=
NATS_URL=
VERIFY=1
while [ $# -gt 0 ]; do
  case $1 in
  --prefix)
    [ $# -ge 2 ] || die "--prefix needs a directory"
    PREFIX=$2
    shift 2
    ;;
  --prefix=*)
    PREFIX=${1#--prefix=}
    shift
    ;;
  --node-name)
    [ $# -ge 2 ] || die "--node-name needs a name"
    NODE_NAME=$2
    shift 2
    ;;
  --node-name=*)
    NODE_NAME=${1#--node-name=}
    shift
    ;;
  --nats-url)
    [ $# -ge 2 ] || die "--nats-url needs a URL"
    NATS_URL=$2
    shift 2
    ;;
  --nats-url=*)
    NATS_URL=${1#--nats-url=}
    shift
    ;;
  --no-verify)
    VERIFY=0
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die "unknown argument: $1 (see --help)" ;;
  esac
done

SRC=$(cd "$(dirname "$0")" && pwd)
BINARIES="grid gridw gridc nats-server"
for f in $BINARIES release.json grid.yaml gridw.yaml grid.service gridw.service; do
  [ -f "$SRC/$f" ] || die "$SRC/$f is missing: is this an unpacked GRID release?"
done
VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$SRC/release.json" | head -n 1)

# ROOT is "" for a real install, else the absolute test root.
case $PREFIX in
"") die "--prefix needs a directory" ;;
/) ROOT= ;;
*)
  mkdir -p "$PREFIX"
  ROOT=$(cd "$PREFIX" && pwd)
  [ "$ROOT" = / ] && ROOT=
  ;;
esac
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "installing into / needs root (or use --prefix DIR)"
fi

if [ "$VERIFY" = 1 ]; then
  if [ ! -f "$SRC/SHA256SUMS" ]; then
    die "$SRC/SHA256SUMS is missing (--no-verify to install anyway)"
  elif command -v sha256sum >/dev/null 2>&1; then
    (cd "$SRC" && sha256sum --quiet --strict -c SHA256SUMS) ||
      die "the release files do not match SHA256SUMS"
    say "release files match SHA256SUMS"
  else
    warn "sha256sum not found: the release files are not verified"
  fi
fi

# --- the user -------------------------------------------------------------
if [ -z "$ROOT" ]; then
  if getent passwd grid >/dev/null 2>&1; then
    say "user grid exists"
  elif command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/grid --no-create-home \
      --shell /usr/sbin/nologin --comment "GRID controller" grid
    say "created system user grid"
  elif command -v adduser >/dev/null 2>&1; then
    adduser --system --group --home /var/lib/grid --no-create-home \
      --shell /usr/sbin/nologin grid
    say "created system user grid"
  else
    die "cannot create the user grid: neither useradd nor adduser is here"
  fi
  OWN_CONF="-o root -g grid"
  OWN_STATE="-o grid -g grid"
else
  say "--prefix $ROOT: not creating the user grid, not changing owners"
  OWN_CONF=
  OWN_STATE=
fi

# --- directories ----------------------------------------------------------
# OWN_* are unquoted on purpose: empty, or "-o USER -g GROUP".
# shellcheck disable=SC2086
{
  install -d -m 0755 "$ROOT/opt/grid/bin" "$ROOT/opt/grid/share" \
    "$ROOT/opt/grid/rke2" "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system"
  install -d -m 0750 $OWN_CONF "$ROOT/etc/grid"
  install -d -m 0750 $OWN_STATE "$ROOT/var/lib/grid"
}

# --- programs -------------------------------------------------------------
# Copy, then rename over the old file: a running binary is never rewritten.
put() { # put MODE SOURCE DEST
  install -m "$1" "$2" "$3.new.$$"
  mv -f "$3.new.$$" "$3"
}
for b in $BINARIES; do
  put 0755 "$SRC/$b" "$ROOT/opt/grid/bin/$b"
done
put 0644 "$SRC/release.json" "$ROOT/opt/grid/bin/release.json"
say "installed $BINARIES into $ROOT/opt/grid/bin"

# A link already there is replaced only if it is GRID's.
is_ours() { # is_ours LINK
  [ -L "$1" ] || return 1
  case $(readlink "$1") in */opt/grid/bin/*) return 0 ;; esac
  return 1
}
for b in grid gridw gridc; do
  link=$ROOT/usr/local/bin/$b
  if { [ ! -e "$link" ] && [ ! -L "$link" ]; } || is_ours "$link"; then
    ln -sfn "../../../opt/grid/bin/$b" "$link"
  else
    warn "kept $link: it is not GRID's link, so $b there is another program"
  fi
done
say "linked grid, gridw, gridc from $ROOT/usr/local/bin"

# --- configs: never overwritten -------------------------------------------
put 0644 "$SRC/grid.yaml" "$ROOT/opt/grid/share/grid.yaml"
put 0644 "$SRC/gridw.yaml" "$ROOT/opt/grid/share/gridw.yaml"
if [ -f "$SRC/nats-server.copyright" ]; then
  put 0644 "$SRC/nats-server.copyright" "$ROOT/opt/grid/share/nats-server.copyright"
fi

config() { # config NAME FILE
  dest=$ROOT/etc/grid/$1
  if [ -e "$dest" ] || [ -L "$dest" ]; then
    say "kept $dest (the new example is $ROOT/opt/grid/share/$1)"
    return
  fi
  # shellcheck disable=SC2086
  install -m 0640 $OWN_CONF "$2" "$dest.new.$$"
  mv "$dest.new.$$" "$dest"
  say "wrote $dest"
}

config grid.yaml "$SRC/grid.yaml"

if [ -z "$NODE_NAME" ]; then
  NODE_NAME=$(hostname -s 2>/dev/null || uname -n)
  NODE_NAME=${NODE_NAME%%.*}
fi
NODE_RE='^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63}){0,7}$'
if ! printf '%s\n' "$NODE_NAME" | grep -Eq "$NODE_RE"; then
  die "node name \"$NODE_NAME\" is not usable: letters, digits, '-', '_' and dotted labels (--node-name NAME)"
fi
# Checked here only for what would break the file; gridw checks the rest.
if [ -n "$NATS_URL" ] && ! printf '%s\n' "$NATS_URL" | grep -Eq '^[]A-Za-z0-9._@%:/,[-]+$'; then
  die "--nats-url \"$NATS_URL\" does not look like nats://host:4222"
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed -e "s|^  name: node-01\$|  name: $NODE_NAME|" "$SRC/gridw.yaml" >"$tmp"
if [ -n "$NATS_URL" ]; then
  sed -i -e "s|^    urls: nats://127.0.0.1:4222\$|    urls: \"$NATS_URL\"|" "$tmp"
fi
config gridw.yaml "$tmp"

# --- units ----------------------------------------------------------------
put 0644 "$SRC/grid.service" "$ROOT/etc/systemd/system/grid.service"
put 0644 "$SRC/gridw.service" "$ROOT/etc/systemd/system/gridw.service"
say "installed grid.service and gridw.service into $ROOT/etc/systemd/system"
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
fi

say "GRID $VERSION installed${ROOT:+ under $ROOT}. Next:"
cat <<EOF
  controller: edit /etc/grid/grid.yaml, then  systemctl enable --now grid
  worker:     edit /etc/grid/gridw.yaml, then  systemctl enable --now gridw
  versions:   grid --version
EOF
