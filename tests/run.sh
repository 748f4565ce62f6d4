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

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_ensure() {
  local missing=()
  for pkg in "$@"; do
    # Not `dpkg -s` alone: it succeeds for a removed package whose config
    # files are left ("deinstall ok config-files").
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The Redis store tests start their own redis-server processes (and
# redis-cli for clusters) from PATH, on free loopback ports: see
# tests/common/redis.rs. A system redis the package may start on 6379 is
# never used, and left alone.
apt_ensure redis-server redis-tools
# The README tour test (tests/day_one.rs) runs its curl commands, which use jq.
apt_ensure curl jq
# The portal tests (tests/portal.rs) drive a real headless browser over
# WebDriver: Debian's chromium and its chromedriver.
apt_ensure chromium chromium-driver

# The OpenAPI test checks /openapi.json with the reference validator.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || apt_ensure python3 python3-pip
  log "installing openapi-spec-validator (pip)"
  # A virtualenv refuses --user; Debian's own python wants the last flag.
  python3 -m pip install --quiet openapi-spec-validator 2>/dev/null \
    || python3 -m pip install --quiet --user openapi-spec-validator 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages openapi-spec-validator
fi

# The contract test (tests/api_contract.rs) runs schemathesis against the
# host; a pinned major version, as its config's keys are version 4's.
if ! python3 -c 'import schemathesis, sys; sys.exit(not schemathesis.__version__.startswith("4."))' 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || apt_ensure python3 python3-pip
  log "installing schemathesis (pip)"
  python3 -m pip install --quiet 'schemathesis>=4,<5' 2>/dev/null \
    || python3 -m pip install --quiet --user 'schemathesis>=4,<5' 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages 'schemathesis>=4,<5'
fi

# The inbound-source tests sign webhooks with the providers' own libraries:
# Stripe's Python library (its test-header helper) …
if ! python3 -c 'import stripe; stripe.WebhookSignature.generate_signature_header' 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || apt_ensure python3 python3-pip
  log "installing stripe (pip)"
  python3 -m pip install --quiet --upgrade stripe 2>/dev/null \
    || python3 -m pip install --quiet --upgrade --user stripe 2>/dev/null \
    || python3 -m pip install --quiet --upgrade --user --break-system-packages stripe
fi
# … and GitHub's @octokit/webhooks-methods (npm), into tests/node/node_modules
# from the committed lock file.
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
if [ ! -d tests/node/node_modules/@octokit/webhooks-methods ]; then
  log "installing tests/node (npm ci)"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

# A clean clone gains nothing from incremental compilation; it only costs
# disk (1.4 GB of the test build) and time.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
  log "disk free before the build: $(df -h --output=avail . | tail -1 | tr -d ' ')"
fi

bash plugins/build.sh
log "cargo test"
# Every crate: the host (unit + tests/*.rs), the SDK, and the plugins'
# native unit tests (signature vectors, limits, templates).
cargo test --workspace "$@"
