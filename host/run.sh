#!/usr/bin/env bash
# Runs hookmesh on a fresh machine with config/hookmesh.toml (embedded store
# in ./data, plugins from target/plugins): installs what is missing, builds
# the plugins, then starts the server in release mode.
#
# The admin token comes from HOOKMESH_ADMIN_TOKEN; when unset, one is made
# and kept in data/admin-token (mode 600) so it stays the same across runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash plugins/build.sh
if [ -z "${HOOKMESH_ADMIN_TOKEN:-}" ]; then
  mkdir -p data
  if [ ! -s data/admin-token ]; then
    (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > data/admin-token)
    printf '[run] admin token written to data/admin-token\n' >&2
  fi
  HOOKMESH_ADMIN_TOKEN="$(cat data/admin-token)"
  export HOOKMESH_ADMIN_TOKEN
fi
exec cargo run --release --quiet -p hookmesh -- serve --config config/hookmesh.toml "$@"
