#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing,
# builds the plugins from source, then runs every Rust test.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh -p hookmesh-sdk   # extra args go to `cargo test`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '\033[1m[tests]\033[0m %s\n' "$*" >&2; }

bash plugins/build.sh
log "cargo test"
# Every crate: the host (unit + tests/*.rs), the SDK, and the plugins'
# native unit tests (signature vectors, limits, templates).
cargo test --workspace "$@"
