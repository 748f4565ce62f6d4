#!/usr/bin/env bash
# Refreshes docs/screenshots/*.png: runs the portal's browser tests
# (tests/portal.rs, headless chromium), which save a picture of each main
# page when HOOKMESH_SCREENSHOTS names a directory: the endpoints, an
# endpoint, a delivery, a test event and its entry in the delivery log, the providers and Slack's settings
# form (1100 px), an event and a read-only provider form at 375 px, and
# the operator dashboard.
#
#   bash docs/screenshots.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash plugins/build.sh >/dev/null
HOOKMESH_SCREENSHOTS="$root/docs/screenshots" \
  cargo test -p hookmesh --test integration -- portal:: --test-threads 1
ls -1 docs/screenshots
