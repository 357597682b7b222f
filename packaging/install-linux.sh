#!/usr/bin/env bash
# Install a built bundle system-wide on Linux: /opt/fleet-console, a launcher on PATH,
# the desktop entry and its icon.  Usage: sudo packaging/install-linux.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
test -x dist/fleet-console/fleet-console || { echo "build first: make package" >&2; exit 1; }
rm -rf /opt/fleet-console
cp -a dist/fleet-console /opt/fleet-console
ln -sf /opt/fleet-console/fleet-console "$prefix/bin/fleet-console"
install -Dm644 packaging/fleet-console.desktop "$prefix/share/applications/fleet-console.desktop"
install -Dm644 resources/icons/fleet-console.svg \
    "$prefix/share/icons/hicolor/scalable/apps/fleet-console.svg"
echo "installed: run 'fleet-console' or pick Fleet Console from the desktop menu"
