#!/usr/bin/env bash
# Runs hookmesh on a fresh machine with config/hookmesh.toml (embedded store
# in ./data, plugins from target/plugins): installs what is missing, builds
# the plugins, then starts the server in release mode.
#
# The admin token and the master key (which seals endpoint secrets) come from
# HOOKMESH_ADMIN_TOKEN and HOOKMESH_MASTER_KEY; when unset, they are made
# once and kept in data/admin-token and data/master-key (mode 600).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash plugins/build.sh

# Reads $1 from the environment, or from data/$2 (made once with $3).
keep_secret() {
  local var="$1" file="data/$2" make="$3"
  if [ -z "${!var:-}" ]; then
    mkdir -p data
    if [ ! -s "$file" ]; then
      (umask 077; eval "$make" > "$file")
      printf '[run] %s written to %s\n' "$var" "$file" >&2
    fi
    export "$var=$(cat "$file")"
  fi
}
keep_secret HOOKMESH_ADMIN_TOKEN admin-token "od -An -tx1 -N24 /dev/urandom | tr -d ' \\n'"
keep_secret HOOKMESH_MASTER_KEY master-key "head -c32 /dev/urandom | base64"
exec cargo run --release --quiet -p hookmesh -- serve --config config/hookmesh.toml "$@"
